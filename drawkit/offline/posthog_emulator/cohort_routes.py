"""Cohort routes (``/api/projects/{id}/cohorts/…``): list, create, get, update, soft delete,
persons, static add/remove. Behaviour as ``posthog/api/cohort.py`` (``CohortSerializer``,
``CohortViewSet``).

A new or re-filtered cohort is ``is_calculating`` while a background calculation runs for
``cohort_calculation_seconds`` (PostHog: a Celery task, minutes); the members are a snapshot
taken when it finishes. With ``cohort_limits`` (cloud): a dynamic cohort with a ``query`` is
refused, a static cohort can be filled from a ``HogQLQuery`` (``insert_cohort_from_query``,
asynchronous), ``add_persons_to_static_cohort`` takes at most 1,000 ids
(``DEFAULT_COHORT_INSERT_BATCH_SIZE``), and the persons list gives persons newest first
(``created_at DESC, id DESC``) with at most 10 distinct ids each, newest first
(``get_serialized_people(..., distinct_id_limit=10)``).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from drawkit.offline.posthog_emulator.cohort_filters import (
    FilterError,
    evaluate,
    normalise,
    validate_group,
)
from drawkit.offline.posthog_emulator.engine import EngineError
from drawkit.offline.posthog_emulator.hogql.errors import HogQLError
from drawkit.offline.posthog_emulator.hogql.parser import parse_select
from drawkit.offline.posthog_emulator.hogql.runner import QueryTimeout, run_hogql
from drawkit.offline.posthog_emulator.protocol import (
    ApiError,
    Request,
    not_found,
    page_of,
    paginate,
    validation_error,
)
from drawkit.offline.posthog_emulator.store import iso

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.state import EmulatorState

Response = tuple[int, Any, dict[str, str]]
COHORT_INSERT_BATCH_SIZE = 1000
DISTINCT_ID_LIMIT = 10
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


# --------------------------------------------------------------------------- calculation


def _schedule(state: EmulatorState, cohort: dict[str, Any]) -> None:
    """Mark ``cohort`` calculating and finish the calculation in the background."""
    token = uuid.uuid4().hex
    cohort["is_calculating"] = True
    cohort["_calculation"] = token
    cohort["pending_version"] = (cohort["version"] or 0) + 1

    def finish() -> None:
        if state.store.closed:
            return
        with state.store.lock:
            current = state.store.cohorts.get(cohort["id"]) is cohort
            if current and cohort.get("_calculation") == token:
                _calculate(state, cohort)

    delay = state.behaviours.cohort_calculation_seconds
    timer = threading.Timer(delay, finish)
    timer.daemon = True
    timer.start()


def _calculate(state: EmulatorState, cohort: dict[str, Any]) -> None:
    try:
        members = _compute(state, cohort)
    except (FilterError, HogQLError, QueryTimeout, EngineError) as exc:
        if state.store.closed:
            return
        cohort["errors_calculating"] += 1
        cohort["last_error_message"] = str(exc)
    else:
        cohort["_members"] = members
        cohort["count"] = len(members)
        cohort["last_error_message"] = None
        cohort["errors_calculating"] = 0
    cohort["is_calculating"] = False
    cohort["_calculation"] = None
    cohort["last_calculation"] = iso(_now())
    cohort["version"] = cohort["pending_version"]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _compute(state: EmulatorState, cohort: dict[str, Any]) -> list[str]:
    store = state.store
    if cohort["is_static"]:
        ids = set(cohort["_members"]) | set(cohort.pop("_incoming", []))
        if cohort.get("_query") is not None:
            ids |= set(_query_ids(state, cohort.pop("_query")))
    else:
        group = (cohort.get("filters") or {}).get("properties") or {"type": "AND", "values": []}

        def members(cohort_id: int) -> list[str]:
            other = store.cohorts.get(cohort_id)
            if other is None or other is cohort:
                raise FilterError(f"cohort {cohort_id} does not exist", "filters")
            return other["_members"]

        ids = evaluate(store, group, members)
    by_id = store.persons_by_id
    return sorted((i for i in ids if i in by_id), key=lambda i: by_id[i].seq)


def _get(state: EmulatorState, request: Request) -> dict[str, Any]:
    raw = request.params["cohort_id"]
    cohort = state.store.cohorts.get(int(raw)) if raw.isdigit() else None
    if cohort is None or (cohort["deleted"] and not state.behaviours.cohort_limits):
        raise not_found()  # PostHog still reads a soft-deleted cohort; the ideal profile does not
    return cohort


# --------------------------------------------------------------------------- body parsing


def _form_body(request: Request) -> tuple[dict[str, Any], bytes | None]:
    """A multipart body's fields (JSON-decoded where they look like JSON) and ``csv`` file."""
    content_type = request.headers.get("Content-Type") or ""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    if not message.is_multipart():
        raise validation_error("Multipart form parse error - Invalid boundary in multipart")
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


