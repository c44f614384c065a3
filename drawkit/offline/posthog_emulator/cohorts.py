"""Cohort routes: list, create (dynamic or static), get, update, soft delete, persons.

A new (or re-filtered) cohort is ``is_calculating`` for ``calculation_seconds``; the first
read after that computes its members (a snapshot of the store at that moment), sets
``count`` and ``last_calculation``, and clears ``is_calculating``. Static cohorts take
members from ``_create_static_person_ids`` (person UUIDs or distinct ids), a multipart
``csv`` upload (column ``person_id``, ``distinct_id`` or ``email``; a single headerless
column is read as distinct ids), a HogQL ``query`` whose first column is a person UUID or
distinct id, and later ``add_persons_to_static_cohort``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from drawkit.offline.posthog_emulator.filters import FilterError, evaluate, validate_group
from drawkit.offline.posthog_emulator.hogql import HogQLError, run_query
from drawkit.offline.posthog_emulator.protocol import (
    ApiError,
    Request,
    not_found,
    paginate,
    validation_error,
)
from drawkit.offline.posthog_emulator.store import iso, utcnow

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.server import EmulatorServer

Response = tuple[int, Any, dict[str, str]]
PROJECT = r"^/api/(?:projects|environments)/(?P<project_id>[^/]+)"
COHORT = PROJECT + r"/cohorts/(?P<cohort_id>[^/]+)"
WRITABLE = ("name", "description", "filters", "query", "is_static", "deleted", "groups")
CREATED_BY = {
    "id": 1,
    "uuid": "0190f000-0000-7000-8000-0000000000aa",
    "distinct_id": "drawkit-emulator-user",
    "first_name": "Emulator",
    "email": "emulator@localhost",
}


def _public(cohort: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cohort.items() if not k.startswith("_")}


def _refresh(emulator: EmulatorServer, cohort: dict[str, Any]) -> dict[str, Any]:
    """Finish a due calculation (lazily, on read)."""
    if cohort["is_calculating"] and time.monotonic() >= cohort["_ready_at"]:
        try:
            members = _compute(emulator, cohort)
        except (FilterError, HogQLError) as exc:
            cohort["errors_calculating"] += 1
            cohort["last_error_message"] = str(exc)
        else:
            cohort["_members"] = members
            cohort["count"] = len(members)
            cohort["last_error_message"] = None
        cohort["is_calculating"] = False
        cohort["last_calculation"] = iso(utcnow())
        cohort["version"] = (cohort["version"] or 0) + 1
        cohort["pending_version"] = cohort["version"]
    return cohort


def _compute(emulator: EmulatorServer, cohort: dict[str, Any]) -> list[str]:
    store = emulator.store
    if cohort["is_static"]:
        ids = set(cohort["_members"]) | set(cohort.pop("_incoming", []))
    else:
        group = (cohort.get("filters") or {}).get("properties") or {"type": "AND", "values": []}

        def members(cohort_id: int) -> list[str]:
            other = store.cohorts.get(cohort_id)
            if other is None or other is cohort:
                raise FilterError(f"cohort {cohort_id} does not exist", "filters")
            return _refresh(emulator, other)["_members"]

        ids = evaluate(store, group, members)
    by_id = store.persons_by_id
    return sorted((i for i in ids if i in by_id), key=lambda i: by_id[i].seq)


def _get(emulator: EmulatorServer, request: Request) -> dict[str, Any]:
    raw = request.params["cohort_id"]
    cohort = emulator.store.cohorts.get(int(raw)) if raw.isdigit() else None
    if cohort is None or cohort["deleted"]:
        raise not_found()
    return _refresh(emulator, cohort)


# --------------------------------------------------------------------------- body parsing


def _form_body(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """A multipart body's fields (JSON-decoded where they look like JSON) and ``csv`` file."""
    content_type = request.headers.get("Content-Type") or ""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    fields: dict[str, Any] = {}
    upload = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "csv" or part.get_filename():
            upload = payload
        elif name:
            text = payload.decode("utf-8", "replace")
            try:
                fields[name] = json.loads(text)
            except ValueError:
                fields[name] = text
    return fields, upload


