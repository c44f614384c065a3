"""CohortGenerator against the emulator: the daily cohort, idempotence, the wait bound."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

import pandas as pd
import pytest

from drawkit.config import PromotionConfig
from drawkit.errors import CohortNotReadyError, InputError
from drawkit.offline.posthog_emulator.server import EmulatorServer
from drawkit.posthog import PostHogClient, RetryPolicy
from drawkit.posthog.upload import upload_recharges, wait_until_queryable
from drawkit.sources.posthog_cohort import CohortGenerator

EMULATOR_PROFILE = "cloud"  # tests/integration/conftest.py: PostHog Cloud's behaviours

FAST = RetryPolicy(max_attempts=3, max_seconds=5, backoff_initial=0.01, timeout=(2, 5))
DRAW = date(2026, 11, 27)  # window [2026-11-25 23:00Z, 2026-11-26 23:00Z)
A, B, C, D, E = (f"+23480312000{i:02d}" for i in range(5))
RECHARGES = pd.DataFrame(
    [
        ("t1", A, "200", "2026-11-26T10:00:00+01:00"),  # inside
        ("t2", A, "50", "2026-11-26T11:00:00+01:00"),  # inside, under 1 point
        ("t3", B, "500", "2026-11-25T10:00:00+01:00"),  # the day before
        ("t4", C, "900", "2026-11-26T12:00:00+01:00"),  # inside, blacklisted
        ("t5", D, "300", "2026-11-27T00:00:00+01:00"),  # at the cutoff: outside
        ("t6", E, "100", "2026-11-26T00:00:00+01:00"),  # at the start: inside
    ],
    columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"],
)
PERSONS = pd.DataFrame({"msisdn": [A, B, C, D, E], "blacklisted": [0, 0, 1, 0, 0]})


def _loaded(emulator: EmulatorServer) -> PostHogClient:
    client = PostHogClient.from_env(emulator.env(), policy=FAST)
    summary = upload_recharges(client, RECHARGES, PERSONS.astype({"blacklisted": bool}))
    wait_until_queryable(client, summary, poll_seconds=0.2, timeout=30)  # ingestion lag
    return client


def _members(client: PostHogClient, cohort: dict) -> list[str]:
    return sorted(p["distinct_ids"][0] for p in client.get_cohort_persons(cohort["id"]))


def test_daily_cohort_holds_recharges_in_the_window_not_blacklisted(emulator):
    client = _loaded(emulator)
    generator = CohortGenerator(client, PromotionConfig(), poll_seconds=0.05)
    cohort = generator.ensure_daily_cohort(DRAW)
    assert cohort["name"] == "drawkit daily 2026-11-27"
    assert not cohort["is_calculating"]
    assert _members(client, cohort) == [A, E]
    stats = generator.get_cohort_stats(cohort["id"])
    assert (stats.count, stats.is_calculating, stats.is_static) == (2, False, False)
    assert "2 persons (ready)" in stats.format()


def test_ensure_daily_cohort_is_idempotent(emulator):
    client = _loaded(emulator)
    generator = CohortGenerator(client, poll_seconds=0.05)
    first = generator.ensure_daily_cohort(DRAW)
    emulator.request_log.clear()
    again = CohortGenerator(client, poll_seconds=0.05).ensure_daily_cohort(DRAW)
    assert again["id"] == first["id"]
    assert not [r for r in emulator.request_log if r["method"] in ("POST", "PATCH")]
    assert len([c for c in client.list_cohorts() if c["name"] == first["name"]]) == 1


def test_a_changed_window_updates_the_existing_cohort(emulator):
    client = _loaded(emulator)
    first = CohortGenerator(client, poll_seconds=0.05).ensure_daily_cohort(DRAW)
    late = replace(PromotionConfig(), cutoff_time=time(1, 0))  # cutoff 00:00Z: D inside
    updated = CohortGenerator(client, late, poll_seconds=0.05).ensure_daily_cohort(DRAW)
    assert updated["id"] == first["id"]
    assert _members(client, updated) == [A, D]  # E's 00:00 WAT is now before the start


def test_waiting_is_bounded():
    with EmulatorServer(calculation_seconds=30) as server:
        client = _loaded(server)
        generator = CohortGenerator(client, wait_seconds=0.3, poll_seconds=0.05)
        with pytest.raises(CohortNotReadyError, match="still calculating after 0s") as info:
            generator.ensure_daily_cohort(DRAW)
        assert "drawkit daily 2026-11-27" in str(info.value)
        log = server.request_log
        polls = [r for r in log if r["method"] == "GET" and "/cohorts/1" in r["path"]]
        assert 2 <= len(polls) <= 10
        cohort = generator.ensure_daily_cohort(DRAW, wait=False)  # reused, not re-created
        assert cohort["id"] == 1 and cohort["is_calculating"]


def test_test_cohort_is_static_and_names_unknown_numbers_masked(emulator):
    client = _loaded(emulator)
    generator = CohortGenerator(client, poll_seconds=0.05)
    cohort = generator.create_test_cohort(["0803 120 0000", B[1:]])
    assert cohort["is_static"]
    assert _members(client, cohort) == [A, B]
    with pytest.raises(InputError, match=r"0809\*\*\*\*567") as info:
        generator.create_test_cohort([A, "+2348091234567"])
    assert "+2348091234567" not in str(info.value)
