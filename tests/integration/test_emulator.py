"""The PostHog emulator over raw HTTP (requests): every endpoint, errors, faults."""

from __future__ import annotations

import gzip
import json
import time
import uuid

import pandas as pd
import pytest
import requests

from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.offline.posthog_emulator.loaders import RECHARGE_NAMESPACE, load_dir, load_recharges

TIMEOUT = 5


def _auth(server: EmulatorServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def _api(server: EmulatorServer, path: str) -> str:
    return f"{server.url}/api/projects/{server.project_id}/{path}"


def _event(i: int, **extra) -> dict:
    number = f"+23480312{i:05d}"
    event = {
        "event": "recharge",
        "distinct_id": number,
        "properties": {"amount_ngn": 100 * (i % 7 + 1), "transaction_id": f"t{i}"},
        "timestamp": f"2026-11-19T{i % 24:02d}:00:00Z",
        "uuid": str(uuid.UUID(int=i + 1)),
    }
    event.update(extra)
    return event


def _capture(server: EmulatorServer, events: list[dict]) -> requests.Response:
    body = {"api_key": server.project_api_key, "batch": events}
    return requests.post(f"{server.url}/batch/", json=body, timeout=TIMEOUT)


def _hogql(server: EmulatorServer, query: str, values: dict | None = None) -> requests.Response:
    node = {"kind": "HogQLQuery", "query": query, **({"values": values} if values else {})}
    return requests.post(
        _api(server, "query/"), json={"query": node}, headers=_auth(server), timeout=TIMEOUT
    )


def _follow(server: EmulatorServer, url: str) -> tuple[list[dict], int]:
    results, pages = [], 0
    while url:
        page = requests.get(url, headers=_auth(server), timeout=TIMEOUT).json()
        results += page["results"]
        url = page["next"]
        pages += 1
    return results, pages


def _wait_calculated(server: EmulatorServer, cohort_id: int) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        cohort = requests.get(
            _api(server, f"cohorts/{cohort_id}/"), headers=_auth(server), timeout=TIMEOUT
        ).json()
        if not cohort["is_calculating"]:
            return cohort
        time.sleep(0.05)
    raise AssertionError("cohort still calculating after 5 s")


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
    events = [_event(i) for i in range(5)]
    events[0]["properties"]["$set"] = {"msisdn": events[0]["distinct_id"], "blacklisted": True}
    events[1]["properties"]["$set_once"] = {"first": "a"}
    response = _capture(emulator, events)
    assert response.status_code == 200
    assert response.json() == {"status": 1}
    assert emulator.store.event_count() == 5
    assert len(emulator.store.persons) == 5
    assert emulator.store.persons[events[0]["distinct_id"]].properties["blacklisted"] is True
    again = _event(1, properties={"$set_once": {"first": "b"}, "$set": {"plan": "x"}})
    assert _capture(emulator, [again]).status_code == 200
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
    assert stored["properties"] == {"plan": "pro"}
    assert stored["timestamp"] == pd.Timestamp("2026-11-19T09:00:00")


def test_gzip_batch_is_accepted(emulator):
    body = json.dumps(
        {"api_key": emulator.project_api_key, "batch": [_event(i) for i in range(1000)]}
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
        batch = [_event(b * 100 + i, uuid=str(uuid.uuid4())) for i in range(100)]
        status = _capture(emulator, batch).status_code
        return status if b % 5 else _hogql(emulator, "SELECT count() FROM events").status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, range(40)))
    assert set(statuses) == {200}
    assert emulator.store.event_count() == 4000
    assert len(emulator.store.persons) == 4000


def test_chunked_gzip_body_is_accepted(emulator):
    body = json.dumps(
        {"api_key": emulator.project_api_key, "batch": [_event(i) for i in range(50)]}
    )
    packed = gzip.compress(body.encode())

    def chunks():
        yield packed[:100]
        yield packed[100:]

    response = requests.post(f"{emulator.url}/batch/", data=chunks(), timeout=TIMEOUT)
    assert response.status_code == 200
    assert emulator.store.event_count() == 50


def test_events_with_a_stored_uuid_are_deduplicated(emulator):
    events = [_event(i) for i in range(3)]
    assert _capture(emulator, events).status_code == 200
    assert _capture(emulator, events + [_event(3)]).status_code == 200  # a retried batch
    assert emulator.store.event_count() == 4
    assert emulator.store.duplicates_dropped == 3
    # Same uuid on another day is another row (PostHog's key includes the day).
    other_day = _event(0, timestamp="2026-11-21T10:00:00Z")
    assert _capture(emulator, [other_day]).status_code == 200
    count = _hogql(emulator, "SELECT count() FROM events").json()["results"]
    assert count == [[5]]


