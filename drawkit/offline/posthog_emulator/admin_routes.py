"""``/_emulator/…``: drive a running emulator (faults, switches, request log, reset).

Every admin request needs ``Authorization: Bearer <admin key>`` (``EmulatorServer.admin_key``)
and is never faulted, throttled or logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drawkit.offline.posthog_emulator.behaviours import PROFILES, profile
from drawkit.offline.posthog_emulator.protocol import Request, not_found, validation_error

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.state import EmulatorState

Response = tuple[int, Any, dict[str, str]]


def admin(state: EmulatorState, request: Request) -> Response:  # noqa: C901
    """GET/POST /_emulator/faults, POST /_emulator/faults/reset, GET/DELETE /_emulator/requests,
    GET /_emulator/stats, GET/POST /_emulator/config, POST /_emulator/ingest (make queued
    events visible now), POST /_emulator/reset (drop all data)."""
    path = request.path.rstrip("/")
    method = request.method
    if path == "/_emulator/faults" and method == "GET":
        return 200, state.faults.to_dict(), {}
    if path == "/_emulator/faults" and method in ("POST", "PATCH"):
        body = request.json()
        if not isinstance(body, Mapping):
            raise validation_error("send a JSON object of fault switches")
        try:
            state.faults.update(**body)
        except (TypeError, ValueError) as exc:
            raise validation_error(str(exc)) from exc
        return 200, state.faults.to_dict(), {}
    if path == "/_emulator/faults/reset" and method == "POST":
        state.faults.reset()
        return 200, state.faults.to_dict(), {}
    if path == "/_emulator/requests" and method == "GET":
        return 200, {"results": list(state.request_log)}, {}
    if path == "/_emulator/requests" and method == "DELETE":
        state.request_log.clear()
        return 204, None, {}
    if path == "/_emulator/config":
        return _config(state, request)
    if path == "/_emulator/ingest" and method == "POST":
        state.store.ingest_pending()
        return 200, _stats(state), {}
    if path == "/_emulator/reset" and method == "POST":
        state.reset_data()
        return 200, _stats(state), {}
    if path == "/_emulator/stats" and method == "GET":
        return 200, _stats(state), {}
    raise not_found()


def _stats(state: EmulatorState) -> dict[str, Any]:
    store = state.store
    return {
        "events": store.event_count(),
        "pending_events": store.pending_count,
        "persons": len(store.persons_by_id),
        "cohorts": len(store.cohorts),
        "duplicates_dropped": store.duplicates_dropped,
    }


def _config(state: EmulatorState, request: Request) -> Response:
    if request.method == "POST":
        body = request.json()
        if not isinstance(body, Mapping):
            raise validation_error("send a JSON object: scopes, profile and behaviour switches")
        changes = dict(body)
        try:
            if "scopes" in changes:
                scopes = changes.pop("scopes")
                if not isinstance(scopes, list):
                    raise ValueError("scopes must be a list of strings")
                state.set_scopes(scopes)
            if "calculation_seconds" in changes:  # the earlier name of the switch
                changes["cohort_calculation_seconds"] = changes.pop("calculation_seconds")
            if "profile" in changes:
                name = changes.pop("profile")
                if name not in PROFILES:
                    raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
                state.behaviours = profile(name, **changes)
            else:
                state.behaviours = state.behaviours.with_changes(**changes)
        except (TypeError, ValueError) as exc:
            raise validation_error(str(exc)) from exc
    elif request.method != "GET":
        raise not_found()
    return 200, {"scopes": sorted(state.scopes), **state.behaviours.to_dict()}, {}
