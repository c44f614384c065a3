"""PostHog client pieces that need no server: settings, URLs, events, Retry-After, scopes.

Everything that crosses HTTP is tested against the emulator in tests/integration/.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from drawkit.config import Settings
from drawkit.errors import InputError, SettingsError
from drawkit.posthog import REQUIRED_SCOPES, PostHogClient, build_event, capture_url_for
from drawkit.posthog.scopes import scope_for
from drawkit.posthog.transport import RetryPolicy, parse_retry_after

ENV = {
    "POSTHOG_API_KEY": "phx_unit_test_key_123456",
    "POSTHOG_PROJECT_ID": "123",
    "POSTHOG_BASE_URL": "http://127.0.0.1:8000",
    "POSTHOG_PROJECT_API_KEY": "phc_unit_test_key_123456",
}


def test_from_env_builds_a_client_without_showing_keys():
    client = PostHogClient.from_env(ENV)
    assert client.base_url == "http://127.0.0.1:8000"
    assert client.project_id == "123"
    assert "phx_" not in repr(client) and "phc_" not in repr(client)
    assert client.session.headers["Authorization"] == "Bearer phx_unit_test_key_123456"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"POSTHOG_API_KEY": ""}, "POSTHOG_API_KEY"),
        ({"POSTHOG_PROJECT_ID": ""}, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_PROJECT_ID": "abc"}, "POSTHOG_PROJECT_ID"),
        ({"POSTHOG_BASE_URL": "http://posthog.example.com"}, "POSTHOG_BASE_URL"),
        ({"POSTHOG_BASE_URL": "ftp://127.0.0.1"}, "POSTHOG_BASE_URL"),
    ],
)
def test_from_env_names_the_bad_variable(change, named):
    with pytest.raises(SettingsError, match=named):
        PostHogClient.from_env({**ENV, **change})


def test_plain_http_refused_for_non_loopback_in_constructor():
    with pytest.raises(SettingsError, match="HTTPS is required"):
        PostHogClient("http://10.0.0.5", "phx_abcdefghij", 1)
    assert PostHogClient("http://[::1]:9", "phx_abcdefghij", 1).base_url == "http://[::1]:9"


def test_from_settings_requires_key_and_project():
    with pytest.raises(SettingsError, match="POSTHOG_API_KEY"):
        PostHogClient.from_settings(Settings(api_key=None, project_id="1"))
    with pytest.raises(SettingsError, match="POSTHOG_PROJECT_ID"):
        PostHogClient.from_settings(Settings(api_key="phx_abcdefgh", project_id=None))


@pytest.mark.parametrize(
    ("base", "capture"),
    [
        ("https://us.posthog.com", "https://us.i.posthog.com"),
        ("https://app.posthog.com/", "https://us.i.posthog.com"),
        ("https://eu.posthog.com", "https://eu.i.posthog.com"),
        ("https://posthog.mycorp.ng", "https://posthog.mycorp.ng"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_capture_host_follows_posthog_cloud_ingestion(base, capture):
    assert capture_url_for(base) == capture


def test_capture_without_project_key_names_the_variable():
    client = PostHogClient("http://127.0.0.1:9", "phx_abcdefghij", 1)
    with pytest.raises(SettingsError, match="POSTHOG_PROJECT_API_KEY"):
        client.capture_event("recharge", "+2348031234567")


def test_build_event_normalises_timestamp_and_uuid():
    lagos = datetime(2026, 11, 26, 23, 30, tzinfo=UTC) + timedelta(hours=1)
    event = build_event(
        "recharge", "+2348031234567", {"amount_ngn": 200}, timestamp=lagos,
        uuid="6F1C2E0A-8D7B-5B3E-9C41-D2A7E0B3F915", set_properties={"blacklisted": False},
    )
    assert event["timestamp"] == "2026-11-27T00:30:00+00:00"
    assert event["uuid"] == "6f1c2e0a-8d7b-5b3e-9c41-d2a7e0b3f915"
    assert event["properties"]["$set"] == {"blacklisted": False}
    assert event["properties"]["amount_ngn"] == 200
    naive = build_event("x", "d", timestamp="2026-01-02T03:04:05")
    assert naive["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert uuid.UUID(naive["uuid"]).version == 4

@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "", "distinct_id": "d"}, "needs a name and a distinct_id"),
        ({"event": "x", "distinct_id": "d", "uuid": "not-a-uuid"}, "bad timestamp or uuid"),
        ({"event": "x", "distinct_id": "d", "timestamp": "soon"}, "bad timestamp or uuid"),
        ({"event": "x", "distinct_id": "d", "timestamp": ""}, "timestamp is empty"),
    ],
)
def test_a_bad_event_is_an_input_error_naming_what_is_wrong(kwargs, message):
    with pytest.raises(InputError, match=message):
        build_event(**kwargs)


def _response(status: int, headers: dict | None = None, body: dict | None = None):
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = json.dumps(body or {}).encode()
    return response


def test_retry_after_seconds_date_and_detail():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_retry_after(_response(429, {"Retry-After": "3"}), lambda: now) == 3.0
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(_response(429, {"Retry-After": later}), lambda: now) == 7.0
    detail = {"detail": "Request was throttled. Expected available in 12 seconds."}
    assert parse_retry_after(_response(429, body=detail), lambda: now) == 12.0
    assert parse_retry_after(_response(503), lambda: now) is None


def test_retry_wait_honours_retry_after_and_bounds_each_kind_of_wait():
    from tenacity import RetryCallState

    from drawkit.posthog.transport import Transport, _Retryable

    transport = Transport(policy=RetryPolicy(backoff_initial=0.5, max_seconds=10,
                                             max_retry_after=5, max_rate_limited_seconds=7,
                                             max_attempts=3))

    def state(attempt: int, exc: Exception, elapsed: float) -> RetryCallState:
        s = RetryCallState(None, None, (), {})
        s.attempt_number = attempt
        s.set_exception((type(exc), exc, None))
        s.outcome_timestamp = s.start_time + elapsed
        return s

    fresh = {"limited": 0.0}
    assert transport._wait(state(1, _Retryable(503, "x"), 0), dict(fresh)) == 0.5
    assert transport._wait(state(3, _Retryable(503, "x"), 0), dict(fresh)) == 2.0
    assert transport._wait(state(4, _Retryable(503, "x"), 9.5), dict(fresh)) == 0.5
    limits = dict(fresh)
    assert transport._wait(state(1, _Retryable(429, "x", retry_after=3), 0), limits) == 3.0
    assert transport._wait(state(2, _Retryable(429, "x", retry_after=60), 3), limits) == 4.0
    assert limits["limited"] == 7.0  # the 429 bound is spent: the next 429 stops
    assert transport._stop(state(3, _Retryable(429, "x"), 7), limits)
    # time spent waiting out 429s does not count against the other failures' bound
    assert not transport._stop(state(3, _Retryable(503, "x"), 9), limits)
    assert transport._stop(state(5, _Retryable(503, "x"), 9), limits)  # 3 non-429 failures


def test_default_read_timeout_outlasts_posthogs_query_limit():
    from drawkit.posthog.transport import SERVER_QUERY_SECONDS

    assert RetryPolicy().timeout[1] > SERVER_QUERY_SECONDS
    assert RetryPolicy().hogql_per_hour == 120


def test_query_budget_waits_for_a_slot_or_refuses_beyond_its_bound():
    from drawkit.errors import PostHogRateLimitedError
    from drawkit.posthog.transport import QueryBudget

    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    budget = QueryBudget(3, clock=lambda: now[0], sleep=sleep)
    for t in (0.0, 10.0, 20.0):
        now[0] = t
        assert budget.acquire(max_wait=0) == 0.0
        budget.charge()
    now[0] = 30.0
    with pytest.raises(PostHogRateLimitedError, match="budget of 3 queries per hour"):
        budget.acquire(max_wait=60)
    assert budget.acquire(max_wait=3600) == 3570.0  # until the first query is an hour old
    assert waits == [3570.0] and budget.used() == 2 and budget.charged == 3


def test_required_scopes_cover_every_private_call():
    calls = [
        ("GET", "GET /api/projects/{id}/"),
        ("GET", "GET /cohorts/"),
        ("POST", "POST /cohorts/"),
        ("GET", "GET /cohorts/{id}/persons/"),
        ("GET", "GET /persons/"),
        ("POST", "POST /query/"),
    ]
    needed = {scope_for(method, endpoint) for method, endpoint in calls}
    assert needed == set(REQUIRED_SCOPES)
    assert all(REQUIRED_SCOPES.values())

