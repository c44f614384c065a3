"""The client and the PostHog source against PostHog Cloud's behaviours (cloud profile):
cached answers, ingestion lag, throttles, persons on events, sent_at correction,
first-seen property types, static insert limits."""

from __future__ import annotations

import time
from datetime import date

import pandas as pd
import pytest

from drawkit.config import PromotionConfig
from drawkit.errors import PostHogRateLimitedError
from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.posthog import PostHogClient, RetryPolicy, build_event
from drawkit.sources.posthog import PostHogDataSource
from drawkit.sources.posthog_cohort import CohortGenerator

EMULATOR_PROFILE = "cloud"  # tests/integration/conftest.py: PostHog Cloud's behaviours

FAST = RetryPolicy(max_attempts=3, max_seconds=10, backoff_initial=0.01, timeout=(2, 30),
                   max_rate_limited_seconds=1.0)
DRAW = date(2026, 11, 27)  # window [2026-11-25 23:00Z, 2026-11-26 23:00Z)
A, B, C = "+2348031200000", "+2348031200001", "+2348031200002"


def _recharge(did: str, tid: str, amount: object, when: str = "2026-11-26T10:00:00+01:00",
              **person: object) -> dict:
    return build_event("recharge", did, {"transaction_id": tid, "amount_ngn": amount},
                       timestamp=when, set_properties=person or None)


def _settle(server: EmulatorServer) -> None:
    time.sleep(server.behaviours.ingestion_lag_seconds + 0.3)


def _source(client: PostHogClient, strategy: str = "hogql") -> PostHogDataSource:
    generator = CohortGenerator(client, poll_seconds=0.05)
    return PostHogDataSource(client, PromotionConfig(), strategy, monitor=False,
                             cohort_generator=generator)


def test_a_rerun_after_late_data_is_never_served_a_cached_answer(emulator):
    client = PostHogClient.from_env(emulator.env(), policy=FAST)
    client.capture_batch([_recharge(A, "T1", 500)])
    _settle(emulator)
    first = _source(client).get_eligible_participants(DRAW)
    assert first.participants["msisdn"].tolist() == [A]
    client.capture_batch([_recharge(B, "T2", 300)])  # a late recharge
    _settle(emulator)
    again = _source(client).get_eligible_participants(DRAW)
    assert again.participants["msisdn"].tolist() == [A, B]
    cached = client.query("SELECT count() FROM events")  # blocking: cached for hours
    assert client.query("SELECT count() FROM events").cached is True
    assert cached.results == client.query("SELECT count() FROM events").results


def test_a_subscriber_blacklisted_after_recharging_is_out_on_both_paths(emulator):
    client = PostHogClient.from_env(emulator.env(), policy=FAST)
    client.capture_batch([_recharge(A, "T1", 500, blacklisted=False),
                          _recharge(B, "T2", 500, blacklisted=False)])
    _settle(emulator)
    client.capture_event("$set", A, set_properties={"blacklisted": True})  # after recharging
    _settle(emulator)
    # the event still carries blacklisted=false (persons on events)...
    stamped = client.query("SELECT person.properties.blacklisted FROM events "
                           f"WHERE distinct_id = '{A}' AND event = 'recharge'",
                           refresh="force_blocking").results
    assert str(stamped[0][0]).lower() in ("false", "0")
    # ...but both strategies read the person's current value
    hogql = _source(client).get_eligible_participants(DRAW)
    cohort = _source(client, "cohort").get_eligible_participants(DRAW)
    assert hogql.participants["msisdn"].tolist() == [B]
    pd.testing.assert_frame_equal(hogql.participants, cohort.participants)
    assert hogql.summary.rows_excluded["blacklisted"] == 1


def test_timestamps_from_the_source_are_never_shifted_by_sent_at(emulator):
    client = PostHogClient.from_env(emulator.env(), policy=FAST)
    near_cutoff = "2026-11-26T23:59:59.500+01:00"  # half a second before the cutoff
    client.capture_batch([_recharge(A, "T1", 500, when=near_cutoff)])
    _settle(emulator)
    stored = emulator.store.events.iloc[0]
    assert stored["timestamp"] == pd.Timestamp(near_cutoff).tz_convert(None)
    assert stored["properties"]["$ignore_sent_at"] is True
    assert _source(client).get_eligible_participants(DRAW).participants["msisdn"].tolist() == [A]


def test_text_amounts_after_a_numeric_first_one_are_classified_by_the_rules(emulator):
    client = PostHogClient.from_env(emulator.env(), policy=FAST)
    client.capture_batch([_recharge(A, "T1", 500)])  # amount_ngn becomes Numeric
    _settle(emulator)
    client.capture_batch([_recharge(A, "T2", "abc"), _recharge(B, "T3", " 100 "),
                          _recharge(C, "T4", "")])
    _settle(emulator)
    typed = client.query("SELECT properties.amount_ngn FROM events WHERE "
                         "JSONExtractString(properties, 'transaction_id') = 'T2'",
                         refresh="force_blocking").results
    assert typed == [[None]]  # PostHog's typed read turns the text into NULL
    result = _source(client).get_eligible_participants(DRAW)
    assert result.summary.rows_rejected == {"missing_amount": 1, "non_numeric_amount": 1}
    assert result.participants["msisdn"].tolist() == [A, B]


def test_static_cohort_inserts_go_1000_at_a_time(emulator):
    client = PostHogClient.from_env(emulator.env(), policy=FAST)
    numbers = [f"+234803{1000000 + i:07d}" for i in range(2500)]
    client.capture_batch([build_event("$set", n, set_properties={"msisdn": n}) for n in numbers])
    emulator.ingest_pending()
    people = [p["uuid"] for p in client.iter_persons(page_size=1000)]
    cohort = client.create_cohort("sample", is_static=True)
    assert client.add_persons_to_static_cohort(cohort["id"], people) == 3
    patches = [r for r in emulator.request_log if r["method"] == "PATCH"]
    assert [r["status"] for r in patches] == [200, 200, 200]


def test_the_hogql_throttle_is_waited_out_within_its_bound_or_named():
    with EmulatorServer(profile="cloud", ingestion_lag_seconds=0, hogql_rate_limit=3) as server:
        client = PostHogClient.from_env(server.env(), policy=FAST)
        for _ in range(3):
            client.query("SELECT 1", refresh="force_blocking")
        started = time.monotonic()
        with pytest.raises(PostHogRateLimitedError, match=r"rate limit \(429\)"):
            client.query("SELECT 1", refresh="force_blocking")
        assert time.monotonic() - started < 5  # PostHog asks for most of an hour: bounded
    own = RetryPolicy(timeout=(2, 30), hogql_per_hour=2, max_rate_limited_seconds=1.0)
    with EmulatorServer(profile="cloud", ingestion_lag_seconds=0) as server:
        client = PostHogClient.from_env(server.env(), policy=own)
        client.query("SELECT 1")
        client.query("SELECT 1")
        assert client.queries_left_this_hour() == 0
        with pytest.raises(PostHogRateLimitedError, match="budget of 2 queries per hour"):
            client.query("SELECT 1")
        queries = [r for r in server.request_log if "/query" in r["path"]]
        assert len(queries) == 2  # refused before PostHog was asked
