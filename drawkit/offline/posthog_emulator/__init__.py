"""A local PostHog-compatible HTTP server for tests, demos and offline work.

>>> with EmulatorServer() as server:        # doctest: +SKIP
...     server.env()["POSTHOG_BASE_URL"]
'http://127.0.0.1:54321'

See docs/emulator.md for the endpoints, the HogQL subset and fault injection.
"""

from __future__ import annotations

from drawkit.offline.posthog_emulator.faults import Faults
from drawkit.offline.posthog_emulator.server import EmulatorServer
from drawkit.offline.posthog_emulator.store import Person, Store

__all__ = ["EmulatorServer", "Faults", "Person", "Store"]