def _csv_ids(state: EmulatorState, data: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", "replace"))))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise validation_error(
            "CSV file is empty. Please upload a CSV file with at least one row of data.", "csv"
        )
    header = [h.strip().lower().replace("-", "_").replace(" ", "_") for h in rows[0]]
    for column in ("person_id", "distinct_id", "email"):
        if column in header:
            k = header.index(column)
            values = [r[k].strip() for r in rows[1:] if len(r) > k and r[k].strip()]
            return _resolve(state, values, by_email=column == "email")
    if len(header) == 1:
        return _resolve(state, [r[0].strip() for r in rows])
    raise validation_error(
        "Multi-column CSV must contain at least one column with a supported ID header: "
        f"'person_id', 'distinct_id' or 'email'. Found columns: {', '.join(rows[0])}",
        "csv",
    )


def _resolve(state: EmulatorState, values: list[Any], by_email: bool = False) -> list[str]:
    """Person UUIDs for values that are person UUIDs, distinct ids (or emails); unknown skipped."""
    store = state.store
    store.sync()
    if by_email:
        wanted = set(values)
        return [p.id for p in store.persons_by_id.values() if p.properties.get("email") in wanted]
    ids = []
    for value in values:
        person = store.person_by_id(str(value))
        if person is not None:
            ids.append(person.id)
    return ids


def _query_ids(state: EmulatorState, query: Any) -> list[str]:
    if not isinstance(query, Mapping) or query.get("kind") != "HogQLQuery":
        raise HogQLError("A static cohort's query must be a HogQLQuery.")
    options = state.queries.options(query, unbounded=True)
    result = run_hogql(state.store, str(query.get("query", "")), query.get("values"), options)
    return _resolve(state, [row[0] for row in result["results"] if row])


def _validate(state: EmulatorState, fields: Mapping[str, Any], is_static: bool) -> None:
    for flag in ("is_static", "deleted"):
        if flag in fields and not isinstance(fields[flag], bool):
            if str(fields[flag]).lower() not in ("true", "false"):  # form fields are text
                raise validation_error("Must be a valid boolean.", flag)
    if "name" in fields and fields["name"] is not None and not isinstance(fields["name"], str):
        raise validation_error("Not a valid string.", "name")
    if "name" in fields and isinstance(fields["name"], str) and len(fields["name"]) > 400:
        raise validation_error("Ensure this field has no more than 400 characters.", "name")
    query = fields.get("query")
    if query is not None:
        if not isinstance(query, Mapping) or query.get("kind") != "HogQLQuery":
            raise validation_error("query must be a HogQLQuery.", "query")
        if not isinstance(query.get("values") or {}, Mapping):
            raise validation_error("query.values must be an object.", "query")
        try:
            parse_select(str(query.get("query") or ""))
        except HogQLError as exc:
            raise validation_error(str(exc), "query", exc.code) from exc
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
        return
    if not isinstance(filters, Mapping) or "properties" not in filters:
        raise validation_error("filters must be an object with 'properties'.", "filters")
    try:
        validate_group(filters["properties"], "filters")
    except FilterError as exc:
        raise validation_error(str(exc), exc.attr) from exc


def _stored_filters(state: EmulatorState, filters: Any) -> tuple[Any, str | None]:
    """Filters as stored (normalised in the cloud profile) and the cohort_type."""
    if filters is None:
        return None, None
    if not state.behaviours.normalise_cohort_filters:
        text = json.dumps(filters)
        return filters, "behavioral" if '"behavioral"' in text else "person_property"
    normalised, realtime = normalise(filters["properties"])
    return {"properties": normalised}, "realtime" if realtime else None