def test_capture_rejects_bad_or_missing_project_keys(emulator):
    bad = requests.post(
        f"{emulator.url}/batch/",
        json={"api_key": "phc_wrong", "batch": [_event(1)]},
        timeout=TIMEOUT,
    )
    assert bad.status_code == 401
    assert bad.json()["type"] == "authentication_error"
    missing = requests.post(f"{emulator.url}/batch/", json={"batch": [_event(1)]}, timeout=TIMEOUT)
    assert missing.status_code == 401
    personal = requests.post(
        f"{emulator.url}/batch/", json={"api_key": emulator.api_key, "batch": [_event(1)]},
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
    response = _capture(emulator, [_event(1), event])
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert detail in response.json()["detail"]
    assert emulator.store.event_count() == 0  # all or nothing


def test_capture_rejects_unreadable_json_and_empty_batches(emulator):
    garbage = requests.post(f"{emulator.url}/batch/", data=b"{nope", timeout=TIMEOUT)
    assert garbage.status_code == 400
    empty = _capture(emulator, [])
    assert empty.status_code == 400 and "no event" in empty.json()["detail"]


# --------------------------------------------------------------------------- auth


def test_private_api_without_a_key_is_401_with_posthogs_body(emulator):
    response = requests.get(_api(emulator, "persons/"), timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json() == {
        "type": "authentication_error",
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
        "attr": None,
    }


def test_private_api_with_a_wrong_key_is_401_with_posthogs_body(emulator):
    response = requests.get(
        _api(emulator, "cohorts/"), headers={"Authorization": "Bearer phx_wrong"}, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert response.json() == {
        "type": "authentication_error",
        "code": "authentication_failed",
        "detail": "Personal API key found in request Authorization header is invalid.",
        "attr": None,
    }


def test_unknown_project_is_404(emulator):
    response = requests.get(
        f"{emulator.url}/api/projects/999/cohorts/", headers=_auth(emulator), timeout=TIMEOUT
    )
    assert response.status_code == 404
    assert response.json() == {
        "type": "invalid_request", "code": "not_found", "detail": "Project not found.", "attr": None
    }  # fmt: skip


def test_missing_scope_is_403_naming_the_scope(emulator):
    emulator.scopes = {"cohort:read", "person:read"}
    ok = requests.get(_api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT)
    assert ok.status_code == 200
    response = requests.post(
        _api(emulator, "cohorts/"), json={"name": "x", "is_static": True},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 403
    assert response.json() == {
        "type": "authentication_error",
        "code": "permission_denied",
        "detail": "API key missing required scope 'cohort:write'",
        "attr": None,
    }
    assert _hogql(emulator, "SELECT 1").status_code == 403
    emulator.scopes = {"cohort:write"}  # write implies read
    assert requests.get(_api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT).ok


def test_project_user_and_current_project(emulator):
    project = requests.get(_api(emulator, ""), headers=_auth(emulator), timeout=TIMEOUT).json()
    assert str(project["id"]) == emulator.project_id
    current = requests.get(
        f"{emulator.url}/api/projects/@current/", headers=_auth(emulator), timeout=TIMEOUT
    )
    assert current.json()["id"] == project["id"]
    me = requests.get(f"{emulator.url}/api/users/@me/", headers=_auth(emulator), timeout=TIMEOUT)
    assert me.status_code == 200 and me.json()["team"]["id"] == project["id"]


def test_unknown_path_is_404_and_wrong_method_405(emulator):
    missing = requests.get(f"{emulator.url}/api/nothing/", headers=_auth(emulator), timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = requests.delete(_api(emulator, "persons/"), headers=_auth(emulator), timeout=TIMEOUT)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


# --------------------------------------------------------------------------- persons


def test_persons_list_pages_with_next_urls(emulator):
    _capture(emulator, [_event(i) for i in range(23)])
    people, pages = _follow(emulator, _api(emulator, "persons/?limit=5"))
    assert pages == 5
    assert len(people) == 23
    assert len({p["id"] for p in people}) == 23
    first = requests.get(
        _api(emulator, "persons/?limit=5"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert first.json()["count"] == 23 and first.json()["previous"] is None
    assert "offset=5" in first.json()["next"] and first.json()["next"].startswith(emulator.url)


def test_persons_filters_distinct_id_search_properties(emulator):
    events = [_event(i) for i in range(6)]
    for i, event in enumerate(events):
        event["properties"]["$set"] = {"blacklisted": i % 2 == 0, "points": i}
    _capture(emulator, events)
    number = events[3]["distinct_id"]

    def get(params: dict) -> list[dict]:
        response = requests.get(
            _api(emulator, "persons/"), params=params, headers=_auth(emulator), timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        return response.json()["results"]

    assert [p["distinct_ids"] for p in get({"distinct_id": number})] == [[number]]
    assert [p["distinct_ids"] for p in get({"search": number})] == [[number]]
    flagged = [{"key": "blacklisted", "value": True, "operator": "exact", "type": "person"}]
    assert len(get({"properties": json.dumps(flagged)})) == 3
    at_least = [{"key": "points", "value": 4, "operator": "gte", "type": "person"}]
    assert {p["properties"]["points"] for p in get({"properties": json.dumps(at_least)})} == {4, 5}
    person = get({"distinct_id": number})[0]
    one = requests.get(
        _api(emulator, f"persons/{person['id']}/"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert one.json()["distinct_ids"] == [number]
    assert (
        requests.get(
            _api(emulator, "persons/nobody/"), headers=_auth(emulator), timeout=TIMEOUT
        ).status_code
        == 404
    )


def test_persons_bad_properties_filter_is_400(emulator):
    bad = [{"key": "x", "operator": "between", "value": 1}]
    response = requests.get(
        _api(emulator, "persons/"), params={"properties": json.dumps(bad)},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert response.json()["attr"] == "properties"


# --------------------------------------------------------------------------- cohorts


def _behavioural_cohort(start: str, end: str) -> dict:
    return {
        "name": "recharged in window",
        "filters": {
            "properties": {
                "type": "AND",
                "values": [
                    {
                        "type": "behavioral", "key": "recharge", "value": "performed_event",
                        "event_type": "events", "explicit_datetime": start,
                        "explicit_datetime_to": end,
                    },
                    {"type": "person", "key": "blacklisted", "operator": "is_not",
                     "value": [True]},
                ],
            }
        },
    }  # fmt: skip


def test_dynamic_cohort_calculates_then_counts_and_lists_persons(emulator):
    events = [_event(i) for i in range(30)]  # hours 0..23, then 0..5 again
    for i, event in enumerate(events):
        event["properties"]["$set"] = {"blacklisted": i % 10 == 0}
    _capture(emulator, events)
    body = _behavioural_cohort("2026-11-19T00:00:00Z", "2026-11-19T12:00:00Z")
    created = requests.post(
        _api(emulator, "cohorts/"), json=body, headers=_auth(emulator), timeout=TIMEOUT
    )
    assert created.status_code == 201
    cohort = created.json()
    assert cohort["is_calculating"] is True and cohort["count"] is None
    assert cohort["is_static"] is False and cohort["filters"] == body["filters"]
    done = _wait_calculated(emulator, cohort["id"])
    # hours 0..11 -> i in 0..11 and 24..29; blacklisted i = 0, 10
    expected = {events[i]["distinct_id"] for i in [*range(12), *range(24, 30)] if i % 10 != 0}
    assert done["count"] == len(expected) and done["last_calculation"]
    members, pages = _follow(emulator, _api(emulator, f"cohorts/{cohort['id']}/persons/?limit=4"))
    assert {m["distinct_ids"][0] for m in members} == expected
    assert pages == 4 and all(m["type"] == "person" for m in members)
    page = requests.get(
        _api(emulator, f"cohorts/{cohort['id']}/persons/"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert "count" not in page.json()


def test_calculating_phase_lasts_the_configured_time(emulator):
    emulator.calculation_seconds = 0.5
    created = requests.post(
        _api(emulator, "cohorts/"), json={"name": "s", "is_static": True},
        headers=_auth(emulator), timeout=TIMEOUT,
    ).json()  # fmt: skip
    started = time.monotonic()
    again = requests.get(
        _api(emulator, f"cohorts/{created['id']}/"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert again.json()["is_calculating"] is True
    _wait_calculated(emulator, created["id"])
    assert time.monotonic() - started >= 0.35


def test_performed_event_multiple_and_relative_time(emulator):
    now = pd.Timestamp.now(tz="UTC").floor("s")
    events = []
    for i in range(3):
        for k in range(i + 1):  # person i recharged i+1 times within the last hours
            stamp = (now - pd.Timedelta(hours=k + 1)).isoformat()
            events.append(_event(i, uuid=str(uuid.uuid4()), timestamp=stamp))
    _capture(emulator, events)
    body = {"name": "twice", "filters": {"properties": {"type": "OR", "values": [{
        "type": "behavioral", "key": "recharge", "value": "performed_event_multiple",
        "event_type": "events", "operator": "gte", "operator_value": 2,
        "time_value": 1, "time_interval": "day"}]}}}  # fmt: skip
    created = requests.post(
        _api(emulator, "cohorts/"), json=body, headers=_auth(emulator), timeout=TIMEOUT
    )
    assert _wait_calculated(emulator, created.json()["id"])["count"] == 2


def test_static_cohort_from_ids_csv_and_add_remove(emulator):
    _capture(emulator, [_event(i) for i in range(6)])
    people = {p.distinct_id: p.id for p in emulator.store.persons.values()}
    numbers = sorted(people)
    created = requests.post(
        _api(emulator, "cohorts/"),
        json={
            "name": "winners",
            "is_static": True,
            "_create_static_person_ids": [people[numbers[0]]],
        },
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["is_static"] is True
    cohort_id = created.json()["id"]
    assert _wait_calculated(emulator, cohort_id)["count"] == 1
    added = requests.patch(
        _api(emulator, f"cohorts/{cohort_id}/add_persons_to_static_cohort/"),
        json={"person_ids": [people[numbers[1]], people[numbers[2]]]},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert added.status_code == 200
    removed = requests.patch(
        _api(emulator, f"cohorts/{cohort_id}/remove_person_from_static_cohort/"),
        json={"person_id": people[numbers[0]]}, headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert removed.status_code == 200
    members, _ = _follow(emulator, _api(emulator, f"cohorts/{cohort_id}/persons/"))
    assert sorted(m["distinct_ids"][0] for m in members) == numbers[1:3]

    upload = "distinct_id\n" + "\n".join(numbers[3:]) + "\n+2340000000000\n"
    form = requests.post(
        _api(emulator, "cohorts/"), data={"name": "from csv", "is_static": "true"},
        files={"csv": ("people.csv", upload, "text/csv")}, headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert form.status_code == 201, form.text
    assert _wait_calculated(emulator, form.json()["id"])["count"] == 3


def test_static_cohort_from_a_hogql_query_and_patched_query(emulator):
    _capture(emulator, [_event(i) for i in range(6)])
    query = {
        "kind": "HogQLQuery",
        "query": "SELECT DISTINCT distinct_id FROM events "
        "WHERE toInt(properties.amount_ngn) >= {a}",
        "values": {"a": 500},
    }
    created = requests.post(
        _api(emulator, "cohorts/"), json={"name": "big", "is_static": True, "query": query},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert created.status_code == 201
    assert _wait_calculated(emulator, created.json()["id"])["count"] == 2  # amounts 500, 600
    query["values"] = {"a": 400}
    patched = requests.patch(
        _api(emulator, f"cohorts/{created.json()['id']}/"), json={"query": query},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert patched.status_code == 200 and patched.json()["is_calculating"] is True
    assert _wait_calculated(emulator, created.json()["id"])["count"] == 3
    bad = requests.patch(
        _api(emulator, f"cohorts/{created.json()['id']}/"),
        json={"name": "renamed", "query": {"kind": "HogQLQuery", "query": "SELECT nope("}},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert bad.status_code == 400 and bad.json()["attr"] == "query"
    again = requests.get(
        _api(emulator, f"cohorts/{created.json()['id']}/"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert again.json()["name"] == "big"  # a rejected PATCH changes nothing


def test_cohort_list_search_patch_soft_delete_and_405(emulator):
    ids = []
    for name in ["daily 2026-11-19", "daily 2026-11-20", "test"]:
        r = requests.post(
            _api(emulator, "cohorts/"), json={"name": name, "is_static": True},
            headers=_auth(emulator), timeout=TIMEOUT,
        )  # fmt: skip
        ids.append(r.json()["id"])
    listed, pages = _follow(emulator, _api(emulator, "cohorts/?limit=1"))
    assert pages == 3 and sorted(c["id"] for c in listed) == sorted(ids)
    found = requests.get(
        _api(emulator, "cohorts/"),
        params={"search": "DAILY"},
        headers=_auth(emulator),
        timeout=TIMEOUT,
    )
    assert {c["name"] for c in found.json()["results"]} == {"daily 2026-11-19", "daily 2026-11-20"}
    renamed = requests.patch(
        _api(emulator, f"cohorts/{ids[2]}/"),
        json={"name": "renamed"},
        headers=_auth(emulator),
        timeout=TIMEOUT,
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    deleted = requests.delete(
        _api(emulator, f"cohorts/{ids[2]}/"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert deleted.status_code == 405
    assert deleted.json() == {
        "type": "invalid_request", "code": "method_not_allowed",
        "detail": 'Method "DELETE" not allowed.', "attr": None,
    }  # fmt: skip
    soft = requests.patch(
        _api(emulator, f"cohorts/{ids[2]}/"),
        json={"deleted": True},
        headers=_auth(emulator),
        timeout=TIMEOUT,
    )
    assert soft.status_code == 200 and soft.json()["deleted"] is True
    gone = requests.get(
        _api(emulator, f"cohorts/{ids[2]}/"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert gone.status_code == 404
    left = requests.get(_api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT).json()
    assert left["count"] == 2


def _and(*values: dict) -> dict:
    return {"type": "AND", "values": list(values)}


@pytest.mark.parametrize(
    "filters",
    [
        {"properties": _and({"type": "person", "key": "x", "operator": "between"})},
        {
            "properties": _and(
                {"type": "behavioral", "key": "x", "value": "stopped_performing_event",
                 "event_type": "events"}
            )
        },
        {"properties": _and({"type": "flag", "key": "x"})},
        {"nope": 1},
    ],
)  # fmt: skip
def test_unsupported_cohort_filters_are_400(emulator, filters):
    response = requests.post(
        _api(emulator, "cohorts/"), json={"name": "bad", "filters": filters},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert response.json()["attr"] == "filters"


# --------------------------------------------------------------------------- query


def _seed_query_data(server: EmulatorServer) -> list[dict]:
    events = [_event(i) for i in range(40)]
    for i, event in enumerate(events):
        event["properties"]["$set"] = {"blacklisted": i % 4 == 0}
    events.append(_event(99, event="pageview", uuid=str(uuid.uuid4())))
    assert _capture(server, events).status_code == 200
    return events


def test_hogql_group_by_with_placeholders_person_properties_and_having(emulator):
    events = _seed_query_data(emulator)
    query = """
        SELECT distinct_id, sum(floor(toFloat(properties.amount_ngn) / 100)) AS points,
               count() AS recharges
        FROM events
        WHERE event = {event} AND timestamp >= toDateTime({start})
          AND timestamp < toDateTime('2026-11-20 00:00:00', 'Africa/Lagos')
          AND (person.properties.blacklisted != true OR person.properties.blacklisted IS NULL)
        GROUP BY distinct_id HAVING points >= 3 ORDER BY points DESC, distinct_id LIMIT 1000
    """
    response = _hogql(emulator, query, {"event": "recharge", "start": "2026-11-19T00:00:00Z"})
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
    body = _hogql(
        emulator,
        "SELECT min(toInt(properties.amount_ngn)), max(toFloat(properties.amount_ngn)), "
        "sum(intDiv(toInt(properties.amount_ngn), 100)), toString(count()) "
        "FROM events WHERE event = 'recharge' AND properties.amount_ngn >= 100",
    ).json()
    assert body["results"] == [[100, 700.0, sum(i % 7 + 1 for i in range(40)), "40"]]
    persons = _hogql(
        emulator,
        "SELECT properties.blacklisted AS flag, count() AS n FROM persons "
        "GROUP BY flag ORDER BY flag",
    ).json()
    assert persons["results"] == [["false", 30], ["true", 10], [None, 1]]  # the pageview person


def test_hogql_timestamps_compare_with_offset_strings_in_utc(emulator):
    _capture(emulator, [_event(10)])  # 2026-11-19T10:00:00Z
    cases = {
        "timestamp >= '2026-11-19 11:00:00+02:00'": 1,  # 09:00 UTC
        "timestamp >= '2026-11-19 10:30:00+00:00'": 0,
        "timestamp BETWEEN '2026-11-19T10:30:00+01:00' AND '2026-11-19T10:00:00Z'": 1,
        "timestamp < {cutoff}": 1,
        "timestamp < toDateTime('2026-11-19 11:00:00', 'Africa/Lagos')": 0,  # 10:00 UTC
        "distinct_id != '2026-11-19 10:00:00+01:00'": 1,  # text stays text
    }
    for condition, expected in cases.items():
        response = _hogql(
            emulator, f"SELECT count() FROM events WHERE {condition}",
            {"cutoff": "2026-11-19T12:00:00+01:00"},
        )  # fmt: skip
        assert response.status_code == 200, (condition, response.text)
        assert response.json()["results"] == [[expected]], condition


def test_hogql_default_limit_cap_and_has_more(emulator):
    _capture(emulator, [_event(i) for i in range(150)])
    default = _hogql(emulator, "SELECT uuid FROM events").json()
    assert len(default["results"]) == 100 and default["hasMore"] is True
    paged = _hogql(emulator, "SELECT uuid FROM events ORDER BY uuid LIMIT 100 OFFSET 100").json()
    assert len(paged["results"]) == 50 and paged["hasMore"] is False
    exact = _hogql(emulator, "SELECT uuid FROM events LIMIT 150").json()
    assert len(exact["results"]) == 150 and exact["hasMore"] is False
    capped = _hogql(emulator, "SELECT uuid FROM events LIMIT 100000").json()
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
    response = _hogql(emulator, query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"type", "code", "detail", "attr"}
    assert body["type"] == "validation_error" and body["detail"]


def test_query_kinds_other_than_hogql_are_400(emulator):
    response = requests.post(
        _api(emulator, "query/"), json={"query": {"kind": "TrendsQuery"}},
        headers=_auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 400 and "TrendsQuery" in response.json()["detail"]


def test_hogql_rate_limit_answers_429_with_retry_after(emulator):
    emulator.hogql_rate_limit = 2
    assert _hogql(emulator, "SELECT 1").status_code == 200
    assert _hogql(emulator, "SELECT 1").status_code == 200
    third = _hogql(emulator, "SELECT 1")
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    assert third.json()["type"] == "throttled_error"


# --------------------------------------------------------------------------- faults


def test_fault_5xx_is_logged_and_applies_to_capture_and_private_api(emulator):
    emulator.faults.update(error_rate=1.0, error_status=502)
    assert _capture(emulator, [_event(1)]).status_code == 502
    failed = requests.get(_api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT)
    assert failed.status_code == 502 and failed.json()["type"] == "server_error"
    assert [e["fault"] for e in emulator.request_log[-2:]] == [502, 502]
    assert emulator.store.event_count() == 0
    emulator.faults.reset()
    assert _capture(emulator, [_event(1)]).status_code == 200


def test_fault_429_carries_retry_after(emulator):
    emulator.faults.update(rate_limit_rate=1.0, retry_after=7)
    response = requests.get(_api(emulator, "persons/"), headers=_auth(emulator), timeout=TIMEOUT)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {
        "type": "throttled_error", "code": "throttled",
        "detail": "Request was throttled. Expected available in 7 seconds.", "attr": None,
    }  # fmt: skip


def test_fault_slow_answers_time_out_a_short_client_timeout(emulator):
    emulator.faults.update(slow_rate=1.0, slow_seconds=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(_api(emulator, "persons/"), headers=_auth(emulator), timeout=0.2)
    started = time.monotonic()
    ok = requests.get(_api(emulator, "persons/"), headers=_auth(emulator), timeout=TIMEOUT)
    assert ok.status_code == 200 and time.monotonic() - started >= 0.5


def test_fault_drop_closes_the_connection(emulator):
    emulator.faults.update(drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        _capture(emulator, [_event(1)])
    assert emulator.request_log[-1]["fault"] == "drop"
    assert emulator.store.event_count() == 0


def test_faults_are_deterministic_per_seed(emulator):
    def outcomes() -> list:
        emulator.faults.reset()
        emulator.faults.update(error_rate=0.3, rate_limit_rate=0.3, seed=42)
        return [
            requests.get(
                _api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT
            ).status_code
            for _ in range(20)
        ]

    first = outcomes()
    assert first == outcomes()
    assert {200, 429, 503} <= set(first)


def test_fault_script_forces_the_next_outcomes(emulator):
    emulator.faults.update(script=[503, 429, "ok"])
    codes = [
        requests.get(
            _api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT
        ).status_code
        for _ in range(4)
    ]
    assert codes == [503, 429, 200, 200]


def test_admin_endpoint_sets_and_resets_faults_without_being_faulted(emulator):
    response = requests.post(
        f"{emulator.url}/_emulator/faults", json={"error_rate": 1.0, "seed": 3}, timeout=TIMEOUT
    )
    assert response.status_code == 200 and response.json()["error_rate"] == 1.0
    assert emulator.faults.error_rate == 1.0
    assert (
        requests.get(
            _api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT
        ).status_code
        == 503
    )
    log = requests.get(f"{emulator.url}/_emulator/requests", timeout=TIMEOUT).json()["results"]
    assert log[-1]["status"] == 503 and log[-1]["fault"] == 503
    bad = requests.post(f"{emulator.url}/_emulator/faults", json={"error_rate": 2}, timeout=TIMEOUT)
    assert bad.status_code == 400
    reset = requests.post(f"{emulator.url}/_emulator/faults/reset", timeout=TIMEOUT)
    assert reset.json()["error_rate"] == 0.0
    stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=TIMEOUT).json()
    assert stats["events"] == 0


def test_admin_config_sets_scopes_and_reset_drops_data(emulator):
    admin = f"{emulator.url}/_emulator"
    changed = requests.post(
        f"{admin}/config",
        json={"scopes": ["person:read"], "calculation_seconds": 0},
        timeout=TIMEOUT,
    )
    assert changed.json() == {
        "scopes": ["person:read"], "calculation_seconds": 0.0, "hogql_rate_limit": None
    }  # fmt: skip
    denied = requests.get(_api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT)
    assert denied.status_code == 403 and "cohort:read" in denied.json()["detail"]
    bad = requests.post(f"{admin}/config", json={"colour": "red"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    _capture(emulator, [_event(i) for i in range(3)])
    assert requests.post(f"{admin}/reset", timeout=TIMEOUT).status_code == 200
    assert emulator.store.event_count() == 0 and not emulator.store.persons
    assert _capture(emulator, [_event(1)]).status_code == 200  # a reset uuid is new again
    assert emulator.store.event_count() == 1


def test_request_log_never_holds_keys(emulator):
    _capture(emulator, [_event(1)])
    requests.get(_api(emulator, "persons/"), headers=_auth(emulator), timeout=TIMEOUT)
    text = json.dumps(emulator.request_log)
    assert emulator.api_key not in text and emulator.project_api_key not in text
    assert {e["path"] for e in emulator.request_log} == {
        "/batch/",
        f"/api/projects/{emulator.project_id}/persons/",
    }


def test_request_log_masks_phone_numbers_in_paths(emulator):
    _capture(emulator, [_event(1)])
    number = _event(1)["distinct_id"]
    found = requests.get(
        _api(emulator, f"persons/{number}/"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert found.status_code == 200
    assert number not in json.dumps(emulator.request_log)


def test_answers_are_not_held_back_by_nagle(emulator):
    with requests.Session() as session:
        session.get(_api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT)
        started = time.monotonic()
        for _ in range(50):
            session.get(_api(emulator, "cohorts/"), headers=_auth(emulator), timeout=TIMEOUT)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0  # a 40 ms delayed-ACK stall per answer would take 2 s


JUNK_BODIES = [
    b"[]", b"1", b'"x"', b"null", b"{nope", b'{"query": 1}',
    b'{"query": {"kind": "HogQLQuery", "query": 5}}',
    b'{"query": {"kind": "HogQLQuery", "query": "SELECT 1", "values": [1]}}',
    b'{"name": 5}', b'{"filters": []}', b'{"filters": {"properties": []}}',
    b'{"filters": {"properties": {"type": "AND", "values": [1]}}}',
    b'{"is_static": true, "_create_static_person_ids": "abc"}',
    b'{"person_ids": "x"}', b'{"person_ids": [1]}', b'{"person_id": 5}', b'{"deleted": "yes"}',
    b'{"batch": "x"}', b'{"batch": [1]}', b'{"api_key": 1, "batch": [{}]}',
    b'{"filters": {"properties": {"type": "behavioral", "key": "r", "value": "performed_event",'
    b' "event_type": "events", "time_value": "x"}}}',
    b'{"filters": {"properties": {"type": "behavioral", "key": "r", "value": '
    b'"performed_event_multiple", "event_type": "events", "operator_value": 2, '
    b'"event_filters": "x"}}}',
    b'{"scopes": "x"}', b'{"calculation_seconds": "x"}', b'{"error_rate": "x"}', b'{"script": 5}',
]  # fmt: skip


def test_junk_bodies_never_cause_a_server_error(emulator):
    static = requests.post(
        _api(emulator, "cohorts/"), json={"name": "s", "is_static": True},
        headers=_auth(emulator), timeout=TIMEOUT,
    ).json()["id"]  # fmt: skip
    targets = [
        ("POST", "/batch/"), ("POST", "/i/v0/e/"),
        ("POST", _api(emulator, "query/")), ("POST", _api(emulator, "cohorts/")),
        ("PATCH", _api(emulator, f"cohorts/{static}/")),
        ("PATCH", _api(emulator, f"cohorts/{static}/add_persons_to_static_cohort/")),
        ("PATCH", _api(emulator, f"cohorts/{static}/remove_person_from_static_cohort/")),
        ("POST", "/_emulator/faults"), ("POST", "/_emulator/config"),
    ]  # fmt: skip
    headers = {**_auth(emulator), "Content-Type": "application/json"}
    for method, target in targets:
        url = target if target.startswith("http") else emulator.url + target
        for body in JUNK_BODIES:
            response = requests.request(method, url, data=body, headers=headers, timeout=TIMEOUT)
            assert response.status_code < 500, (method, target, body, response.text)
            if method == "POST":  # (a PATCH may ignore fields it does not know, as DRF does)
                assert response.status_code >= 400, (method, target, body, response.text)
            if response.status_code >= 400:
                assert set(response.json()) >= {"type", "code", "detail"}, (target, body)
    assert emulator.faults.to_dict() == type(emulator.faults)().to_dict()


@pytest.mark.parametrize(
    "query",
    ["limit=abc", "offset=-1", "limit=0", "properties=%5B1%5D", "properties=nope"],
)
def test_bad_list_parameters_are_400(emulator, query):
    response = requests.get(
        _api(emulator, f"persons/?{query}"), headers=_auth(emulator), timeout=TIMEOUT
    )
    assert response.status_code == 400 and response.json()["type"] == "validation_error"


# --------------------------------------------------------------------------- loaders


def test_load_matches_the_upload_uuid_scheme_and_skips_invalid_rows(emulator):
    from drawkit.contract import RECHARGE_NAMESPACE as UPLOAD_NAMESPACE

    assert RECHARGE_NAMESPACE == UPLOAD_NAMESPACE
    recharges = pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c", "a", "d"],
            "msisdn": ["08031234567", "+234 803 123 4568", "12345", "08031234567", "0803 123 4569"],
            "amount_ngn": ["250", "abc", "100", "250", "100"],
            "timestamp": ["2026-11-19 10:00:00", "2026-11-19T10:00:00Z", "2026-11-19T10:00:00Z",
                          "2026-11-19T09:00:00Z", "yesterday"],
        }
    )  # fmt: skip
    summary = load_recharges(emulator.store, recharges)
    assert summary["rows_skipped"] == {"invalid_msisdn": 1, "unreadable_timestamp": 1}
    events = emulator.store.events.set_index("uuid")
    # "a" twice at the same instant (10:00 Lagos == 09:00 UTC): one event, as after an upload.
    assert len(events) == 2
    first = events.loc[str(uuid.uuid5(RECHARGE_NAMESPACE, "a"))]
    assert first["properties"]["amount_ngn"] == 250
    assert first["timestamp"] == pd.Timestamp("2026-11-19T09:00:00")
    second = events.loc[str(uuid.uuid5(RECHARGE_NAMESPACE, "b"))]
    assert second["properties"]["amount_ngn"] == "abc"
    assert set(emulator.store.persons) == {"+2348031234567", "+2348031234568"}


def test_load_dir_reads_exported_files(emulator, tmp_path, synth_data):
    from drawkit.synth import write_synth

    write_synth(synth_data, tmp_path, fmt="parquet")
    summary = load_dir(emulator.store, tmp_path)
    assert summary["rows_in"] == len(synth_data.recharges)
    listed = {p.distinct_id for p in emulator.store.persons.values() if p.properties["blacklisted"]}
    truth = set(synth_data.persons.loc[synth_data.persons["blacklisted"], "msisdn"])
    assert listed == truth
