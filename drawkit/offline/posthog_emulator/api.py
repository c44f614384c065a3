"""Route handlers: capture, project/user, persons, query and the admin endpoints.

Each handler takes ``(emulator, request)`` and returns ``(status, body, headers)`` or
raises :class:`~drawkit.offline.posthog_emulator.protocol.ApiError`. Cohort routes live in
:mod:`drawkit.offline.posthog_emulator.cohorts`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from drawkit.offline.posthog_emulator import cohorts
from drawkit.offline.posthog_emulator.filters import FilterError, match_property, validate_property
from drawkit.offline.posthog_emulator.hogql import HogQLError, run_query
from drawkit.offline.posthog_emulator.protocol import (
    ApiError,
    Request,
    not_found,
    paginate,
    validation_error,
)
from drawkit.offline.posthog_emulator.store import CaptureError

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.server import EmulatorServer

Response = tuple[int, Any, dict[str, str]]
CONFIG_FIELDS = {"scopes", "calculation_seconds", "hogql_rate_limit"}
PROJECT = r"^/api/(?:projects|environments)/(?P<project_id>[^/]+)"
BAD_PROJECT_KEY_MESSAGE = (
    "Project API key invalid. You can find your project API key in PostHog project settings."
)


# --------------------------------------------------------------------------- capture


def _capture_events(body: Any) -> tuple[list[Mapping[str, Any]], set[str]]:
    """Events and the tokens they carry, from any of the three accepted body shapes."""
    if isinstance(body, list):
        events, tokens = body, set()
    elif isinstance(body, Mapping) and "batch" in body:
        events = body["batch"]
        tokens = {body.get("api_key") or body.get("token") or ""} - {""}
        if not isinstance(events, list):
            raise validation_error("'batch' must be a list of events", "batch", "invalid_payload")
    elif isinstance(body, Mapping):
        events, tokens = [body], set()
    else:
        raise validation_error("the body must be a JSON object or array", None, "invalid_payload")
    for event in events:
        if isinstance(event, Mapping):
            props = event.get("properties") if isinstance(event.get("properties"), Mapping) else {}
            token = event.get("api_key") or event.get("token") or event.get("$token")
            token = token or props.get("token")
            if token:
                tokens.add(str(token))
    return events, tokens


def _capture_body(request: Request) -> Any:
    body = request.body
    content_type = request.headers.get("Content-Type") or ""
    if "application/x-www-form-urlencoded" in content_type or body.startswith(b"data="):
        form = parse_qs(body.decode("utf-8", "replace"))
        data = (form.get("data") or [""])[0]
        try:
            body = base64.b64decode(data, validate=True)
        except ValueError:
            body = data.encode("utf-8")
    try:
        return json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation_error(f"failed to decode request: {exc}", None, "invalid_payload") from exc


def capture(emulator: EmulatorServer, request: Request) -> Response:
    """POST /batch/, /i/v0/e/, /capture/ ... : store events; ``{"status": 1}``."""
    if request.method == "GET" and not request.body:
        return 200, {"status": 1}, {}
    limit = 20 * 1024 * 1024 if request.path.startswith("/batch") else 2 * 1024 * 1024
    if len(request.body) > limit:
        raise validation_error("Event too big", None, "event_too_big")
    body = _capture_body(request)
    if body is None:
        raise validation_error("request holds no event", None, "empty_payload")
    events, tokens = _capture_events(body)
    if not tokens:
        raise ApiError(
            401, "authentication_error", "missing_api_key",
            "API key not provided. You can find your project API key in PostHog project "
            "settings.",
        )  # fmt: skip
    if len(tokens) > 1:
        raise ApiError(401, "authentication_error", "invalid_api_key", "Multiple tokens sent")
    if tokens.pop() != emulator.project_api_key:
        raise ApiError(401, "authentication_error", "invalid_api_key", BAD_PROJECT_KEY_MESSAGE)
    try:
        emulator.store.capture(events)
    except CaptureError as exc:
        raise validation_error(str(exc), None, "invalid_payload") from exc
    return 200, {"status": 1}, {}


# --------------------------------------------------------------------------- project, user


def project_info(emulator: EmulatorServer) -> dict[str, Any]:
    """The project object (a subset of PostHog's fields)."""
    return {
        "id": int(emulator.project_id) if emulator.project_id.isdigit() else emulator.project_id,
        "uuid": "0190f000-0000-7000-8000-000000000001",
        "organization": "0190f000-0000-7000-8000-000000000000",
        "api_token": emulator.project_api_key,
        "name": "drawkit emulator",
        "timezone": "UTC",
        "completed_snippet_onboarding": True,
        "ingested_event": True,
        "is_demo": False,
    }


def get_project(emulator: EmulatorServer, request: Request) -> Response:
    """GET /api/projects/{id}/."""
    return 200, project_info(emulator), {}


def list_projects(emulator: EmulatorServer, request: Request) -> Response:
    """GET /api/projects/."""
    return 200, paginate(request, [project_info(emulator)]), {}


def get_me(emulator: EmulatorServer, request: Request) -> Response:
    """GET /api/users/@me/."""
    return (
        200,
        {
            "uuid": "0190f000-0000-7000-8000-0000000000aa",
            "distinct_id": "drawkit-emulator-user",
            "first_name": "Emulator",
            "email": "emulator@localhost",
            "team": {"id": project_info(emulator)["id"], "name": "drawkit emulator"},
            "organization": {"id": "0190f000-0000-7000-8000-000000000000", "name": "drawkit"},
            "scopes": sorted(emulator.scopes),
        },
        {},
    )


# --------------------------------------------------------------------------- persons


def _properties_param(request: Request) -> list[Mapping[str, Any]]:
    raw = request.query.get("properties")
    if not raw:
        return []
    try:
        filters = json.loads(raw)
    except ValueError as exc:
        raise validation_error("'properties' must be a JSON list of filters", "properties") from exc
    if isinstance(filters, Mapping):  # {"type": "AND", "values": [...]} is accepted too
        filters = filters.get("values", [])
    if not isinstance(filters, list):
        raise validation_error("'properties' must be a JSON list of filters", "properties")
    try:
        for item in filters:
            validate_property(item, "properties")
    except FilterError as exc:
        raise validation_error(str(exc), "properties") from exc
    return filters


def list_persons(emulator: EmulatorServer, request: Request) -> Response:
    """GET /api/projects/{id}/persons/ with distinct_id, email, search, properties filters."""
    filters = _properties_param(request)
    distinct_id = request.query.get("distinct_id")
    email = request.query.get("email")
    search = (request.query.get("search") or "").strip()
    store = emulator.store
    with store.lock:
        if distinct_id is not None:
            person = store.persons.get(distinct_id)
            people = [person] if person else []
        else:
            people = list(store.persons.values())
        if email:
            people = [p for p in people if p.properties.get("email") == email]
        if search:
            needle = search.lower()
            people = [
                p for p in people
                if p.distinct_id == search or needle in str(p.properties.get("email", "")).lower()
            ]  # fmt: skip
        if filters:
            people = [p for p in people if all(match_property(p.properties, f) for f in filters)]
        people.sort(key=lambda p: p.seq, reverse=True)  # newest first, as the docs' example
        page = paginate(request, people)
        page["results"] = [p.to_api() for p in page["results"]]
    return 200, page, {}


def get_person(emulator: EmulatorServer, request: Request) -> Response:
    """GET /api/projects/{id}/persons/{uuid}/."""
    with emulator.store.lock:
        person = emulator.store.person_by_id(request.params["person_id"])
        if person is None:
            raise not_found()
        return 200, person.to_api(), {}


# --------------------------------------------------------------------------- query


def query(emulator: EmulatorServer, request: Request) -> Response:
    """POST /api/projects/{id}/query/ with a HogQLQuery."""
    body = request.json()
    node = body.get("query") if isinstance(body, Mapping) else None
    if not isinstance(node, Mapping):
        raise validation_error("'query' is required and must be an object", "query", "required")
    if node.get("kind") != "HogQLQuery":
        raise validation_error(
            f"Query kind {node.get('kind')!r} is not supported by the emulator (use HogQLQuery)",
            "query",
        )
    text = node.get("query")
    if not isinstance(text, str) or not text.strip():
        raise validation_error("'query.query' must be a HogQL string", "query", "required")
    wait = emulator.allow_query()
    if wait is not None:
        seconds = max(1, int(wait + 0.999))
        raise ApiError(
            429, "throttled_error", "throttled",
            f"Request was throttled. Expected available in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )  # fmt: skip
    values = node.get("values") or {}
    if not isinstance(values, Mapping):
        raise validation_error("'query.values' must be an object", "query")
    try:
        result = run_query(emulator.store, text, values)
    except HogQLError as exc:
        raise validation_error(str(exc), None, exc.code) from exc
    if body.get("client_query_id"):
        result["client_query_id"] = body["client_query_id"]
    return 200, result, {}


# --------------------------------------------------------------------------- admin


def admin(emulator: EmulatorServer, request: Request) -> Response:
    """Loopback-only control: GET/POST /_emulator/faults, POST /_emulator/faults/reset,
    GET /_emulator/requests, GET /_emulator/stats, GET/POST /_emulator/config (scopes,
    calculation_seconds, hogql_rate_limit), POST /_emulator/reset (drop all data)."""
    path = request.path.rstrip("/")
    if path == "/_emulator/faults" and request.method == "GET":
        return 200, emulator.faults.to_dict(), {}
    if path == "/_emulator/faults" and request.method in ("POST", "PATCH"):
        body = request.json()
        if not isinstance(body, Mapping):
            raise validation_error("send a JSON object of fault switches")
        try:
            emulator.faults.update(**body)
        except (TypeError, ValueError) as exc:
            raise validation_error(str(exc)) from exc
        return 200, emulator.faults.to_dict(), {}
    if path == "/_emulator/faults/reset" and request.method == "POST":
        emulator.faults.reset()
        return 200, emulator.faults.to_dict(), {}
    if path == "/_emulator/requests" and request.method == "GET":
        return 200, {"results": list(emulator.request_log)}, {}
    if path == "/_emulator/requests" and request.method == "DELETE":
        emulator.request_log.clear()
        return 204, None, {}
    if path == "/_emulator/config":
        return _admin_config(emulator, request)
    if path == "/_emulator/reset" and request.method == "POST":
        emulator.store.clear()
        return 200, {"events": 0, "persons": 0, "cohorts": 0}, {}
    if path == "/_emulator/stats" and request.method == "GET":
        store = emulator.store
        return (
            200,
            {
                "events": store.event_count(),
                "persons": len(store.persons),
                "cohorts": len(store.cohorts),
                "duplicates_dropped": store.duplicates_dropped,
            },
            {},
        )
    raise not_found()


def _admin_config(emulator: EmulatorServer, request: Request) -> Response:
    if request.method == "POST":
        body = request.json()
        if not isinstance(body, Mapping) or set(body) - CONFIG_FIELDS:
            raise validation_error(f"send a JSON object with {', '.join(sorted(CONFIG_FIELDS))}")
        try:
            if "scopes" in body:
                if not isinstance(body["scopes"], list):
                    raise ValueError("scopes must be a list of strings")
                emulator.scopes = {str(s) for s in body["scopes"]}
            if "calculation_seconds" in body:
                emulator.calculation_seconds = max(0.0, float(body["calculation_seconds"]))
            if "hogql_rate_limit" in body:
                limit = body["hogql_rate_limit"]
                emulator.hogql_rate_limit = None if limit is None else int(limit)
        except (TypeError, ValueError) as exc:
            raise validation_error(str(exc)) from exc
    elif request.method != "GET":
        raise not_found()
    return (
        200,
        {
            "scopes": sorted(emulator.scopes),
            "calculation_seconds": emulator.calculation_seconds,
            "hogql_rate_limit": emulator.hogql_rate_limit,
        },
        {},
    )


def _route(method: str, pattern: str, handler: Callable[..., Response], *scopes: str) -> tuple:
    return (method, re.compile(pattern), handler, scopes)


ROUTES = [
    _route("GET", r"^/api/projects/?$", list_projects, "project:read"),
    _route("GET", PROJECT + r"/?$", get_project, "project:read"),
    _route("GET", r"^/api/users/@me/?$", get_me, "user:read"),
    _route("GET", PROJECT + r"/persons/?$", list_persons, "person:read"),
    _route("GET", PROJECT + r"/persons/(?P<person_id>[^/]+)/?$", get_person, "person:read"),
    _route("POST", PROJECT + r"/query/?$", query, "query:read"),
    *cohorts.routes(_route),
]
