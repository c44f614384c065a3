"""Persons, the project and the current user.

The persons list (``posthog/api/person.py`` ``PersonViewSet.list``) orders persons newest first
(``created_at DESC, id DESC``); with ``persons_list_shape`` (cloud) it gives ``next`` whenever
a page is full and a ``count`` only with ``include_total``, as PostHog does; otherwise the
DRF limit/offset shape with ``count``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drawkit.offline.posthog_emulator.cohort_filters import (
    FilterError,
    match_property,
    validate_property,
)
from drawkit.offline.posthog_emulator.protocol import (
    Request,
    not_found,
    page_of,
    paginate,
    validation_error,
)

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.state import EmulatorState

Response = tuple[int, Any, dict[str, str]]
ORGANIZATION = "0190f000-0000-7000-8000-000000000000"


def project_info(state: EmulatorState) -> dict[str, Any]:
    """The project object (a subset of PostHog's fields)."""
    return {
        "id": state.project_number if state.project_id.isdigit() else state.project_id,
        "uuid": "0190f000-0000-7000-8000-000000000001",
        "organization": ORGANIZATION,
        "api_token": state.project_api_key,
        "name": "drawkit emulator",
        "timezone": "UTC",
        "completed_snippet_onboarding": True,
        "ingested_event": True,
        "is_demo": False,
    }


def get_project(state: EmulatorState, request: Request) -> Response:
    """GET /api/projects/{id}/ (also /api/environments/{id}/)."""
    return 200, project_info(state), {}


def list_projects(state: EmulatorState, request: Request) -> Response:
    """GET /api/projects/."""
    return 200, paginate(request, [project_info(state)]), {}


def get_me(state: EmulatorState, request: Request) -> Response:
    """GET /api/users/@me/."""
    return (
        200,
        {
            "uuid": "0190f000-0000-7000-8000-0000000000aa",
            "distinct_id": "drawkit-emulator-user",
            "first_name": "Emulator",
            "email": "emulator@localhost",
            "team": {"id": project_info(state)["id"], "name": "drawkit emulator"},
            "organization": {"id": ORGANIZATION, "name": "drawkit"},
            "scopes": sorted(state.scopes),
        },
        {},
    )


def _properties_param(request: Request) -> list[Mapping[str, Any]]:
    raw = request.query.get("properties")
    if not raw:
        return []
    try:
        filters = json.loads(raw)
    except (ValueError, RecursionError) as exc:
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


def list_persons(state: EmulatorState, request: Request) -> Response:
    """GET …/persons/ with distinct_id, email, search, properties filters."""
    filters = _properties_param(request)
    distinct_id = request.query.get("distinct_id")
    email = request.query.get("email")
    search = (request.query.get("search") or "").strip()
    store = state.store
    with store.lock:
        store.sync()
        if distinct_id is not None:
            person = store.persons.get(distinct_id)
            people = [person] if person else []
        else:
            people = list(store.persons_by_id.values())
        if email:
            people = [p for p in people if p.properties.get("email") == email]
        if search:
            needle = search.lower()
            people = [
                p for p in people
                if search in p.distinct_ids or needle in str(p.properties.get("email", "")).lower()
            ]  # fmt: skip
        if filters:
            people = [p for p in people if all(match_property(p.properties, f) for f in filters)]
        if state.behaviours.persons_list_shape:
            people.sort(key=lambda p: (p.created_at, p.id), reverse=True)
            page = page_of(request, people)
            if "include_total" in request.query:
                page["count"] = len(people)
        else:
            people.sort(key=lambda p: p.seq, reverse=True)
            page = paginate(request, people)
        page["results"] = [p.to_api() for p in page["results"]]
    return 200, page, {}


def get_person(state: EmulatorState, request: Request) -> Response:
    """GET …/persons/{uuid}/."""
    with state.store.lock:
        state.store.sync()
        person = state.store.person_by_id(request.params["person_id"])
        if person is None:
            raise not_found()
        return 200, person.to_api(), {}
