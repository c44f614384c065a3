"""A local PostHog Cloud stand-in for tests, the demo and offline work.

>>> with EmulatorServer(profile="cloud") as server:        # doctest: +SKIP
...     server.env()["POSTHOG_BASE_URL"]
'http://127.0.0.1:54321'

See docs/emulator.md for the endpoints, the modelled Cloud behaviours and their switches.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROFILES", "Behaviours", "EmulatorServer", "Faults"]


def __getattr__(name: str) -> Any:  # imported lazily: the server pulls in the ClickHouse engine
    if name == "EmulatorServer":
        from drawkit.offline.posthog_emulator.server import EmulatorServer

        return EmulatorServer
    if name == "Faults":
        from drawkit.offline.posthog_emulator.faults import Faults

        return Faults
    if name in ("Behaviours", "PROFILES"):
        from drawkit.offline.posthog_emulator import behaviours

        return getattr(behaviours, name)
    raise AttributeError(name)