def _has_filter_values(filters: Any) -> bool:
    group = (filters or {}).get("properties") if isinstance(filters, Mapping) else None
    return bool(isinstance(group, Mapping) and group.get("values"))


# --------------------------------------------------------------------------- handlers


def list_cohorts(state: EmulatorState, request: Request) -> Response:
    """GET …/cohorts/ (newest first; ``search`` matches the name)."""
    search = (request.query.get("search") or "").lower()
    with state.store.lock:
        items = [
            _public(c)
            for c in sorted(state.store.cohorts.values(), key=lambda c: -c["id"])
            if not c["deleted"] and search in (c["name"] or "").lower()
        ]
    return 200, paginate(request, items), {}


def create_cohort(state: EmulatorState, request: Request) -> Response:  # noqa: C901
    """POST …/cohorts/ (JSON or multipart with a ``csv`` file) → 201."""
    fields, upload = _body(request)
    is_static = _as_bool(fields.get("is_static")) or upload is not None
    _validate(state, fields, is_static)
    limits = state.behaviours.cohort_limits
    has_filters = _has_filter_values(fields.get("filters"))
    if fields.get("query") and has_filters:
        raise validation_error("Cannot set both query and filters at the same time.")
    if not is_static and fields.get("query") and limits:
        raise validation_error(
            "Cannot create a dynamic cohort with a query. Set is_static to true."
        )
    if not is_static and not fields.get("filters") and not fields.get("groups"):
        raise validation_error("A dynamic cohort needs filters.", "filters")
    store = state.store
    with store.lock:
        filters, cohort_type = (fields.get("filters"), "static") if is_static else \
            _stored_filters(state, fields.get("filters"))  # fmt: skip
        cohort_id = max(store.cohorts, default=0) + 1
        cohort = {
            "id": cohort_id,
            "name": fields.get("name"),
            "description": fields.get("description") or "",
            "groups": fields.get("groups") or [],
            "deleted": False,
            "filters": filters,
            "query": fields.get("query"),
            "version": None,
            "pending_version": 0,
            "is_calculating": False,
            "created_by": CREATED_BY,
            "created_at": iso(_now()),
            "last_calculation": None,
            "last_backfill_person_properties_at": None,
            "errors_calculating": 0,
            "last_error_message": None,
            "count": None,
            "is_static": is_static,
            "cohort_type": cohort_type if not is_static else "static",
            "experiment_set": [],
            "_members": [],
            "_incoming": [],
            "_query": None,
            "_calculation": None,
        }
        asynchronous = True
        if is_static:
            ids = _resolve(state, list(fields.get("_create_static_person_ids") or []))
            if upload is not None:
                cohort["_incoming"] = _csv_ids(state, upload)
            if fields.get("query"):
                cohort["_query"] = fields["query"]
            if limits and upload is None and not fields.get("query"):
                asynchronous = False  # person ids are inserted in the request
            cohort["_members"] = sorted(set(ids), key=lambda i: store.persons_by_id[i].seq)
            cohort["count"] = len(cohort["_members"]) if not asynchronous else None
        store.cohorts[cohort_id] = cohort
        if asynchronous:
            _schedule(state, cohort)
        else:
            cohort["version"] = 1
            cohort["last_calculation"] = iso(_now())
    return 201, _public(cohort), {}


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def get_cohort(state: EmulatorState, request: Request) -> Response:
    """GET …/cohorts/{id}/ (soft-deleted cohorts are still readable)."""
    with state.store.lock:
        return 200, _public(_get(state, request)), {}


def update_cohort(state: EmulatorState, request: Request) -> Response:
    """PATCH/PUT …/cohorts/{id}/ (``deleted: true`` soft-deletes; new filters recalculate)."""
    fields, upload = _body(request)
    with state.store.lock:
        cohort = _get(state, request)
        _validate(state, {k: v for k, v in fields.items() if k != "filters" or v is not None},
                  cohort["is_static"])  # fmt: skip
        static = _as_bool(fields.get("is_static", cohort["is_static"]))
        if not static and fields.get("query") and state.behaviours.cohort_limits:
            raise validation_error("Cannot set a query on a dynamic cohort. Set is_static to true.")
        incoming = _csv_ids(state, upload) if upload is not None else None
        for key in WRITABLE:
            if key in fields:
                value = fields[key]
                cohort[key] = _as_bool(value) if key in ("is_static", "deleted") else value
        if "filters" in fields and not static:
            cohort["filters"], cohort["cohort_type"] = _stored_filters(state, fields["filters"])
        deletion = "deleted" in fields and len(fields) == 1
        if static and fields.get("query"):
            cohort["_query"] = fields["query"]
        if incoming is not None:
            cohort["_incoming"] = incoming
        if not deletion and ("filters" in fields or incoming is not None or
                             (static and fields.get("query"))):  # fmt: skip
            _schedule(state, cohort)
    return 200, _public(cohort), {}


