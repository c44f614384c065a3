"""PostHogClient over real HTTP against the emulator: every method, pages, retries, errors."""

from __future__ import annotations

import logging
import time

import pandas as pd
import pytest

from drawkit.errors import (
    InputError,
    PostHogAuthError,
    PostHogBadRequestError,
    PostHogNotFoundError,
    PostHogRateLimitedError,
    PostHogUnavailableError,
)
from drawkit.offline.posthog_emulator.server import EmulatorServer
from drawkit.posthog import PostHogClient, RetryPolicy, build_event

EMULATOR_PROFILE = "cloud"  # tests/integration/conftest.py: PostHog Cloud's behaviours

FAST = RetryPolicy(max_attempts=4, max_seconds=10, backoff_initial=0.01, backoff_max=0.05,
                   max_retry_after=0.05, max_rate_limited_seconds=1.0, timeout=(2, 5))
NUMBERS = [f"+23480312{i:05d}" for i in range(12)]


class Sleeps:
    """Records the waits the retry policy asks for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _client(emulator: EmulatorServer, policy: RetryPolicy = FAST, **kw) -> PostHogClient:
    return PostHogClient.from_env(emulator.env(), policy=policy, **kw)


def _requests(emulator: EmulatorServer, method: str, fragment: str) -> list[dict]:
    return [r for r in emulator.request_log if r["method"] == method and fragment in r["path"]]


def _persons(client: PostHogClient, emulator: EmulatorServer, numbers=NUMBERS) -> None:
    events = [
        build_event("recharge", n, {"amount_ngn": 100 * (i + 1)},
                    set_properties={"msisdn": n, "blacklisted": i % 5 == 0})
        for i, n in enumerate(numbers)
    ]
    client.capture_batch(events)
    emulator.ingest_pending()  # setup: skip the ingestion lag these tests are not about


def test_from_env_uses_the_emulator_settings(emulator):
    client = PostHogClient.from_env()
    assert client.base_url == emulator.url
    project = client.get_project()
    assert str(project["id"]) == emulator.project_id
    frame = client.metrics_frame()
    row = frame.set_index("endpoint").loc["GET /api/projects/{id}/"]
    assert (row["calls"], row["requests"], row["retries"], row["errors"]) == (1, 1, 0, 0)
    assert row["latency_total_s"] > 0


def test_cohort_create_get_and_list_across_many_pages(emulator):
    client = _client(emulator)
    created = [client.create_cohort(f"c{i}", is_static=True) for i in range(7)]
    assert client.get_cohort(created[3]["id"])["name"] == "c3"
    emulator.request_log.clear()
    listed = client.list_cohorts(page_size=2)
    assert sorted(c["name"] for c in listed) == [f"c{i}" for i in range(7)]
    assert len(_requests(emulator, "GET", "/cohorts")) == 4  # 2+2+2+1


def test_cohort_persons_follow_next_to_the_end(emulator):
    client = _client(emulator)
    _persons(client, emulator)
    people = client.get_persons()
    cohort = client.create_cohort("sample", is_static=True)
    client.add_persons_to_static_cohort(cohort["id"], [p["uuid"] for p in people])
    emulator.request_log.clear()
    members = list(client.iter_cohort_persons(cohort["id"], page_size=5))
    assert sorted(m["distinct_ids"][0] for m in members) == sorted(NUMBERS)
    assert len(_requests(emulator, "GET", "/persons")) == 3  # 5+5+2
    assert len(client.get_cohort_persons(cohort["id"], page_size=100)) == len(NUMBERS)


def test_get_persons_by_distinct_id_search_and_properties(emulator):
    client = _client(emulator)
    _persons(client, emulator)
    found = client.get_persons(distinct_id=NUMBERS[3])
    assert [p["distinct_ids"] for p in found] == [[NUMBERS[3]]]
    assert client.get_persons(distinct_id="+2348099999999") == []
    assert [p["distinct_ids"][0] for p in client.get_persons(search=NUMBERS[4])] == [NUMBERS[4]]
    banned = client.get_persons(
        properties=[{"key": "blacklisted", "value": ["true"], "operator": "exact",
                     "type": "person"}],
        page_size=2,
    )
    assert sorted(p["distinct_ids"][0] for p in banned) == [NUMBERS[0], NUMBERS[5], NUMBERS[10]]


def test_capture_batch_chunks_gzip_and_resending_records_once(emulator):
    client = _client(emulator)
    events = [build_event("recharge", NUMBERS[i % 12], {"amount_ngn": 100, "i": i})
              for i in range(2500)]
    assert client.capture_batch(events, chunk_size=1000) == 2500
    assert len(_requests(emulator, "POST", "/batch")) == 3
    emulator.ingest_pending()
    assert emulator.store.event_count() == 2500
    client.capture_batch(events, chunk_size=1000)  # same uuids, same timestamps
    emulator.ingest_pending()
    time.sleep(emulator.behaviours.merge_delay_seconds + 0.5)  # PostHog's background merge
    assert client.query("SELECT count() FROM events", refresh="force_blocking").results == [
        [2500]
    ]
    uid = client.capture_event("recharge", NUMBERS[0], {"amount_ngn": 5},
                               timestamp="2026-11-26T10:00:00+01:00")
    emulator.ingest_pending()
    stored = emulator.store.events.set_index("uuid").loc[uid]
    assert pd.Timestamp(stored["timestamp"]) == pd.Timestamp("2026-11-26T09:00:00")


def test_query_returns_columns_rows_and_a_frame(emulator):
    client = _client(emulator)
    _persons(client, emulator)
    result = client.query(
        "SELECT distinct_id AS who, toFloat(properties.amount_ngn) AS amount FROM events "
        "WHERE distinct_id = {who} LIMIT 10",
        values={"who": NUMBERS[2]},
    )
    assert result.columns == ["who", "amount"]
    assert result.results == [[NUMBERS[2], 300.0]]
    frame = client.query_frame("SELECT count() AS n FROM events")
    assert frame.to_dict("records") == [{"n": 12}]
    limited = client.query("SELECT distinct_id FROM events ORDER BY distinct_id LIMIT 5")
    assert len(limited) == 5 and not limited.has_more  # Cloud: hasMore only without LIMIT
    assert client.query("SELECT 1", refresh="force_blocking").cached is False
    with pytest.raises(InputError, match="refresh must be one of"):
        client.query("SELECT 1", refresh="sometimes")


def test_hogql_error_is_a_bad_request_with_postgres_detail(emulator):
    client = _client(emulator)
    with pytest.raises(PostHogBadRequestError, match=r"PostHog rejected the HogQL query \(400\)"):
        client.query("SELECT nosuchfunction(1) FROM events")
    assert len(_requests(emulator, "POST", "/query")) == 1  # a 400 is not retried


def test_5xx_and_429_are_retried_honouring_retry_after(emulator):
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=5, max_seconds=60, backoff_initial=0.01,
                         max_retry_after=10, timeout=(2, 5))
    client = _client(emulator, policy, sleep=sleeps)
    emulator.faults.update(script=[503, 429, 502], retry_after=3)
    assert str(client.get_project()["id"]) == emulator.project_id
    statuses = [r["status"] for r in _requests(emulator, "GET", "/api/projects/")]
    assert statuses == [503, 429, 502, 200]
    assert sleeps.waits[1] == 3.0  # Retry-After is the floor of the wait after the 429
    assert sleeps.waits[0] < 1 and sleeps.waits[2] < 1
    row = client.metrics_frame().set_index("endpoint").loc["GET /api/projects/{id}/"]
    assert (row["calls"], row["requests"], row["retries"], row["errors"]) == (1, 4, 3, 0)


def test_retries_stop_at_max_attempts(emulator):
    client = _client(emulator)
    emulator.faults.update(error_rate=1.0)
    with pytest.raises(PostHogUnavailableError, match="after 4 attempt") as info:
        client.list_cohorts()
    assert info.value.attempts == 4 and info.value.status == 503
    assert len(_requests(emulator, "GET", "/cohorts")) == 4
    emulator.faults.reset()
    emulator.faults.update(rate_limit_rate=1.0, retry_after=1)
    with pytest.raises(PostHogRateLimitedError, match=r"rate limit \(429\)"):
        client.get_project()


def test_retries_stop_at_the_total_time_bound(emulator):
    policy = RetryPolicy(max_attempts=50, max_seconds=1.0, backoff_initial=0.2,
                         backoff_max=0.2, timeout=(2, 5))
    client = _client(emulator, policy)
    emulator.faults.update(error_rate=1.0)
    started = time.monotonic()
    with pytest.raises(PostHogUnavailableError) as info:
        client.get_project()
    assert time.monotonic() - started < 2.5
    assert 3 <= info.value.attempts < 50


def test_read_timeouts_and_dropped_connections_are_retried(emulator):
    policy = RetryPolicy(max_attempts=3, max_seconds=10, backoff_initial=0.01,
                         timeout=(2, 0.3))
    client = _client(emulator, policy)
    emulator.faults.update(script=["slow", "drop"], slow_seconds=1.0)
    assert str(client.get_project()["id"]) == emulator.project_id
    row = client.metrics_frame().set_index("endpoint").loc["GET /api/projects/{id}/"]
    assert (row["requests"], row["retries"]) == (3, 2)
    emulator.faults.update(slow_rate=1.0, slow_seconds=1.0)
    with pytest.raises(PostHogUnavailableError, match="timed out"):
        client.get_project()


def test_401_names_the_variable_and_is_not_retried(emulator):
    env = {**emulator.env(), "POSTHOG_API_KEY": "phx_wrong_key_0123456789"}
    client = PostHogClient.from_env(env, policy=FAST)
    with pytest.raises(PostHogAuthError) as info:
        client.list_cohorts()
    assert str(info.value) == (
        f"POSTHOG_API_KEY was rejected (401) by {emulator.url}: check it is a current "
        "personal API key (phx_...) copied in full"
    )
    assert info.value.status == 401
    assert len(_requests(emulator, "GET", "/cohorts")) == 1


def test_404_project_and_cohort_messages(emulator):
    env = {**emulator.env(), "POSTHOG_PROJECT_ID": "999"}
    with pytest.raises(PostHogNotFoundError) as info:
        PostHogClient.from_env(env, policy=FAST).get_cohort(1)
    assert str(info.value) == f"project 999 not found at {emulator.url}: check POSTHOG_PROJECT_ID"
    client = _client(emulator)
    with pytest.raises(PostHogNotFoundError) as info:
        client.get_cohort(42)
    assert str(info.value) == f"cohort 42 not found in project {emulator.project_id}"
    with pytest.raises(PostHogNotFoundError, match="cohort 42 not found"):
        client.get_cohort_persons(42)


def test_403_names_the_missing_scope():
    with EmulatorServer(scopes=["query:read", "project:read"]) as server:
        client = PostHogClient.from_env(server.env(), policy=FAST)
        with pytest.raises(PostHogAuthError, match="scope 'cohort:write'") as info:
            client.create_cohort("x", is_static=True)
        assert info.value.status == 403
        assert "POSTHOG_API_KEY" in str(info.value)


def test_capture_with_a_bad_project_key_names_that_variable(emulator):
    client = PostHogClient(emulator.url, emulator.api_key, emulator.project_id,
                           "phx_personal_key_as_token_123", policy=FAST)
    with pytest.raises(PostHogAuthError, match=r"POSTHOG_PROJECT_API_KEY was rejected \(401\)"):
        client.capture_event("recharge", NUMBERS[0])
    assert len(_requests(emulator, "POST", "/batch")) == 1


def test_logs_carry_context_but_no_key_or_number(emulator, caplog):
    client = _client(emulator)
    emulator.faults.update(script=[503])
    with caplog.at_level(logging.DEBUG, logger="drawkit.posthog"):
        client.get_persons(distinct_id=NUMBERS[1])
        with pytest.raises(PostHogNotFoundError):
            client.get_cohort(77)
    text = caplog.text
    assert "GET /persons/ attempt=1 failed" in text and "503" in text
    assert "status=404" in text
    assert emulator.api_key not in text and emulator.project_api_key not in text
    assert NUMBERS[1] not in text and NUMBERS[1][1:] not in text
