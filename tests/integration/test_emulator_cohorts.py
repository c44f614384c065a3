"""The emulator's cohorts over raw HTTP (the ideal profile: fast, unnormalised)."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import pytest
import requests
from emulator_http import (
    TIMEOUT,
    api,
    auth,
    capture,
    follow,
    make_event,
    wait_calculated,
)

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
    events = [make_event(i) for i in range(30)]  # hours 0..23, then 0..5 again
    for i, event in enumerate(events):
        event["properties"]["$set"] = {"blacklisted": i % 10 == 0}
    capture(emulator, events)
    body = _behavioural_cohort("2026-11-19T00:00:00Z", "2026-11-19T12:00:00Z")
    created = requests.post(
        api(emulator, "cohorts/"), json=body, headers=auth(emulator), timeout=TIMEOUT
    )
    assert created.status_code == 201
    cohort = created.json()
    assert cohort["is_calculating"] is True and cohort["count"] is None
    assert cohort["is_static"] is False and cohort["filters"] == body["filters"]
    done = wait_calculated(emulator, cohort["id"])
    # hours 0..11 -> i in 0..11 and 24..29; blacklisted i = 0, 10
    expected = {events[i]["distinct_id"] for i in [*range(12), *range(24, 30)] if i % 10 != 0}
    assert done["count"] == len(expected) and done["last_calculation"]
    members, pages = follow(emulator, api(emulator, f"cohorts/{cohort['id']}/persons/?limit=4"))
    assert {m["distinct_ids"][0] for m in members} == expected
    assert pages == 4 and all(m["type"] == "person" for m in members)
    page = requests.get(
        api(emulator, f"cohorts/{cohort['id']}/persons/"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert "count" not in page.json()


def test_calculating_phase_lasts_the_configured_time(emulator):
    emulator.calculation_seconds = 0.5
    created = requests.post(
        api(emulator, "cohorts/"), json={"name": "s", "is_static": True},
        headers=auth(emulator), timeout=TIMEOUT,
    ).json()  # fmt: skip
    started = time.monotonic()
    again = requests.get(
        api(emulator, f"cohorts/{created['id']}/"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert again.json()["is_calculating"] is True
    wait_calculated(emulator, created["id"])
    assert time.monotonic() - started >= 0.35


def test_performed_event_multiple_and_relative_time(emulator):
    now = pd.Timestamp.now(tz="UTC").floor("s")
    events = []
    for i in range(3):
        for k in range(i + 1):  # person i recharged i+1 times within the last hours
            stamp = (now - pd.Timedelta(hours=k + 1)).isoformat()
            events.append(make_event(i, uuid=str(uuid.uuid4()), timestamp=stamp))
    capture(emulator, events)
    body = {"name": "twice", "filters": {"properties": {"type": "OR", "values": [{
        "type": "behavioral", "key": "recharge", "value": "performed_event_multiple",
        "event_type": "events", "operator": "gte", "operator_value": 2,
        "time_value": 1, "time_interval": "day"}]}}}  # fmt: skip
    created = requests.post(
        api(emulator, "cohorts/"), json=body, headers=auth(emulator), timeout=TIMEOUT
    )
    assert wait_calculated(emulator, created.json()["id"])["count"] == 2


def test_static_cohort_from_ids_csv_and_add_remove(emulator):
    capture(emulator, [make_event(i) for i in range(6)])
    people = {p.distinct_id: p.id for p in emulator.store.persons.values()}
    numbers = sorted(people)
    created = requests.post(
        api(emulator, "cohorts/"),
        json={
            "name": "winners",
            "is_static": True,
            "_create_static_person_ids": [people[numbers[0]]],
        },
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert created.status_code == 201 and created.json()["is_static"] is True
    cohort_id = created.json()["id"]
    assert wait_calculated(emulator, cohort_id)["count"] == 1
    added = requests.patch(
        api(emulator, f"cohorts/{cohort_id}/add_persons_to_static_cohort/"),
        json={"person_ids": [people[numbers[1]], people[numbers[2]]]},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert added.status_code == 200
    removed = requests.patch(
        api(emulator, f"cohorts/{cohort_id}/remove_person_from_static_cohort/"),
        json={"person_id": people[numbers[0]]}, headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert removed.status_code == 200
    members, _ = follow(emulator, api(emulator, f"cohorts/{cohort_id}/persons/"))
    assert sorted(m["distinct_ids"][0] for m in members) == numbers[1:3]

    upload = "distinct_id\n" + "\n".join(numbers[3:]) + "\n+2340000000000\n"
    form = requests.post(
        api(emulator, "cohorts/"), data={"name": "from csv", "is_static": "true"},
        files={"csv": ("people.csv", upload, "text/csv")}, headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert form.status_code == 201, form.text
    assert wait_calculated(emulator, form.json()["id"])["count"] == 3


def test_static_cohort_from_a_hogql_query_and_patched_query(emulator):
    capture(emulator, [make_event(i) for i in range(6)])
    query = {
        "kind": "HogQLQuery",
        "query": "SELECT DISTINCT distinct_id FROM events "
        "WHERE toInt(properties.amount_ngn) >= {a}",
        "values": {"a": 500},
    }
    created = requests.post(
        api(emulator, "cohorts/"), json={"name": "big", "is_static": True, "query": query},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert created.status_code == 201
    assert wait_calculated(emulator, created.json()["id"])["count"] == 2  # amounts 500, 600
    query["values"] = {"a": 400}
    patched = requests.patch(
        api(emulator, f"cohorts/{created.json()['id']}/"), json={"query": query},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert patched.status_code == 200 and patched.json()["is_calculating"] is True
    assert wait_calculated(emulator, created.json()["id"])["count"] == 3
    bad = requests.patch(
        api(emulator, f"cohorts/{created.json()['id']}/"),
        json={"name": "renamed", "query": {"kind": "HogQLQuery", "query": "SELECT nope("}},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert bad.status_code == 400 and bad.json()["attr"] == "query"
    again = requests.get(
        api(emulator, f"cohorts/{created.json()['id']}/"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert again.json()["name"] == "big"  # a rejected PATCH changes nothing


def test_cohort_list_search_patch_soft_delete_and_405(emulator):
    ids = []
    for name in ["daily 2026-11-19", "daily 2026-11-20", "test"]:
        r = requests.post(
            api(emulator, "cohorts/"), json={"name": name, "is_static": True},
            headers=auth(emulator), timeout=TIMEOUT,
        )  # fmt: skip
        ids.append(r.json()["id"])
    listed, pages = follow(emulator, api(emulator, "cohorts/?limit=1"))
    assert pages == 3 and sorted(c["id"] for c in listed) == sorted(ids)
    found = requests.get(
        api(emulator, "cohorts/"),
        params={"search": "DAILY"},
        headers=auth(emulator),
        timeout=TIMEOUT,
    )
    assert {c["name"] for c in found.json()["results"]} == {"daily 2026-11-19", "daily 2026-11-20"}
    renamed = requests.patch(
        api(emulator, f"cohorts/{ids[2]}/"),
        json={"name": "renamed"},
        headers=auth(emulator),
        timeout=TIMEOUT,
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    deleted = requests.delete(
        api(emulator, f"cohorts/{ids[2]}/"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert deleted.status_code == 405
    assert deleted.json() == {
        "type": "invalid_request", "code": "method_not_allowed",
        "detail": 'Method "DELETE" not allowed.', "attr": None,
    }  # fmt: skip
    soft = requests.patch(
        api(emulator, f"cohorts/{ids[2]}/"),
        json={"deleted": True},
        headers=auth(emulator),
        timeout=TIMEOUT,
    )
    assert soft.status_code == 200 and soft.json()["deleted"] is True
    gone = requests.get(
        api(emulator, f"cohorts/{ids[2]}/"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert gone.status_code == 404
    left = requests.get(api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT).json()
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
        api(emulator, "cohorts/"), json={"name": "bad", "filters": filters},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert response.json()["attr"] == "filters"




def test_a_static_cohort_query_is_not_cut_at_the_default_100_rows(emulator):
    capture(emulator, [make_event(i) for i in range(150)])
    query = {"kind": "HogQLQuery", "query": "SELECT DISTINCT distinct_id FROM events"}
    created = requests.post(
        api(emulator, "cohorts/"), json={"name": "all", "is_static": True, "query": query},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert wait_calculated(emulator, created.json()["id"])["count"] == 150
