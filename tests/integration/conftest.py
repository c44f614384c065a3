"""Fixtures for tests that talk to PostHog over real HTTP: the local emulator.

- ``emulator``: a started :class:`~drawkit.offline.posthog_emulator.EmulatorServer` on a
  free loopback port. A test module that sets ``EMULATOR_PROFILE = "cloud"`` (every test
  of drawkit's PostHog client and source does) gets PostHog Cloud's behaviours (cached
  answers, throttles, persons on events, sent_at correction, first-seen property types,
  normalised cohorts, Cloud's limits) with a short ingestion lag (``INGESTION_LAG`` s, for
  speed); other modules (the emulator's own tests) get the ideal profile. POSTHOG_BASE_URL,
  POSTHOG_PROJECT_ID, POSTHOG_API_KEY and POSTHOG_PROJECT_API_KEY are monkeypatched to
  point at it (random keys per test). Faults are off; cohorts calculate
  for 0.3 s. ``emulator.env()`` returns the same four variables as a dict.
- ``ideal_emulator``: the same on the ``ideal`` profile (instant, consistent, unthrottled),
  for the few tests about the ideal model itself.
- ``emulator_with_synth``: the same, pre-loaded with ``synth_data`` (about 1,500 recharge
  rows of 300 subscribers over 5 days ending 2026-11-20, seed 7): drawkit's upload hands its
  capture events to the emulator's ingestion (``drawkit.app.tools.preload``); the
  SynthData is ``emulator_with_synth.synth``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.synth import SynthData, generate

SYNTH_END_DATE = date(2026, 11, 20)
INGESTION_LAG = 1.5  # seconds; PostHog Cloud takes seconds to minutes
CLOUD = {"profile": "cloud", "ingestion_lag_seconds": INGESTION_LAG,
         "cohort_calculation_seconds": 0.3}


def _running(monkeypatch: pytest.MonkeyPatch, **options: object) -> Iterator[EmulatorServer]:
    server = EmulatorServer(**options)
    server.start()
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def emulator(request: pytest.FixtureRequest,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """A running emulator (the module's EMULATOR_PROFILE, default ideal); the POSTHOG_*
    environment points at it."""
    cloud = getattr(request.module, "EMULATOR_PROFILE", "ideal") == "cloud"
    yield from _running(monkeypatch, **(CLOUD if cloud else {"profile": "ideal"}))


@pytest.fixture
def ideal_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """A running emulator on the ideal profile; the POSTHOG_* environment points at it."""
    yield from _running(monkeypatch, profile="ideal")


@pytest.fixture(scope="session")
def synth_data() -> SynthData:
    """Small synthetic recharges (300 subscribers, 5 days to 2026-11-20, seed 7)."""
    return generate(subscribers=300, days=5, end_date=SYNTH_END_DATE, seed=7)


@pytest.fixture
def emulator_with_synth(emulator: EmulatorServer, synth_data: SynthData) -> EmulatorServer:
    """The running emulator, pre-loaded with ``synth_data``."""
    from drawkit.app.tools import preload

    preload(emulator, synth_data.recharges, synth_data.persons, None)
    emulator.ingest_pending()  # the data is "already in PostHog": no lag to wait out
    emulator.synth = synth_data  # type: ignore[attr-defined]
    return emulator
