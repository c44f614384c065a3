"""HogQL over raw HTTP: functions, placeholders, limits, errors."""

from __future__ import annotations

import uuid

import pytest
import requests
from emulator_http import (
    TIMEOUT,
    api,
    auth,
    capture,
    hogql,
    make_event,
)

# --------------------------------------------------------------------------- query


def _seed_query_data(server) -> list[dict]:
    events = [make_event(i) for i in range(40)]
    for i, event in enumerate(events):
        event["properties"]["$set"] = {"blacklisted": i % 4 == 0}
    events.append(make_event(99, event="pageview", uuid=str(uuid.uuid4())))
    assert capture(server, events).status_code == 200
    return events


def test_hogql_group_by_with_placeholders_person_properties_and_having(emulator):
    events = _seed_query_data(emulator)
    query = """
        SELECT distinct_id, sum(floor(toFloat(properties.amount_ngn) / 100)) AS points,
               count() AS recharges
        FROM events
        WHERE event = {event} AND timestamp >= toDateTime({start})
          AND timestamp < toDateTime('2026-11-20 00:00:00', 'Africa/Lagos')
          AND ifNull(toString(person.properties.blacklisted), '') != 'true'
        GROUP BY distinct_id HAVING points >= 3 ORDER BY points DESC, distinct_id LIMIT 1000
    """
    response = hogql(emulator, query, {"event": "recharge", "start": "2026-11-19T00:00:00Z"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["distinct_id", "points", "recharges"]
    assert [t[0] for t in body["types"]] == body["columns"]
    assert body["hasMore"] is False
    cutoff_hour = 23  # 2026-11-20 00:00 Lagos = 2026-11-19 23:00 UTC
    expected = {}
    for i, event in enumerate(events[:40]):
        hour = int(event["timestamp"][11:13])
        if i % 4 != 0 and hour < cutoff_hour and event["properties"]["amount_ngn"] >= 300:
            expected[event["distinct_id"]] = event["properties"]["amount_ngn"] // 100
    assert {row[0]: row[1] for row in body["results"]} == expected
    points = [row[1] for row in body["results"]]
    assert points == sorted(points, reverse=True)


def test_hogql_functions_min_max_intdiv_tostring_and_persons_table(emulator):
    _seed_query_data(emulator)
    body = hogql(
        emulator,
        "SELECT min(toInt(properties.amount_ngn)), max(toFloat(properties.amount_ngn)), "
        "sum(intDiv(toInt(properties.amount_ngn), 100)), toString(count()) "
        "FROM events WHERE event = 'recharge' AND toFloat(properties.amount_ngn) >= 100",
    ).json()
    assert body["results"] == [[100, 700.0, sum(i % 7 + 1 for i in range(40)), "40"]]
    persons = hogql(
        emulator,
        "SELECT properties.blacklisted AS flag, count() AS n FROM persons "
        "GROUP BY flag ORDER BY flag",
    ).json()
    assert persons["results"] == [["false", 30], ["true", 10], [None, 1]]  # the pageview person


def test_hogql_timestamps_compare_with_offset_strings_in_utc(emulator):
    capture(emulator, [make_event(10)])  # 2026-11-19T10:00:00Z
    cases = {
        "timestamp >= '2026-11-19 11:00:00+02:00'": 1,  # 09:00 UTC
        "timestamp >= '2026-11-19 10:30:00+00:00'": 0,
        "timestamp BETWEEN '2026-11-19T10:30:00+01:00' AND '2026-11-19T10:00:00Z'": 1,
        "timestamp < {cutoff}": 1,
        "timestamp < toDateTime('2026-11-19 11:00:00', 'Africa/Lagos')": 0,  # 10:00 UTC
        "distinct_id != '2026-11-19 10:00:00+01:00'": 1,  # text stays text
    }
    for condition, expected in cases.items():
        response = hogql(
            emulator, f"SELECT count() FROM events WHERE {condition}",
            {"cutoff": "2026-11-19T12:00:00+01:00"},
        )  # fmt: skip
        assert response.status_code == 200, (condition, response.text)
        assert response.json()["results"] == [[expected]], condition


def test_hogql_default_limit_cap_and_has_more(emulator):
    capture(emulator, [make_event(i) for i in range(150)])
    default = hogql(emulator, "SELECT uuid FROM events").json()
    assert len(default["results"]) == 100 and default["hasMore"] is True
    paged = hogql(emulator, "SELECT uuid FROM events ORDER BY uuid LIMIT 100 OFFSET 100").json()
    assert len(paged["results"]) == 50 and paged["hasMore"] is False
    exact = hogql(emulator, "SELECT uuid FROM events LIMIT 150").json()
    assert len(exact["results"]) == 150 and exact["hasMore"] is False
    capped = hogql(emulator, "SELECT uuid FROM events LIMIT 100000").json()
    assert capped["limit"] == 50_000


@pytest.mark.parametrize(
    "query",
    [
        "DELETE FROM events",
        "SELECT * FROM ev",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT fancyFunction(1) FROM events",
        "SELECT FROM WHERE",
        "SELECT {missing}",
        "SELECT 1; SELECT 2",
    ],
)
def test_unsupported_hogql_is_400_with_posthogs_error_shape(emulator, query):
    response = hogql(emulator, query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"type", "code", "detail", "attr"}
    assert body["type"] == "validation_error" and body["detail"]


def test_query_kinds_other_than_hogql_are_400(emulator):
    response = requests.post(
        api(emulator, "query/"), json={"query": {"kind": "TrendsQuery"}},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 400 and "TrendsQuery" in response.json()["detail"]


def test_hogql_rate_limit_answers_429_with_retry_after(emulator):
    emulator.hogql_rate_limit = 2
    assert hogql(emulator, "SELECT 1").status_code == 200
    assert hogql(emulator, "SELECT 1").status_code == 200
    third = hogql(emulator, "SELECT 1")
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    assert third.json()["type"] == "throttled_error"


