"""Each PostHog Cloud behaviour the emulator models, over real HTTP (one test per behaviour).

Every test starts its own emulator in the cloud profile, changing only the timings that would
make a test slow (the lag, the cohort calculation time, the merge delay).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from emulator_http import TIMEOUT, api, auth, capture, hogql, make_event, wait_calculated

from drawkit.offline.posthog_emulator import EmulatorServer

FAST = {"ingestion_lag_seconds": 0, "cohort_calculation_seconds": 0.2, "merge_delay_seconds": 0.5}


@pytest.fixture
def cloud() -> Iterator[EmulatorServer]:
    with EmulatorServer(profile="cloud", **FAST) as server:
        yield server


def query(
    server: EmulatorServer, text: str, refresh: str | None = None, **node: object
) -> requests.Response:
    body = {"query": {"kind": "HogQLQuery", "query": text, **node}}
    if refresh is not None:
        body["refresh"] = refresh
    return requests.post(f"{server.url}/api/environments/{server.project_id}/query/", json=body,
                         headers=auth(server), timeout=TIMEOUT)  # fmt: skip


def count(server: EmulatorServer, refresh: str = "force_blocking") -> int:
    response = query(server, "SELECT count() FROM events", refresh)
    assert response.status_code == 200, response.text
    return response.json()["results"][0][0]


def test_blocking_serves_the_cached_answer_until_stale_and_force_blocking_recomputes(cloud):
    capture(cloud, [make_event(i) for i in range(3)])
    first = query(cloud, "SELECT count() FROM events", "blocking").json()
    assert first["results"] == [[3]] and first["is_cached"] is False
    capture(cloud, [make_event(i) for i in range(3, 8)])
    cached = query(cloud, "SELECT count() FROM events", "blocking").json()
    assert cached["results"] == [[3]] and cached["is_cached"] is True  # stale data, served
    assert cached["last_refresh"] == first["last_refresh"]
    assert query(cloud, "SELECT count() FROM events").json()["results"] == [[3]]  # default
    fresh = query(cloud, "SELECT count() FROM events", "force_blocking").json()
    assert fresh["results"] == [[8]] and fresh["is_cached"] is False
    cloud.configure(cache_max_age_seconds=0)  # now everything cached is stale
    capture(cloud, [make_event(9)])
    assert query(cloud, "SELECT count() FROM events", "blocking").json()["results"] == [[9]]


def test_async_refresh_answers_202_then_the_status_completes(cloud):
    capture(cloud, [make_event(i) for i in range(4)])
    started = query(cloud, "SELECT count() FROM events", "force_async")
    assert started.status_code == 202
    status = started.json()["query_status"]
    assert status["complete"] is False and status["id"]
    url = f"{cloud.url}/api/environments/{cloud.project_id}/query/{status['id']}/"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        polled = requests.get(url, headers=auth(cloud), timeout=TIMEOUT)
        if polled.status_code == 200:
            break
        assert polled.status_code == 202
        time.sleep(0.05)
    done = polled.json()["query_status"]
    assert done["complete"] is True and done["results"]["results"] == [[4]]


def test_captured_events_are_invisible_during_the_ingestion_lag():
    with EmulatorServer(profile="cloud", **{**FAST, "ingestion_lag_seconds": 1.5}) as server:
        sent = time.monotonic()
        assert capture(server, [make_event(i) for i in range(5)]).status_code == 200
        assert count(server) == 0
        seen = 0
        while seen < 5 and time.monotonic() - sent < 3:
            time.sleep(0.1)
            seen = count(server)
        assert seen == 5
        assert 0.75 <= time.monotonic() - sent <= 1.5 + 1.0  # within the lag (plus polling)


def test_hogql_throttle_answers_a_storm_with_429_and_retry_after():
    with EmulatorServer(profile="cloud", hogql_rate_limit=3, **FAST) as server:
        answers = [query(server, "SELECT 1", "force_blocking") for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429, 429]
    refused = answers[-1]
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 3600
    assert refused.json() == {
        "type": "throttled_error", "code": "throttled", "attr": None,
        "detail": f"Request was throttled. Expected available in {wait} seconds.",
    }  # fmt: skip


def test_a_query_over_the_concurrency_limit_waits_then_gets_429():
    with EmulatorServer(profile="cloud", concurrency_limit=1, concurrency_wait_seconds=0.3,
                        max_execution_seconds=3, **FAST) as server:  # fmt: skip
        capture(server, [make_event(i, uuid=str(uuid.uuid4())) for i in range(3000)])
        heavy = "SELECT count() FROM events a CROSS JOIN events b CROSS JOIN events c"
        slow = threading.Thread(target=query, args=(server, heavy, "force_blocking"))
        slow.start()
        time.sleep(0.3)
        refused = query(server, "SELECT 1", "force_blocking")
        slow.join()
        assert refused.status_code == 429
        assert refused.json()["detail"].startswith("Exceeded maximum concurrency limit: 1")
        assert "Retry-After" in refused.headers
        assert query(server, "SELECT 1", "force_blocking").status_code == 200  # slot free again


def test_person_properties_on_events_are_the_values_at_ingestion(cloud):
    number = "+2348030000001"
    capture(cloud, [{"event": "recharge", "distinct_id": number, "uuid": str(uuid.uuid4()),
                     "properties": {"$set": {"blacklisted": False}}}])  # fmt: skip
    capture(cloud, [{"event": "$set", "distinct_id": number, "$set": {"blacklisted": True}}])
    on_event = "SELECT person.properties.blacklisted FROM events WHERE event = 'recharge'"
    assert query(cloud, on_event, "force_blocking").json()["results"] == [[False]]
    current = "SELECT properties.blacklisted FROM persons"
    assert query(cloud, current, "force_blocking").json()["results"] == [[True]]
    joined = query(cloud, on_event, "force_blocking",
                   modifiers={"personsOnEventsMode": "person_id_override_properties_joined"})
    assert joined.json()["results"] == [[True]]


def test_sent_at_skew_moves_a_timestamp_across_midnight(cloud):
    day = datetime(2026, 11, 19, tzinfo=UTC)
    late = {"event": "recharge", "distinct_id": "+2348030000002", "uuid": str(uuid.uuid4()),
            "timestamp": "2026-11-19T23:59:58Z"}  # fmt: skip
    body = {"api_key": cloud.project_api_key, "batch": [late], "sent_at": "2026-11-19T23:59:59Z"}
    before = datetime.now(UTC)
    assert requests.post(f"{cloud.url}/batch/", json=body, timeout=TIMEOUT).status_code == 200
    stamp = query(cloud, "SELECT timestamp FROM events", "force_blocking").json()["results"][0][0]
    stored = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert stored.date() != day.date()  # the client's 23:59:58 is no longer on the 19th
    assert abs(stored - (before - timedelta(seconds=1))) < timedelta(seconds=5)
    kept = {**late, "uuid": str(uuid.uuid4()), "properties": {"$ignore_sent_at": True}}
    body["batch"] = [kept]
    requests.post(f"{cloud.url}/batch/", json=body, timeout=TIMEOUT)
    rows = query(cloud, "SELECT timestamp FROM events ORDER BY timestamp", "force_blocking")
    assert rows.json()["results"][0] == ["2026-11-19T23:59:58Z"]


def test_the_first_type_seen_wins_and_a_text_amount_reads_null(cloud):
    first = make_event(1, properties={"amount_ngn": 100})
    text = make_event(2, properties={"amount_ngn": "1,000"})
    capture(cloud, [first, text])
    rows = query(cloud, "SELECT distinct_id, properties.amount_ngn, "
                 "toFloat(properties.amount_ngn) FROM events ORDER BY distinct_id",
                 "force_blocking").json()  # fmt: skip
    assert [r[1:] for r in rows["results"]] == [[100.0, 100.0], [None, None]]
    raw = query(cloud, "SELECT JSONExtractRaw(properties, 'amount_ngn') FROM events "
                "ORDER BY distinct_id", "force_blocking").json()  # fmt: skip
    assert raw["results"] == [["100"], ['"1,000"']]  # the stored text is still there
    with EmulatorServer(profile="ideal") as ideal:
        capture(ideal, [first, text])
        untyped = hogql(ideal, "SELECT properties.amount_ngn FROM events ORDER BY distinct_id")
        assert untyped.json()["results"] == [["100"], ["1,000"]]


def test_cohort_filters_are_stored_normalised(cloud):
    sent = {"properties": {"type": "AND", "values": [
        {"type": "person", "key": "blacklisted", "operator": "is_not", "value": ["true"]},
        {"type": "behavioral", "key": "recharge", "value": "performed_event",
         "event_type": "events", "time_value": 30, "time_interval": "day"},
    ]}}  # fmt: skip
    created = requests.post(api(cloud, "cohorts/"), json={"name": "n", "filters": sent},
                            headers=auth(cloud), timeout=TIMEOUT).json()  # fmt: skip
    stored = created["filters"]
    assert stored != sent
    for leaf in stored["properties"]["values"]:
        assert leaf["negation"] is False
        assert leaf["bytecode"][:2] == ["_H", 1] and len(leaf["conditionHash"]) == 16
    again = requests.get(api(cloud, f"cohorts/{created['id']}/"), headers=auth(cloud),
                         timeout=TIMEOUT).json()  # fmt: skip
    assert again["filters"] == stored and again["cohort_type"] == "realtime"


def test_cohort_calculation_takes_its_time():
    with EmulatorServer(profile="cloud", cohort_calculation_seconds=1.0) as server:
        body = {"name": "c", "filters": {"properties": {"type": "AND", "values": [
            {"type": "person", "key": "x", "operator": "is_set"}]}}}  # fmt: skip
        created = requests.post(api(server, "cohorts/"), json=body, headers=auth(server),
                                timeout=TIMEOUT).json()  # fmt: skip
        started = time.monotonic()
        assert created["is_calculating"] is True and created["count"] is None
        time.sleep(0.5)
        middle = requests.get(api(server, f"cohorts/{created['id']}/"), headers=auth(server),
                              timeout=TIMEOUT).json()  # fmt: skip
        assert middle["is_calculating"] is True
        assert wait_calculated(server, created["id"])["count"] == 0
        assert time.monotonic() - started >= 0.9


def test_behavioural_filters_compare_event_counts(cloud):
    events = [make_event(i % 3, uuid=str(uuid.uuid4()), timestamp=datetime.now(UTC).isoformat())
              for i in range(7)]  # person 0: 3 events, 1: 2, 2: 2  # fmt: skip
    capture(cloud, events)
    body = {"name": "three", "filters": {"properties": {"type": "AND", "values": [
        {"type": "behavioral", "key": "recharge", "value": "performed_event_multiple",
         "event_type": "events", "operator": "gte", "operator_value": 3,
         "time_value": 1, "time_interval": "day"}]}}}  # fmt: skip
    created = requests.post(api(cloud, "cohorts/"), json=body, headers=auth(cloud),
                            timeout=TIMEOUT).json()  # fmt: skip
    assert wait_calculated(cloud, created["id"])["count"] == 1


def test_a_static_cohort_from_a_query_and_a_dynamic_one_refused(cloud):
    capture(cloud, [make_event(i) for i in range(6)])  # amounts 100..600
    hogql_query = {"kind": "HogQLQuery", "query": "SELECT person_id FROM events GROUP BY "
                   "person_id HAVING sum(toFloat(properties.amount_ngn)) >= 500"}  # fmt: skip
    static = requests.post(api(cloud, "cohorts/"), json={"name": "sum", "is_static": True,
                           "query": hogql_query}, headers=auth(cloud), timeout=TIMEOUT)  # fmt: skip
    assert static.status_code == 201 and static.json()["is_calculating"] is True
    assert wait_calculated(cloud, static.json()["id"])["count"] == 2  # 500 and 600
    dynamic = requests.post(api(cloud, "cohorts/"), json={"name": "d", "query": hogql_query},
                            headers=auth(cloud), timeout=TIMEOUT)  # fmt: skip
    assert dynamic.status_code == 400
    assert dynamic.json()["detail"] == (
        "Cannot create a dynamic cohort with a query. Set is_static to true."
    )


def test_static_inserts_take_at_most_1000_ids(cloud):
    capture(cloud, [make_event(1)])
    person = next(iter(cloud.store.persons_by_id))
    cohort = requests.post(api(cloud, "cohorts/"), json={"name": "s", "is_static": True},
                           headers=auth(cloud), timeout=TIMEOUT).json()  # fmt: skip
    url = api(cloud, f"cohorts/{cohort['id']}/add_persons_to_static_cohort/")
    too_many = [str(uuid.uuid4()) for _ in range(1000)] + [person]
    refused = requests.patch(url, json={"person_ids": too_many}, headers=auth(cloud),
                             timeout=TIMEOUT)  # fmt: skip
    assert refused.status_code == 400 and refused.json()["detail"] == "List size exceeds limit"
    added = requests.patch(url, json={"person_ids": too_many[-1000:]}, headers=auth(cloud),
                           timeout=TIMEOUT)  # fmt: skip
    assert added.status_code == 200  # unknown ids are skipped, the known one is added
    members = requests.get(api(cloud, f"cohorts/{cohort['id']}/persons/"), headers=auth(cloud),
                           timeout=TIMEOUT).json()["results"]  # fmt: skip
    assert [m["id"] for m in members] == [person]


def test_cohort_persons_list_ten_distinct_ids_newest_first(cloud):
    main = "+2348030000009"
    events = [{"event": "recharge", "distinct_id": main, "uuid": str(uuid.uuid4()),
               "timestamp": "2026-11-19T10:00:00Z"}]  # fmt: skip
    aliases = [f"device-{k:02d}" for k in range(12)]
    events += [{"event": "$create_alias", "distinct_id": main, "properties": {"alias": a}}
               for a in aliases]  # fmt: skip
    capture(cloud, events)
    person = cloud.store.persons[main].id
    cohort = requests.post(api(cloud, "cohorts/"), json={"name": "one", "is_static": True,
                           "_create_static_person_ids": [person]}, headers=auth(cloud),
                           timeout=TIMEOUT).json()  # fmt: skip
    members = requests.get(api(cloud, f"cohorts/{cohort['id']}/persons/"), headers=auth(cloud),
                           timeout=TIMEOUT).json()["results"]  # fmt: skip
    assert members[0]["distinct_ids"] == list(reversed(aliases))[:10]  # newest first, 10 at most
    full = requests.get(api(cloud, f"persons/{person}/"), headers=auth(cloud), timeout=TIMEOUT)
    assert len(full.json()["distinct_ids"]) == 13


def test_limits_clamp_to_50000_and_has_more_only_without_limit(cloud):
    cloud.ingest({"event": "tick", "distinct_id": f"d{i % 50}", "uuid": str(uuid.UUID(int=i + 1)),
                  "timestamp": "2026-11-19T10:00:00Z"} for i in range(50_010))  # fmt: skip
    clamped = query(cloud, "SELECT uuid FROM events LIMIT 60000", "force_blocking").json()
    assert len(clamped["results"]) == 50_000 and clamped["hasMore"] is None
    default = query(cloud, "SELECT uuid FROM events", "force_blocking").json()
    assert len(default["results"]) == 100 and default["hasMore"] is True
    assert default["limit"] == 100


def test_a_query_past_max_execution_time_is_a_504():
    with EmulatorServer(profile="cloud", max_execution_seconds=1, **FAST) as server:
        capture(server, [make_event(i, uuid=str(uuid.uuid4())) for i in range(3000)])
        heavy = "SELECT count() FROM events a CROSS JOIN events b CROSS JOIN events c"
        started = time.monotonic()
        answer = query(server, heavy, "force_blocking")
        assert answer.status_code == 504 and time.monotonic() - started < 10
        assert answer.json()["detail"].startswith("Query has hit the max execution time")


def test_duplicate_uuids_are_both_stored_then_collapse(cloud):
    event = make_event(1)
    capture(cloud, [event])
    capture(cloud, [event])  # a retried request
    assert count(cloud) == 2  # both stored: the merge has not run yet
    time.sleep(0.6)
    assert count(cloud) == 1
    assert cloud.store.duplicates_dropped == 1


def test_paths_as_posthog_routes_them(cloud):
    def get(path: str) -> int:
        return requests.get(f"{cloud.url}{path}", headers=auth(cloud), timeout=TIMEOUT).status_code

    body = {"query": {"kind": "HogQLQuery", "query": "SELECT 1"}}
    for family in ("environments", "projects"):  # canonical, and the grandfathered alias
        answer = requests.post(f"{cloud.url}/api/{family}/1/query/", json=body,
                               headers=auth(cloud), timeout=TIMEOUT)  # fmt: skip
        assert answer.status_code == 200
    assert get("/api/projects/1/cohorts/") == 200
    assert get("/api/environments/1/cohorts/") == 404  # cohorts live under projects only


def test_old_self_hosted_has_no_to_float_or_null():
    with EmulatorServer(profile="old-self-hosted", **FAST) as server:
        refused = query(server, "SELECT toFloatOrNull('1')")
        assert refused.status_code == 400 and "toFloatOrNull" in refused.json()["detail"]
        assert query(server, "SELECT toFloat('1')").json()["results"] == [[1.0]]


def test_clickhouse_rounds_ties_to_even_and_a_padded_number_is_null(cloud):
    answer = query(cloud, "SELECT round(0.5), round(1.5), round(2.5), toFloat64OrNull(' 100'), "
                   "toFloat64OrNull('100')").json()  # fmt: skip
    assert answer["results"] == [[0, 2, 2, None, 100]]


def test_persons_list_has_no_count_and_pages_while_full(cloud):
    capture(cloud, [make_event(i) for i in range(10)])
    page = requests.get(api(cloud, "persons/?limit=5"), headers=auth(cloud), timeout=TIMEOUT)
    assert "count" not in page.json() and page.json()["next"]
    last = requests.get(page.json()["next"], headers=auth(cloud), timeout=TIMEOUT).json()
    assert len(last["results"]) == 5 and last["next"]  # full page: PostHog offers another
    empty = requests.get(last["next"], headers=auth(cloud), timeout=TIMEOUT).json()
    assert empty["results"] == [] and empty["next"] is None
    total = requests.get(api(cloud, "persons/?include_total"), headers=auth(cloud),
                         timeout=TIMEOUT).json()  # fmt: skip
    assert total["count"] == 10