def delete_cohort(state: EmulatorState, request: Request) -> Response:
    """DELETE is not allowed on cohorts (405); soft-delete with PATCH {"deleted": true}."""
    raise ApiError(405, "invalid_request", "method_not_allowed", 'Method "DELETE" not allowed.')


def cohort_persons(state: EmulatorState, request: Request) -> Response:
    """GET …/cohorts/{id}/persons/ → {results, next, previous} (no count)."""
    if request.query.get("format") == "csv":
        raise validation_error("format=csv is not supported by the emulator", "format")
    limits = state.behaviours.cohort_limits
    with state.store.lock:
        cohort = _get(state, request)
        by_id = state.store.persons_by_id
        people = [by_id[i] for i in cohort["_members"] if i in by_id]
        if limits:
            people.sort(key=lambda p: (p.created_at, p.id), reverse=True)
            page = page_of(request, people)
        else:
            page = paginate(request, people, count=False)
        limit = DISTINCT_ID_LIMIT if limits else None
        page["results"] = [
            {**p.to_api(limit), "type": "person", "matched_recordings": [],
             "value_at_data_point": None}
            for p in page["results"]
        ]  # fmt: skip
    return 200, page, {}


def _static(state: EmulatorState, request: Request, verb: str) -> dict[str, Any]:
    cohort = _get(state, request)
    if not cohort["is_static"]:
        raise validation_error(f"Can only {verb} users {'to' if verb == 'add' else 'from'} "
                               "static cohorts")  # fmt: skip
    return cohort


def add_persons(state: EmulatorState, request: Request) -> Response:
    """PATCH …/cohorts/{id}/add_persons_to_static_cohort/ {"person_ids": [uuid, ...]}."""
    body = request.json()
    ids = body.get("person_ids") if isinstance(body, Mapping) else None
    limits = state.behaviours.cohort_limits
    if not isinstance(ids, list):
        raise validation_error("person_ids must be a list", "person_ids")
    if not ids:
        raise validation_error("person_ids cannot be empty", "person_ids")
    if limits and len(ids) > COHORT_INSERT_BATCH_SIZE:
        raise validation_error("List size exceeds limit")
    with state.store.lock:
        state.store.sync()
        cohort = _static(state, request, "add")
        known = state.store.persons_by_id
        valid = [str(i) for i in ids if str(i) in known]
        if limits and not valid:
            raise validation_error("No valid users to add to cohort")
        if not limits and len(valid) < len(ids):
            raise validation_error(f"{len(ids) - len(valid)} person id(s) not found.", "person_ids")
        members = list(dict.fromkeys([*cohort["_members"], *valid]))
        cohort["_members"] = sorted(members, key=lambda i: known[i].seq)
        cohort["count"] = len(members)
    return 200, {"success": True}, {}


def remove_person(state: EmulatorState, request: Request) -> Response:
    """PATCH …/cohorts/{id}/remove_person_from_static_cohort/ {"person_id": uuid}."""
    body = request.json()
    person_id = body.get("person_id") if isinstance(body, Mapping) else None
    if not person_id:
        raise validation_error("person_id is required", "person_id", "required")
    with state.store.lock:
        cohort = _static(state, request, "remove")
        if state.behaviours.cohort_limits:
            try:
                uuid.UUID(str(person_id))
            except ValueError as exc:
                raise validation_error("person_id must be a valid UUID") from exc
            if state.store.person_by_id(str(person_id)) is None:
                raise not_found("Person with this UUID does not exist in the cohort's team")
        elif str(person_id) not in cohort["_members"]:
            raise not_found("Person is not in this cohort.")
        if str(person_id) in cohort["_members"]:
            cohort["_members"].remove(str(person_id))
        cohort["count"] = len(cohort["_members"])
    return 200, {"success": True}, {}
