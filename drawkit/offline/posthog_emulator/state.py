"""Everything one emulated PostHog project holds: keys, switches, data, throttles, caches.

Route handlers take an :class:`EmulatorState` (never the HTTP server), so the server module
depends on the routes and not the other way round.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from drawkit.offline.posthog_emulator.behaviours import Behaviours
from drawkit.offline.posthog_emulator.faults import Faults
from drawkit.offline.posthog_emulator.store import Store
from drawkit.offline.posthog_emulator.throttles import ConcurrencyLimit, Throttles


@dataclass
class EmulatorState:
    """The state the route handlers read and change."""

    project_id: str
    api_key: str
    project_api_key: str
    admin_key: str
    scopes: set[str]
    behaviours: Behaviours
    faults: Faults
    origin: str = "http://127.0.0.1"
    request_log: list[dict[str, Any]] = field(default_factory=list)
    throttles: Throttles = field(default_factory=Throttles)
    concurrency: ConcurrencyLimit = field(default_factory=ConcurrencyLimit)
    store: Store = field(init=False)
    queries: Any = field(init=False)  # QueryService (imported lazily: it imports the state type)
    _log_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        from drawkit.offline.posthog_emulator.query_routes import QueryService

        self.store = Store(lambda: self.behaviours, team_id=self.project_number)
        self.queries = QueryService(self)

    @property
    def project_number(self) -> int:
        """The project id as a number (1 when it is not numeric)."""
        return int(self.project_id) if self.project_id.isdigit() else 1

    def log(self, entry: dict[str, Any]) -> None:
        """Append a request record (thread-safe)."""
        with self._log_lock:
            self.request_log.append(entry)

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """Replace the personal key's scopes."""
        self.scopes = {str(s) for s in scopes}

    def reset_data(self) -> None:
        """Drop every event, person and cohort, the query cache and the throttle histories."""
        self.store.clear()
        self.queries.clear()
        self.throttles.reset()
