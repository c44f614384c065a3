"""The emulator's capture endpoints over raw HTTP: body shapes, keys, validation."""

from __future__ import annotations

import gzip
import json
import uuid

import pandas as pd
import pytest
import requests
from emulator_http import (
    TIMEOUT,
    capture,
    hogql,
    make_event,
)

# --------------------------------------------------------------------------- fixtures


def test_fixture_points_the_environment_at_the_server(emulator):
    import os

    assert os.environ["POSTHOG_BASE_URL"] == emulator.url
    assert os.environ["POSTHOG_PROJECT_ID"] == emulator.project_id
    assert os.environ["POSTHOG_API_KEY"] == emulator.api_key
    assert os.environ["POSTHOG_PROJECT_API_KEY"] == emulator.project_api_key
    assert emulator.api_key.startswith("phx_") and emulator.project_api_key.startswith("phc_")


def test_emulator_with_synth_holds_the_synth_events_and_persons(emulator_with_synth):
    server = emulator_with_synth
    persons = server.synth.persons
    assert len(server.store.persons) == len(persons)
    blacklisted = {
        p.distinct_id for p in server.store.persons.values() if p.properties["blacklisted"]
    }
    assert blacklisted == set(persons.loc[persons["blacklisted"], "msisdn"])
    events = server.store.events
    recharges = events[events["event"] == "recharge"]
    assert 0 < len(recharges) <= len(server.synth.recharges)
    assert set(events["distinct_id"]) <= set(persons["msisdn"])


# --------------------------------------------------------------------------- capture


def test_batch_capture_stores_events_and_creates_persons_with_set(emulator):
    events = [make_event(i) for i in range(5)]
    events[0]["properties"]["$set"] = {"msisdn": events[0]["distinct_id"], "blacklisted": True}
    events[1]["properties"]["$set_once"] = {"first": "a"}
    response = capture(emulator, events)
    assert response.status_code == 200
    assert response.json() == {"status": 1}
    assert emulator.store.event_count() == 5
    assert len(emulator.store.persons) == 5
    assert emulator.store.persons[events[0]["distinct_id"]].properties["blacklisted"] is True
    again = make_event(1, properties={"$set_once": {"first": "b"}, "$set": {"plan": "x"}})
    assert capture(emulator, [again]).status_code == 200
    person = emulator.store.persons[events[1]["distinct_id"]]
    assert person.properties == {"first": "a", "plan": "x"}


@pytest.mark.parametrize("path", ["/i/v0/e/", "/capture/", "/i/v0/e", "/e/"])
def test_single_event_capture_with_distinct_id_in_properties(emulator, path):
    body = {
        "api_key": emulator.project_api_key,
        "event": "signup",
        "properties": {"distinct_id": "+2348031234567", "plan": "pro"},
        "timestamp": "2026-11-19T10:00:00+01:00",
    }
    response = requests.post(emulator.url + path, json=body, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json() == {"status": 1}
    stored = emulator.store.events.iloc[0]
    assert stored["distinct_id"] == "+2348031234567"
    assert stored["properties"] == {"distinct_id": "+2348031234567", "plan": "pro"}  # kept
    assert stored["timestamp"] == pd.Timestamp("2026-11-19T09:00:00")


def test_gzip_batch_is_accepted(emulator):
    body = json.dumps(
        {"api_key": emulator.project_api_key, "batch": [make_event(i) for i in range(1000)]}
    )
    response = requests.post(
        f"{emulator.url}/batch/",
        data=gzip.compress(body.encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert emulator.store.event_count() == 1000


def test_concurrent_capture_and_queries_lose_nothing(emulator):
    from concurrent.futures import ThreadPoolExecutor

    def send(b: int) -> int:
        batch = [make_event(b * 100 + i, uuid=str(uuid.uuid4())) for i in range(100)]
        status = capture(emulator, batch).status_code
        return status if b % 5 else hogql(emulator, "SELECT count() FROM events").status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(40)))
    assert set(statuses) == {200}
    assert emulator.store.event_count() == 4000
    assert len(emulator.store.persons) == 4000


def test_chunked_gzip_body_is_accepted(emulator):
    body = json.dumps(
        {"api_key": emulator.project_api_key, "batch": [make_event(i) for i in range(50)]}
    )
    packed = gzip.compress(body.encode())

    def chunks():
        yield packed[:100]
        yield packed[100:]

    response = requests.post(f"{emulator.url}/batch/", data=chunks(), timeout=TIMEOUT)
    assert response.status_code == 200
    assert emulator.store.event_count() == 50


def test_events_with_a_stored_uuid_are_deduplicated(emulator):
    events = [make_event(i) for i in range(3)]
    assert capture(emulator, events).status_code == 200
    assert capture(emulator, events + [make_event(3)]).status_code == 200  # a retried batch
    assert emulator.store.event_count() == 4
    assert emulator.store.duplicates_dropped == 3
    # Same uuid on another day is another row (PostHog's key includes the day).
    other_day = make_event(0, timestamp="2026-11-21T10:00:00Z")
    assert capture(emulator, [other_day]).status_code == 200
    count = hogql(emulator, "SELECT count() FROM events").json()["results"]
    assert count == [[5]]


def test_capture_rejects_bad_or_missing_project_keys(emulator):
    bad = requests.post(
        f"{emulator.url}/batch/",
        json={"api_key": "phc_wrong", "batch": [make_event(1)]},
        timeout=TIMEOUT,
    )
    assert bad.status_code == 401
    assert bad.json()["type"] == "authentication_error"
    missing = requests.post(
        f"{emulator.url}/batch/", json={"batch": [make_event(1)]}, timeout=TIMEOUT
    )
    assert missing.status_code == 401
    personal = requests.post(
        f"{emulator.url}/batch/", json={"api_key": emulator.api_key, "batch": [make_event(1)]},
        timeout=TIMEOUT,
    )  # fmt: skip
    assert personal.status_code == 401
    assert emulator.store.event_count() == 0


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ({"distinct_id": "a"}, "missing event name"),
        ({"event": "x"}, "missing distinct_id"),
        ({"event": "x", "distinct_id": "a", "uuid": "not-a-uuid"}, "invalid uuid"),
    ],
)
def test_capture_rejects_invalid_events_with_400(emulator, event, detail):
    response = capture(emulator, [make_event(1), event])
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert detail in response.json()["detail"]
    assert emulator.store.event_count() == 0  # all or nothing


def test_capture_rejects_unreadable_json_and_empty_batches(emulator):
    garbage = requests.post(f"{emulator.url}/batch/", data=b"{nope", timeout=TIMEOUT)
    assert garbage.status_code == 400
    empty = capture(emulator, [])
    assert empty.status_code == 400 and "no event" in empty.json()["detail"]


