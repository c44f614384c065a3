"""Which handler answers a path, and the checks before it: the personal API key, its scopes,
the project, the throttles.

Paths as PostHog routes them (``posthog/api/__init__.py``): the query endpoint is registered
with ``register_grandfathered_environment_nested_viewset`` (canonical under
``/api/environments/{id}/query/``, ``/api/projects/{id}/query/`` kept as the legacy alias), so
are persons; cohorts are registered on ``projects_router`` only, so with ``cloud_routing``
``/api/environments/{id}/cohorts/`` is a 404. DRF checks, in order: authentication,
permissions (scopes, project), throttles.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drawkit.offline.posthog_emulator import (
    capture_routes,
    cohort_routes,
    person_routes,
    query_routes,
)
from drawkit.offline.posthog_emulator.protocol import ApiError, Request, not_found
from drawkit.offline.posthog_emulator.throttles import (
    ADDON_SCOPES,
    CLICKHOUSE_SCOPES,
    DEFAULT_SCOPES,
    RATES,
    Throttled,
)

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.state import EmulatorState

Response = tuple[int, Any, dict[str, str]]
CAPTURE_PATHS = re.compile(r"^/(?:i/v0/e|e|capture|track|engage|batch)/?$")
PROJECT = r"^/api/(?P<family>projects|environments)/(?P<project_id>[^/]+)"


@dataclass(frozen=True)
class Route:
    """One private-API route."""

    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Response]
    scopes: tuple[str, ...]
    throttle: str  # default, clickhouse or query
    projects_only: bool = False  # cloud_routing: not under /api/environments/


def _route(method: str, path: str, handler: Callable[..., Response], *scopes: str,
           throttle: str = "default", projects_only: bool = False) -> Route:  # fmt: skip
    return Route(method, re.compile(path), handler, scopes, throttle, projects_only)


COHORT = PROJECT + r"/cohorts/(?P<cohort_id>[^/]+)"
QUERY_ID = PROJECT + r"/query/(?P<query_id>[^/]+)/?$"
ROUTES = [
    _route("GET", r"^/api/projects/?$", person_routes.list_projects, "project:read"),
    _route("GET", PROJECT + r"/?$", person_routes.get_project, "project:read"),
    _route("GET", r"^/api/users/@me/?$", person_routes.get_me, "user:read"),
    _route("GET", PROJECT + r"/persons/?$", person_routes.list_persons, "person:read",
           throttle="clickhouse"),
    _route("GET", PROJECT + r"/persons/(?P<person_id>[^/]+)/?$", person_routes.get_person,
           "person:read", throttle="clickhouse"),
    _route("POST", PROJECT + r"/query/?$", query_routes.query, "query:read", throttle="query"),
    _route("GET", QUERY_ID, query_routes.query_status, "query:read", throttle="clickhouse"),
    _route("DELETE", QUERY_ID, query_routes.cancel_query, "query:read", throttle="clickhouse"),
    _route("GET", PROJECT + r"/cohorts/?$", cohort_routes.list_cohorts, "cohort:read",
           projects_only=True),
    _route("POST", PROJECT + r"/cohorts/?$", cohort_routes.create_cohort, "cohort:write",
           projects_only=True),
    _route("GET", COHORT + r"/?$", cohort_routes.get_cohort, "cohort:read", projects_only=True),
    _route("PATCH", COHORT + r"/?$", cohort_routes.update_cohort, "cohort:write",
           projects_only=True),
    _route("PUT", COHORT + r"/?$", cohort_routes.update_cohort, "cohort:write",
           projects_only=True),
    _route("DELETE", COHORT + r"/?$", cohort_routes.delete_cohort, "cohort:write",
           projects_only=True),
    _route("GET", COHORT + r"/persons/?$", cohort_routes.cohort_persons, "cohort:read",
           "person:read", projects_only=True),
    _route("PATCH", COHORT + r"/add_persons_to_static_cohort/?$", cohort_routes.add_persons,
           "cohort:write", projects_only=True),
    _route("PATCH", COHORT + r"/remove_person_from_static_cohort/?$",
           cohort_routes.remove_person, "cohort:write", projects_only=True),
]  # fmt: skip


def _routable(state: EmulatorState, route: Route, match: re.Match[str]) -> bool:
    family = match.groupdict().get("family")
    return not (route.projects_only and family == "environments" and
                state.behaviours.cloud_routing)  # fmt: skip


def dispatch(state: EmulatorState, request: Request) -> Response:
    """Answer a capture or private-API request (faults already applied)."""
    if CAPTURE_PATHS.match(request.path):
        if request.method == "OPTIONS":
            return 200, None, {"Allow": "GET, POST, OPTIONS"}
        return capture_routes.capture(state, request)
    matched = False
    for route in ROUTES:
        match = route.pattern.match(request.path)
        if not match or not _routable(state, route, match):
            continue
        matched = True
        if route.method != request.method:
            continue
        request.params = {k: v for k, v in match.groupdict().items() if v is not None}
        authenticate(state, request, route.scopes)
        throttle(state, route, request)
        return route.handler(state, request)
    if matched:
        authenticate(state, request, ())
        raise ApiError(405, "invalid_request", "method_not_allowed",
                       f'Method "{request.method}" not allowed.')  # fmt: skip
    raise not_found()


def authenticate(state: EmulatorState, request: Request, scopes: tuple[str, ...]) -> None:
    """401 without a valid personal key, 404 for another project, 403 for a missing scope."""
    header = request.headers.get("Authorization") or ""
    key = header[7:].strip() if header.lower().startswith("bearer ") else None
    key = key or request.query.get("personal_api_key")
    if not key:
        raise ApiError(401, "authentication_error", "not_authenticated",
                       "Authentication credentials were not provided.")  # fmt: skip
    if not secrets.compare_digest(key.encode(), state.api_key.encode()):
        raise ApiError(
            401, "authentication_error", "authentication_failed",
            "Personal API key found in request Authorization header is invalid.",
        )  # fmt: skip
    project = request.params.get("project_id")
    if project is not None and project not in (state.project_id, "@current"):
        raise not_found("Project not found.")
    granted = state.scopes
    for scope in scopes:
        read_ok = scope.endswith(":read") and scope.replace(":read", ":write") in granted
        if "*" not in granted and scope not in granted and not read_ok:
            raise ApiError(403, "authentication_error", "permission_denied",
                           f"API key missing required scope '{scope}'")  # fmt: skip


def throttle(state: EmulatorState, route: Route, request: Request) -> None:
    """429 with Retry-After when a throttle of this route is exhausted."""
    b = state.behaviours
    rates = dict(RATES)
    rates["query"] = (b.hogql_hourly_limit, 3600)
    if not b.throttles:  # only an explicit HogQL budget applies
        if not (b.hogql_rate_limit and route.throttle == "query" and _is_hogql(request)):
            return
        scopes: tuple[str, ...] = ("query",)
    elif route.throttle == "clickhouse":
        scopes = CLICKHOUSE_SCOPES
    elif route.throttle == "query":
        if b.query_addon:
            scopes = ADDON_SCOPES
        else:
            scopes = ("query",) if _is_hogql(request) else CLICKHOUSE_SCOPES
    else:
        scopes = DEFAULT_SCOPES
    try:
        state.throttles.check(scopes, rates)
    except Throttled as exc:
        raise ApiError(429, "throttled_error", "throttled", str(exc),
                       headers={"Retry-After": str(exc.seconds)}) from exc  # fmt: skip


def _is_hogql(request: Request) -> bool:
    try:
        body = request.json()
    except ApiError:
        return False
    node = body.get("query") if isinstance(body, dict) else None
    return isinstance(node, dict) and node.get("kind") == "HogQLQuery"
