"""The PostHog Cloud behaviours the emulator models, each a switch, and the profiles.

``cloud`` turns every behaviour on as PostHog Cloud behaves (docs/emulator.md cites the
PostHog source of each); ``ideal`` is an instant, consistent, unthrottled PostHog (the
emulator's earlier behaviour); ``old-self-hosted`` is ``cloud`` on an older PostHog without
``toFloatOrNull``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

HOUR = 3600.0


@dataclass(frozen=True)
class Behaviours:
    """The switches (see docs/emulator.md for what each models and PostHog's source)."""

    query_cache: bool = False  # refresh=blocking serves a cached result until it is stale
    cache_max_age_seconds: float = 6 * HOUR  # HogQL staleness: a "day" insight, 6 h
    ingestion_lag_seconds: float = 0.0  # captured events become queryable within this time
    throttles: bool = False  # DRF throttles (HogQL 120/h; other endpoints 480/min, 4,800/h)
    query_addon: bool = False  # the API-queries add-on: query throttled 240/min and 2,400/h
    hogql_rate_limit: int | None = None  # queries per hour for HogQL (None: PostHog's 120)
    concurrency_limit: int | None = None  # concurrent queries per organisation (PostHog: 3)
    concurrency_wait_seconds: float = 30.0  # how long a query waits for a slot before 429
    persons_on_events: bool = False  # person.properties on events = values at ingestion
    sent_at_correction: bool = False  # timestamp += server now - sent_at; future → now
    property_typing: bool = False  # first type seen wins; Numeric read through toFloat
    normalise_cohort_filters: bool = False  # filters stored with negation/bytecode/conditionHash
    cohort_calculation_seconds: float = 0.3  # how long a cohort stays is_calculating
    cohort_limits: bool = False  # 1,000 ids per static insert; 10 distinct ids per person; ...
    query_limits: bool = False  # hasMore only without LIMIT (HogQLHasMorePaginator)
    eventual_dedup: bool = False  # duplicate uuids stored, collapsed after merge_delay_seconds
    merge_delay_seconds: float = 2.0  # when a background merge collapses duplicates
    max_execution_seconds: float = 60.0  # ClickHouse max_execution_time (then 504)
    cloud_routing: bool = False  # query under /api/environments/, cohorts under /api/projects/
    persons_list_shape: bool = False  # persons list: no count unless include_total
    legacy_functions: bool = False  # an older PostHog: no toFloatOrNull

    def with_changes(self, **changes: Any) -> Behaviours:
        """A copy with some switches changed (names checked, values validated)."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown behaviour {name!r}; known: {', '.join(known)}")
            clean[name] = _coerce(name, known[name].type, value)
        return replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        """The switches as JSON-able values."""
        return asdict(self)

    @property
    def hogql_hourly_limit(self) -> int:
        """HogQL queries per hour (HogQLQueryThrottle's 120/hour unless overridden)."""
        return self.hogql_rate_limit or 120


def _coerce(name: str, kind: Any, value: Any) -> Any:
    text = str(kind)
    if text == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "on", "yes"):
            return True
        if str(value).lower() in ("false", "0", "off", "no"):
            return False
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if value is None and "None" in text:
        return None
    number = float(value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return int(number) if "int" in text else number


IDEAL = Behaviours()
CLOUD = Behaviours(
    query_cache=True,
    ingestion_lag_seconds=10.0,
    throttles=True,
    concurrency_limit=3,
    persons_on_events=True,
    sent_at_correction=True,
    property_typing=True,
    normalise_cohort_filters=True,
    cohort_calculation_seconds=3.0,
    cohort_limits=True,
    query_limits=True,
    eventual_dedup=True,
    cloud_routing=True,
    persons_list_shape=True,
)
OLD_SELF_HOSTED = replace(CLOUD, legacy_functions=True)
PROFILES: dict[str, Behaviours] = {
    "ideal": IDEAL,
    "cloud": CLOUD,
    "old-self-hosted": OLD_SELF_HOSTED,
}


def profile(name: str, **changes: Any) -> Behaviours:
    """The behaviours of profile ``name`` with ``changes`` applied."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
    return PROFILES[name].with_changes(**changes)
