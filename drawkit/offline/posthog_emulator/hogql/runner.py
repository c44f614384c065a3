"""Run a HogQL query on the store's ClickHouse and shape the answer like PostHog's
``HogQLQueryResponse`` (``posthog/hogql_queries/hogql_query_runner.py``).

Without a top-level LIMIT the ``HogQLHasMorePaginator`` asks for 101 rows and reports
``hasMore``/``limit``/``offset``; with a LIMIT (clamped to 50,000) those three are null.
ClickHouse errors map as PostHog maps them (``posthog/errors.py``, ``posthog/exceptions.py``):
TIMEOUT_EXCEEDED (159) and MEMORY_LIMIT_EXCEEDED (241) → 504, anything else → 400.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drawkit.offline.posthog_emulator.engine import EngineError
from drawkit.offline.posthog_emulator.hogql.errors import HogQLError
from drawkit.offline.posthog_emulator.hogql.parser import parse_select
from drawkit.offline.posthog_emulator.hogql.printer import Printer, Settings

if TYPE_CHECKING:
    from drawkit.offline.posthog_emulator.store import Store

TIMEOUT_DETAIL = (
    "Query has hit the max execution time before completing. See our docs for how to improve "
    "your query performance. You may need to materialize."
)  # posthog/exceptions.py ClickHouseQueryTimeOut
MEMORY_DETAIL = (
    "Query has reached the max memory limit before completing. See our docs for how to improve "
    "your query memory footprint. You may need to narrow date range or materialize."
)
PERSONS_ON_EVENTS_MODES = {
    "disabled": False,
    "person_id_no_override_properties_on_events": True,
    "person_id_override_properties_on_events": True,
    "person_id_override_properties_joined": False,
}
_DATETIME_TYPE = re.compile(r"^DateTime(?:64)?\((?:\d+,\s*)?'([^']+)'\)$")


class QueryTimeout(Exception):
    """The query ran past max_execution_time (HTTP 504)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class QueryOptions:
    """How to print and run one query."""

    persons_on_events: bool
    property_typing: bool
    legacy_functions: bool
    paginate_always: bool  # the ideal profile: hasMore even with a LIMIT
    max_execution_seconds: float
    unbounded: bool = False  # cohort calculations: no row cap


def run_hogql(
    store: Store, text: str, values: Mapping[str, Any] | None, options: QueryOptions
) -> dict[str, Any]:
    """Parse, print and run ``text``; the HogQL response body (without cache fields)."""
    started = time.perf_counter()
    tree = parse_select(text)
    with store.lock:
        store.sync()
        settings = Settings(
            database=store.database,
            persons_on_events=options.persons_on_events,
            event_property_types=dict(store.event_property_types) if options.property_typing
            else {},
            person_property_types=dict(store.person_property_types) if options.property_typing
            else {},
            legacy_functions=options.legacy_functions,
            always_peek=options.paginate_always and not options.unbounded,
            unbounded=options.unbounded,
            values=dict(values or {}),
        )  # fmt: skip
    printed = Printer(settings).print_query(tree)
    sql = printed.sql
    ch_settings: dict[str, Any] = {"max_execution_time": options.max_execution_seconds,
                                   "timeout_overflow_mode": "throw"}  # fmt: skip
    try:
        answer = store.engine.query(sql, ch_settings)
    except EngineError as exc:
        raise _query_error(exc) from exc
    rows = answer["data"]
    has_more = None
    if printed.peek:
        has_more = len(rows) > (printed.limit or 0)
        rows = rows[: printed.limit]
    meta = answer["meta"]
    names = printed.columns if len(printed.columns) == len(meta) else [m["name"] for m in meta]
    types = [m["type"] for m in meta]
    converters = [_converter(t) for t in types]
    results = [[c(v) for c, v in zip(converters, row, strict=True)] for row in rows]
    return {
        "results": results,
        "columns": names,
        "types": [[n, t] for n, t in zip(names, types, strict=True)],
        "hasMore": has_more,
        "limit": printed.limit if printed.peek else None,
        "offset": 0 if printed.peek else None,
        "hogql": text,
        "clickhouse": sql,
        "timings": [{"k": "./total", "t": round(time.perf_counter() - started, 6)}],
        "modifiers": {"personsOnEventsMode": "person_id_override_properties_on_events"
                      if options.persons_on_events else "person_id_override_properties_joined"},
        "error": None,
        "query_status": None,
    }  # fmt: skip


def _query_error(exc: EngineError) -> Exception:
    if exc.code == 159:
        return QueryTimeout(TIMEOUT_DETAIL)
    if exc.code == 241:
        return QueryTimeout(MEMORY_DETAIL)
    text = str(exc).split("\n", 1)[0]
    text = re.sub(r"^Code: \d+\. DB::Exception: ", "", text)
    text = re.sub(r"\s*\(\w+\)\s*$", "", text)
    return HogQLError(text[:500], "query_error")


def _converter(type_name: str) -> Any:
    inner = type_name
    for wrapper in ("Nullable(", "LowCardinality("):
        while inner.startswith(wrapper):
            inner = inner[len(wrapper) : -1]
    match = _DATETIME_TYPE.match(inner)
    if match or inner.startswith(("DateTime64", "DateTime")):
        zone = match.group(1) if match else "UTC"
        return lambda v: _datetime_text(v, zone)
    return lambda v: v


def _datetime_text(value: Any, zone: str) -> Any:
    """ClickHouse's "2026-11-19 10:00:00.000000" in ``zone`` as ISO 8601 with its offset."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
        tz = ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        return value
    text = parsed.replace(tzinfo=tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