def _body(request: Request) -> tuple[dict[str, Any], bytes | None]:
    if "multipart/form-data" in (request.headers.get("Content-Type") or ""):
        return _form_body(request)
    body = request.json()
    if not isinstance(body, Mapping):
        raise validation_error("Expected a JSON object.", None, "invalid_input")
    return dict(body), None


def _csv_ids(emulator: EmulatorServer, data: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", "replace"))))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise validation_error("The CSV file is empty.", "csv")
    header = [h.strip().lower().replace("-", "_").replace(" ", "_") for h in rows[0]]
    for column in ("person_id", "distinct_id", "email"):
        if column in header:
            k = header.index(column)
            values = [r[k].strip() for r in rows[1:] if len(r) > k and r[k].strip()]
            return _resolve(emulator, values, by_email=column == "email")
    if len(header) == 1:
        return _resolve(emulator, [r[0].strip() for r in rows])
    raise validation_error(
        "The CSV needs a column person_id, distinct_id or email (or a single column of "
        "distinct ids).",
        "csv",
    )


def _resolve(emulator: EmulatorServer, values: list[Any], by_email: bool = False) -> list[str]:
    """Person UUIDs for values that are person UUIDs, distinct ids (or emails); unknown skipped."""
    store = emulator.store
    if by_email:
        wanted = set(values)
        return [p.id for p in store.persons.values() if p.properties.get("email") in wanted]
    ids = []
    for value in values:
        person = store.person_by_id(str(value))
        if person is not None:
            ids.append(person.id)
    return ids


def _query_ids(emulator: EmulatorServer, query: Any) -> list[str]:
    if not isinstance(query, Mapping) or query.get("kind") != "HogQLQuery":
        raise validation_error("A static cohort's query must be a HogQLQuery.", "query")
    if not isinstance(query.get("values") or {}, Mapping):
        raise validation_error("query.values must be an object.", "query")
    try:
        result = run_query(emulator.store, str(query.get("query", "")), query.get("values"))
    except HogQLError as exc:
        raise validation_error(str(exc), "query", exc.code) from exc
    return _resolve(emulator, [row[0] for row in result["results"] if row])


def _validate(fields: Mapping[str, Any], is_static: bool) -> None:
    for flag in ("is_static", "deleted"):
        if flag in fields and not isinstance(fields[flag], bool):
            if str(fields[flag]).lower() not in ("true", "false"):  # form fields are text
                raise validation_error("Must be a valid boolean.", flag)
    if "name" in fields and fields["name"] is not None and not isinstance(fields["name"], str):
        raise validation_error("Not a valid string.", "name")
    if "name" in fields and isinstance(fields["name"], str) and len(fields["name"]) > 400:
        raise validation_error("Ensure this field has no more than 400 characters.", "name")
    query = fields.get("query")
    if query is not None and not isinstance(query, Mapping):
        raise validation_error("query must be an object such as a HogQLQuery.", "query")
    if not isinstance(fields.get("description", ""), str):
        raise validation_error("Not a valid string.", "description")
    if not isinstance(fields.get("groups", []), list):
        raise validation_error("groups must be a list.", "groups")
    ids = fields.get("_create_static_person_ids")
    if ids is not None and not isinstance(ids, list):
        kind = type(ids).__name__
        raise validation_error(
            f'Expected a list of items but got type "{kind}".', "_create_static_person_ids"
        )
    filters = fields.get("filters")
    if filters is None:
        if not is_static and not fields.get("groups") and "filters" in fields:
            raise validation_error("A dynamic cohort needs filters.", "filters")
        return
    if not isinstance(filters, Mapping) or "properties" not in filters:
        raise validation_error("filters must be an object with 'properties'.", "filters")
    try:
        validate_group(filters["properties"], "filters")
    except FilterError as exc:
        raise validation_error(str(exc), exc.attr) from exc


# --------------------------------------------------------------------------- handlers


def list_cohorts(emulator: EmulatorServer, request: Request) -> Response:
    """GET .../cohorts/ (newest first; ``search`` matches the name)."""
    search = (request.query.get("search") or "").lower()
    with emulator.store.lock:
        items = [
            _public(_refresh(emulator, c))
            for c in sorted(emulator.store.cohorts.values(), key=lambda c: -c["id"])
            if not c["deleted"] and search in (c["name"] or "").lower()
        ]
    return 200, paginate(request, items), {}


def create_cohort(emulator: EmulatorServer, request: Request) -> Response:
    """POST .../cohorts/ (JSON or multipart with a ``csv`` file) → 201."""
    fields, upload = _body(request)
    is_static = _as_bool(fields.get("is_static")) or upload is not None
    _validate(fields, is_static)
    if not is_static and not fields.get("filters") and not fields.get("groups"):
        raise validation_error("A dynamic cohort needs filters.", "filters")
    store = emulator.store
    with store.lock:
        incoming: list[str] = []
        if is_static:
            incoming += _resolve(emulator, list(fields.get("_create_static_person_ids") or []))
            if upload is not None:
                incoming += _csv_ids(emulator, upload)
            if fields.get("query"):
                incoming += _query_ids(emulator, fields["query"])
        cohort_id = max(store.cohorts, default=0) + 1
        cohort = {
            "id": cohort_id,
            "name": fields.get("name"),
            "description": fields.get("description") or "",
            "groups": fields.get("groups") or [],
            "deleted": False,
            "filters": fields.get("filters"),
            "query": fields.get("query"),
            "version": None,
            "pending_version": 0,
            "is_calculating": True,
            "created_by": CREATED_BY,
            "created_at": iso(utcnow()),
            "last_calculation": None,
            "errors_calculating": 0,
            "last_error_message": None,
            "count": None,
            "is_static": is_static,
            "cohort_type": "static" if is_static else _cohort_type(fields.get("filters")),
            "experiment_set": [],
            "_members": [],
            "_incoming": incoming,
            "_ready_at": time.monotonic() + emulator.calculation_seconds,
        }
        store.cohorts[cohort_id] = cohort
        _refresh(emulator, cohort)
    return 201, _public(cohort), {}


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _cohort_type(filters: Any) -> str:
    text = json.dumps(filters or {})
    return "behavioral" if '"behavioral"' in text else "person_property"


def get_cohort(emulator: EmulatorServer, request: Request) -> Response:
    """GET .../cohorts/{id}/."""
    with emulator.store.lock:
        return 200, _public(_get(emulator, request)), {}


def update_cohort(emulator: EmulatorServer, request: Request) -> Response:
    """PATCH/PUT .../cohorts/{id}/ (``deleted: true`` soft-deletes; new filters recalculate)."""
    fields, upload = _body(request)
    with emulator.store.lock:
        cohort = _get(emulator, request)
        _validate({k: v for k, v in fields.items() if k != "filters" or v is not None},
                  cohort["is_static"])  # fmt: skip
        static = _as_bool(fields.get("is_static", cohort["is_static"]))
        incoming = None  # new static members, worked out before anything changes
        if upload is not None:
            incoming = _csv_ids(emulator, upload)
        elif static and fields.get("query"):
            incoming = _query_ids(emulator, fields["query"])
        for key in WRITABLE:
            if key in fields:
                value = fields[key]
                cohort[key] = _as_bool(value) if key in ("is_static", "deleted") else value
        if "filters" in fields or incoming is not None:
            cohort["_incoming"] = incoming or []
            cohort["is_calculating"] = True
            cohort["_ready_at"] = time.monotonic() + emulator.calculation_seconds
            _refresh(emulator, cohort)
    return 200, _public(cohort), {}


def delete_cohort(emulator: EmulatorServer, request: Request) -> Response:
    """DELETE is not allowed on cohorts (405); soft-delete with PATCH {"deleted": true}."""
    raise ApiError(405, "invalid_request", "method_not_allowed", 'Method "DELETE" not allowed.')


def cohort_persons(emulator: EmulatorServer, request: Request) -> Response:
    """GET .../cohorts/{id}/persons/ → {results, next, previous} (no count)."""
    if request.query.get("format") == "csv":
        raise validation_error("format=csv is not supported by the emulator", "format")
    with emulator.store.lock:
        cohort = _get(emulator, request)
        by_id = emulator.store.persons_by_id
        people = [by_id[i] for i in cohort["_members"] if i in by_id]
        page = paginate(request, people, count=False)
        page["results"] = [
            {**p.to_api(), "type": "person", "matched_recordings": [], "value_at_data_point": None}
            for p in page["results"]
        ]
    return 200, page, {}


def _static(emulator: EmulatorServer, request: Request) -> dict[str, Any]:
    cohort = _get(emulator, request)
    if not cohort["is_static"]:
        raise validation_error("Can only add or remove persons on a static cohort.", "is_static")
    return cohort


def add_persons(emulator: EmulatorServer, request: Request) -> Response:
    """PATCH .../cohorts/{id}/add_persons_to_static_cohort/ {"person_ids": [uuid, ...]}."""
    body = request.json()
    ids = body.get("person_ids") if isinstance(body, Mapping) else None
    if not isinstance(ids, list) or not ids:
        raise validation_error("person_ids must be a non-empty list.", "person_ids", "required")
    with emulator.store.lock:
        cohort = _static(emulator, request)
        known = emulator.store.persons_by_id
        unknown = [i for i in ids if str(i) not in known]
        if unknown:
            raise validation_error(f"{len(unknown)} person id(s) not found.", "person_ids")
        members = list(dict.fromkeys([*cohort["_members"], *map(str, ids)]))
        cohort["_members"] = sorted(members, key=lambda i: known[i].seq)
        cohort["count"] = len(members)
    return 200, {"success": True}, {}


def remove_person(emulator: EmulatorServer, request: Request) -> Response:
    """PATCH .../cohorts/{id}/remove_person_from_static_cohort/ {"person_id": uuid}."""
    body = request.json()
    person_id = body.get("person_id") if isinstance(body, Mapping) else None
    if not person_id:
        raise validation_error("person_id is required.", "person_id", "required")
    with emulator.store.lock:
        cohort = _static(emulator, request)
        if str(person_id) not in cohort["_members"]:
            raise not_found("Person is not in this cohort.")
        cohort["_members"].remove(str(person_id))
        cohort["count"] = len(cohort["_members"])
    return 200, {"success": True}, {}


def routes(route: Callable[..., tuple]) -> list[tuple]:
    """The cohort routes, built with the caller's ``route`` helper."""
    return [
        route("GET", PROJECT + r"/cohorts/?$", list_cohorts, "cohort:read"),
        route("POST", PROJECT + r"/cohorts/?$", create_cohort, "cohort:write"),
        route("GET", COHORT + r"/?$", get_cohort, "cohort:read"),
        route("PATCH", COHORT + r"/?$", update_cohort, "cohort:write"),
        route("PUT", COHORT + r"/?$", update_cohort, "cohort:write"),
        route("DELETE", COHORT + r"/?$", delete_cohort, "cohort:write"),
        route("GET", COHORT + r"/persons/?$", cohort_persons, "cohort:read", "person:read"),
        route("PATCH", COHORT + r"/add_persons_to_static_cohort/?$", add_persons, "cohort:write"),
        route(
            "PATCH", COHORT + r"/remove_person_from_static_cohort/?$", remove_person,
            "cohort:write",
        ),  # fmt: skip
    ]
