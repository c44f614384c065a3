"""``POST …/query/`` and ``GET``/``DELETE …/query/{id}/``: HogQL with PostHog's caching,
refresh modes and asynchronous queries.

Refresh modes (``posthog/hogql_queries/query_runner.py`` ``execution_mode_from_refresh``;
``posthog/api/query.py`` turns a missing or ``force_cache`` refresh into ``blocking``):
``blocking`` serves a cached result until it is older than ``cache_max_age_seconds`` (HogQL:
a "day" insight, 6 h, ``hogql_query_runner.py`` ``cache_target_age``), ``force_blocking``
(or ``true``) always recomputes, ``async``/``lazy_async`` serve a fresh cached result or start
the query in the background (202 with ``query_status``), ``force_async`` always starts one,
``async_except_on_cache_miss`` blocks only when nothing is cached. Without ``query_cache``
every mode computes at once (the ideal profile).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from drawkit.offline.posthog_emulator.hogql.errors import HogQLError
from drawkit.offline.posthog_emulator.hogql.runner import (
    PERSONS_ON_EVENTS_MODES,
    QueryOptions,
    QueryTimeout,
    run_hogql,
)
from drawkit.offline.posthog_emulator.protocol import ApiError, Request, not_found, validation_error
from drawkit.offline.posthog_emulator.store import iso
from drawkit.offline.posthog_emulator.throttles import ConcurrencyLimitExceeded

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.state import EmulatorState

Response = tuple[int, Any, dict[str, str]]
REFRESH_MODES = {"blocking", "async", "lazy_async", "force_async", "force_blocking",
                 "force_cache", "async_except_on_cache_miss"}  # fmt: skip
LAZY_FACTOR = 2  # ThresholdMode.LAZY: 12 h for a "day" insight instead of 6 h


class QueryService:
    """The query cache and the asynchronous query statuses of one emulator."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._cache: dict[str, tuple[dict[str, Any], datetime, float]] = {}
        self._statuses: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget cached results and query statuses."""
        with self._lock:
            self._cache.clear()
            self._statuses.clear()

    # ------------------------------------------------------------------ running

    def options(self, node: Mapping[str, Any], *, unbounded: bool = False) -> QueryOptions:
        """How to run ``node`` under the switches in force (and its ``modifiers``)."""
        b = self.state.behaviours
        poe = b.persons_on_events
        modifiers = node.get("modifiers") or {}
        if isinstance(modifiers, Mapping) and modifiers.get("personsOnEventsMode") is not None:
            mode = modifiers["personsOnEventsMode"]
            if mode not in PERSONS_ON_EVENTS_MODES:
                raise validation_error(f"Unknown personsOnEventsMode {mode!r}", "modifiers")
            poe = PERSONS_ON_EVENTS_MODES[mode]
        return QueryOptions(
            persons_on_events=poe,
            property_typing=b.property_typing,
            legacy_functions=b.legacy_functions,
            paginate_always=not b.query_limits,
            max_execution_seconds=b.max_execution_seconds,
            unbounded=unbounded,
        )

    def compute(self, node: Mapping[str, Any], task: str) -> dict[str, Any]:
        """Run a HogQL node now (holding a concurrency slot)."""
        b = self.state.behaviours
        options = self.options(node)
        with self.state.concurrency.slot(b.concurrency_limit, b.concurrency_wait_seconds, task):
            return run_hogql(self.state.store, str(node["query"]), node.get("values"), options)

    def _key(self, node: Mapping[str, Any]) -> str:
        payload = {"query": node.get("query"), "values": node.get("values"),
                   "options": repr(self.options(node))}  # fmt: skip
        text = json.dumps(payload, sort_keys=True, default=str)
        return "cache_" + hashlib.sha256(text.encode()).hexdigest()[:32]

    def _fresh(self, key: str, lazy: bool) -> dict[str, Any] | None:
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            return None
        result, refreshed, _ = cached
        age = self.state.behaviours.cache_max_age_seconds * (LAZY_FACTOR if lazy else 1)
        if datetime.now(UTC) - refreshed > timedelta(seconds=age):
            return None
        return self._cached_answer(key, result, refreshed)

    def _cached_answer(self, key: str, result: dict, refreshed: datetime) -> dict[str, Any]:
        age = self.state.behaviours.cache_max_age_seconds
        return {
            **result,
            "is_cached": True,
            "cache_key": key,
            "last_refresh": iso(refreshed),
            "cache_target_age": iso(refreshed + timedelta(seconds=age)),
            "next_allowed_client_refresh": iso(refreshed + timedelta(minutes=1)),
            "timezone": "UTC",
        }

    def _store(self, key: str, result: dict[str, Any]) -> dict[str, Any]:
        refreshed = datetime.now(UTC)
        with self._lock:
            self._cache[key] = (result, refreshed, time.monotonic())
        answer = self._cached_answer(key, result, refreshed)
        answer["is_cached"] = False
        return answer

    def answer(self, node: Mapping[str, Any], refresh: Any, query_id: str) -> Response:
        """The answer to POST /query/ for a HogQL node."""
        if refresh in (None, False, "force_cache"):
            refresh = "blocking"
        if refresh is True:
            refresh = "force_blocking"
        if refresh not in REFRESH_MODES:
            raise validation_error(
                f"Input should be one of {', '.join(sorted(REFRESH_MODES))} or a boolean",
                "refresh",
            )
        if not self.state.behaviours.query_cache:
            result = self._blocking(node, query_id)
            return 200, {**result, "is_cached": False}, {}
        key = self._key(node)
        lazy = refresh == "lazy_async"
        if refresh in ("blocking", "async", "lazy_async", "async_except_on_cache_miss"):
            fresh = self._fresh(key, lazy)
            if fresh is not None:
                return 200, fresh, {}
        if refresh in ("async", "lazy_async", "force_async") or (
            refresh == "async_except_on_cache_miss" and key in self._cache
        ):
            return 202, {"query_status": self._start_async(node, key, query_id)}, {}
        return 200, self._store(key, self._blocking(node, query_id)), {}

    def _blocking(self, node: Mapping[str, Any], query_id: str) -> dict[str, Any]:
        try:
            return self.compute(node, query_id)
        except HogQLError as exc:
            raise validation_error(str(exc), None, exc.code) from exc
        except QueryTimeout as exc:
            raise ApiError(504, "server_error", "error", exc.detail) from exc
        except ConcurrencyLimitExceeded as exc:
            raise ApiError(429, "throttled_error", "throttled", str(exc),
                           headers={"Retry-After": "1"}) from exc  # fmt: skip

    # ------------------------------------------------------------------ async

    def _start_async(self, node: Mapping[str, Any], key: str, query_id: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        status = {
            "id": query_id, "query_async": True, "team_id": int(self.state.project_number),
            "insight_id": None, "dashboard_id": None, "error": False, "complete": False,
            "error_message": None, "results": None, "start_time": iso(now), "end_time": None,
            "expiration_time": iso(now + timedelta(minutes=20)), "task_id": uuid.uuid4().hex,
            "pickup_time": iso(now), "query_progress": None, "labels": None,
        }  # fmt: skip
        with self._lock:
            self._statuses[query_id] = status

        def work() -> None:
            try:
                result = self._store(key, self.compute(node, query_id))
                update = {"complete": True, "results": result}
            except HogQLError as exc:
                update = {"complete": True, "error": True, "error_message": str(exc)}
            except QueryTimeout as exc:
                update = {"complete": True, "error": True, "error_message": exc.detail}
            except ConcurrencyLimitExceeded as exc:
                update = {"complete": True, "error": True, "error_message": str(exc)}
            except Exception:  # noqa: BLE001 - an internal surprise: PostHog answers 500
                update = {"complete": True, "error": True, "error_message": None}
            update["end_time"] = iso(datetime.now(UTC))
            with self._lock:
                self._statuses[query_id].update(update)

        threading.Thread(target=work, name=f"query-{query_id}", daemon=True).start()
        return dict(status)

    def status(self, query_id: str) -> Response:
        """GET /query/{id}/: 202 while running, 200 when complete, 400/500 on error."""
        with self._lock:
            status = self._statuses.get(query_id)
            status = None if status is None else dict(status)
        if status is None:
            raise not_found(f"Query with ID {query_id} not found.")
        code = 202
        if status["error"]:
            code = 400 if status["error_message"] else 500
        elif status["complete"]:
            code = 200
        return code, {"query_status": status}, {}

    def cancel(self, query_id: str) -> Response:
        """DELETE /query/{id}/."""
        with self._lock:
            found = self._statuses.pop(query_id, None)
        message = "Query cancelled" if found else "Query not found"
        return 200, {"message": message}, {}


def query(state: EmulatorState, request: Request) -> Response:
    """POST …/query/ with a HogQLQuery."""
    body = request.json()
    node = body.get("query") if isinstance(body, Mapping) else None
    if not isinstance(node, Mapping):
        raise validation_error("Field required", "query", "required")
    if node.get("kind") != "HogQLQuery":
        raise validation_error(
            f"Query kind {node.get('kind')!r} is not supported by the emulator (use HogQLQuery)",
            "query",
        )
    text = node.get("query")
    if not isinstance(text, str) or not text.strip():
        raise validation_error("query.query must be a HogQL string", "query", "required")
    if not isinstance(node.get("values") or {}, Mapping):
        raise validation_error("query.values must be an object", "query")
    query_id = body.get("client_query_id") or uuid.uuid4().hex
    if not isinstance(query_id, str):
        raise validation_error("client_query_id must be a string", "client_query_id")
    status, payload, headers = state.queries.answer(node, body.get("refresh"), query_id)
    if status == 200 and isinstance(payload, dict):
        payload["query_status"] = None
    return status, payload, headers


def query_status(state: EmulatorState, request: Request) -> Response:
    """GET …/query/{id}/."""
    return state.queries.status(request.params["query_id"])


def cancel_query(state: EmulatorState, request: Request) -> Response:
    """DELETE …/query/{id}/."""
    return state.queries.cancel(request.params["query_id"])
