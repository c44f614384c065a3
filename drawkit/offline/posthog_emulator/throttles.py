"""PostHog's request throttles and the per-organisation query concurrency limit.

Rates (``posthog/rate_limit.py``): ``BurstRateThrottle`` 480/minute and
``SustainedRateThrottle`` 4,800/hour on every private endpoint; ``ClickHouseBurstRateThrottle``
240/minute and ``ClickHouseSustainedRateThrottle`` 1,200/hour on ClickHouse-backed ones (the
persons list, query status); ``HogQLQueryThrottle`` 120/hour for HogQL queries, or
``APIQueriesBurstThrottle`` 240/minute + ``APIQueriesSustainedThrottle`` 2,400/hour with the
API-queries add-on (``posthog/api/query.py`` ``get_throttles``). The bucket is the hashed
personal API key. The wait and message are DRF's ``SimpleRateThrottle``/``Throttled``.

Concurrency (``posthog/clickhouse/client/limit.py`` ``get_api_personal_rate_limiter``): at most
3 personal-API-key queries run at once per organisation; a query waits (retrying) up to 30 s
for a slot, then fails with ``ConcurrencyLimitExceeded``, answered 429.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

RATES = {
    "burst": (480, 60),
    "sustained": (4800, 3600),
    "clickhouse_burst": (240, 60),
    "clickhouse_sustained": (1200, 3600),
    "api_queries_burst": (240, 60),
    "api_queries_sustained": (2400, 3600),
}
DEFAULT_SCOPES = ("burst", "sustained")
CLICKHOUSE_SCOPES = ("clickhouse_burst", "clickhouse_sustained")
ADDON_SCOPES = ("api_queries_burst", "api_queries_sustained")


class Throttled(Exception):
    """A request over a rate; ``wait`` is DRF's seconds until a slot frees."""

    def __init__(self, wait: float) -> None:
        self.seconds = max(1, math.ceil(wait))
        unit = "second" if self.seconds == 1 else "seconds"
        super().__init__(f"Request was throttled. Expected available in {self.seconds} {unit}.")


class ConcurrencyLimitExceeded(Exception):
    """No query slot freed within the wait."""


class Throttles:
    """Request histories per scope (one API key, so one bucket per scope)."""

    def __init__(self) -> None:
        self._history: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, scopes: tuple[str, ...], rates: dict[str, tuple[int, int]]) -> None:
        """Record the request in every scope that allows it; raise Throttled if any refused."""
        now = time.monotonic()
        waits = []
        with self._lock:
            for scope in scopes:
                limit, duration = rates[scope]
                history = self._history.setdefault(scope, deque())
                while history and history[-1] <= now - duration:
                    history.pop()
                if len(history) >= limit:
                    remaining = duration - (now - history[-1]) if history else duration
                    available = limit - len(history) + 1
                    waits.append(remaining / available if available > 0 else remaining)
                else:
                    history.appendleft(now)
        if waits:
            raise Throttled(max(waits))

    def reset(self) -> None:
        """Forget every request (admin reset)."""
        with self._lock:
            self._history.clear()


class ConcurrencyLimit:
    """At most ``limit`` queries at once; a query waits up to ``wait_seconds`` for a slot."""

    def __init__(self) -> None:
        self._running = 0
        self._condition = threading.Condition()

    @contextmanager
    def slot(self, limit: int | None, wait_seconds: float, task: str) -> Iterator[None]:
        """Hold a slot while the body runs (no limit: always)."""
        if not limit:
            yield
            return
        deadline = time.monotonic() + wait_seconds
        with self._condition:
            while self._running >= limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConcurrencyLimitExceeded(
                        f"Exceeded maximum concurrency limit: {limit} for key: "
                        f"api:query:per-org:0190f000-0000-7000-8000-000000000000 and task: {task}"
                    )
                self._condition.wait(left)
            self._running += 1
        try:
            yield
        finally:
            with self._condition:
                self._running -= 1
                self._condition.notify()
