"""Fault injection, the admin routes, the request log, junk bodies."""

from __future__ import annotations

import json
import time

import pytest
import requests
from emulator_http import (
    TIMEOUT,
    admin_headers,
    api,
    auth,
    capture,
    make_event,
)

# --------------------------------------------------------------------------- faults


def test_fault_5xx_is_logged_and_applies_to_capture_and_privateapi(emulator):
    emulator.faults.update(error_rate=1.0, error_status=502)
    assert capture(emulator, [make_event(1)]).status_code == 502
    failed = requests.get(api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT)
    assert failed.status_code == 502 and failed.json()["type"] == "server_error"
    assert [e["fault"] for e in emulator.request_log[-2:]] == [502, 502]
    assert emulator.store.event_count() == 0
    emulator.faults.reset()
    assert capture(emulator, [make_event(1)]).status_code == 200


def test_fault_429_carries_retry_after(emulator):
    emulator.faults.update(rate_limit_rate=1.0, retry_after=7)
    response = requests.get(api(emulator, "persons/"), headers=auth(emulator), timeout=TIMEOUT)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {
        "type": "throttled_error", "code": "throttled",
        "detail": "Request was throttled. Expected available in 7 seconds.", "attr": None,
    }  # fmt: skip


def test_fault_slow_answers_time_out_a_short_client_timeout(emulator):
    emulator.faults.update(slow_rate=1.0, slow_seconds=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(api(emulator, "persons/"), headers=auth(emulator), timeout=0.2)
    started = time.monotonic()
    ok = requests.get(api(emulator, "persons/"), headers=auth(emulator), timeout=TIMEOUT)
    assert ok.status_code == 200 and time.monotonic() - started >= 0.5


def test_fault_drop_closes_the_connection(emulator):
    emulator.faults.update(drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        capture(emulator, [make_event(1)])
    assert emulator.request_log[-1]["fault"] == "drop"
    assert emulator.store.event_count() == 0


def test_faults_are_deterministic_per_seed(emulator):
    def outcomes() -> list:
        emulator.faults.reset()
        emulator.faults.update(error_rate=0.3, rate_limit_rate=0.3, seed=42)
        return [
            requests.get(
                api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT
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
            api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT
        ).status_code
        for _ in range(4)
    ]
    assert codes == [503, 429, 200, 200]


def test_admin_endpoint_sets_and_resets_faults_without_being_faulted(emulator):
    response = requests.post(
        f"{emulator.url}/_emulator/faults", json={"error_rate": 1.0, "seed": 3},
        headers=admin_headers(emulator), timeout=TIMEOUT,
    )
    assert response.status_code == 200 and response.json()["error_rate"] == 1.0
    assert emulator.faults.error_rate == 1.0
    assert (
        requests.get(
            api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT
        ).status_code
        == 503
    )
    log = requests.get(f"{emulator.url}/_emulator/requests", headers=admin_headers(emulator),
                       timeout=TIMEOUT).json()["results"]
    assert log[-1]["status"] == 503 and log[-1]["fault"] == 503
    bad = requests.post(f"{emulator.url}/_emulator/faults", json={"error_rate": 2},
                        headers=admin_headers(emulator), timeout=TIMEOUT)
    assert bad.status_code == 400
    reset = requests.post(f"{emulator.url}/_emulator/faults/reset", headers=admin_headers(emulator),
                          timeout=TIMEOUT)
    assert reset.json()["error_rate"] == 0.0
    stats = requests.get(f"{emulator.url}/_emulator/stats", headers=admin_headers(emulator),
                         timeout=TIMEOUT).json()
    assert stats["events"] == 0


def test_admin_config_sets_scopes_and_reset_drops_data(emulator):
    admin = f"{emulator.url}/_emulator"
    changed = requests.post(
        f"{admin}/config",
        json={"scopes": ["person:read"], "calculation_seconds": 0},
        headers=admin_headers(emulator), timeout=TIMEOUT,
    )
    assert changed.json()["scopes"] == ["person:read"]
    assert changed.json()["cohort_calculation_seconds"] == 0.0
    assert changed.json()["hogql_rate_limit"] is None
    denied = requests.get(api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT)
    assert denied.status_code == 403 and "cohort:read" in denied.json()["detail"]
    bad = requests.post(f"{admin}/config", json={"colour": "red"}, headers=admin_headers(emulator),
                        timeout=TIMEOUT)
    assert bad.status_code == 400
    capture(emulator, [make_event(i) for i in range(3)])
    reset = requests.post(f"{admin}/reset", headers=admin_headers(emulator), timeout=TIMEOUT)
    assert reset.status_code == 200
    assert emulator.store.event_count() == 0 and not emulator.store.persons
    assert capture(emulator, [make_event(1)]).status_code == 200  # a reset uuid is new again
    assert emulator.store.event_count() == 1


def test_request_log_never_holds_keys(emulator):
    capture(emulator, [make_event(1)])
    requests.get(api(emulator, "persons/"), headers=auth(emulator), timeout=TIMEOUT)
    text = json.dumps(emulator.request_log)
    assert emulator.api_key not in text and emulator.project_api_key not in text
    assert {e["path"] for e in emulator.request_log} == {
        "/batch/",
        f"/api/projects/{emulator.project_id}/persons/",
    }


def test_request_log_masks_phone_numbers_in_paths(emulator):
    capture(emulator, [make_event(1)])
    number = make_event(1)["distinct_id"]
    found = requests.get(
        api(emulator, f"persons/{number}/"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert found.status_code == 200
    assert number not in json.dumps(emulator.request_log)


def test_answers_are_not_held_back_by_nagle(emulator):
    with requests.Session() as session:
        session.get(api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT)
        started = time.monotonic()
        for _ in range(50):
            session.get(api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT)
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
        api(emulator, "cohorts/"), json={"name": "s", "is_static": True},
        headers=auth(emulator), timeout=TIMEOUT,
    ).json()["id"]  # fmt: skip
    targets = [
        ("POST", "/batch/"), ("POST", "/i/v0/e/"),
        ("POST", api(emulator, "query/")), ("POST", api(emulator, "cohorts/")),
        ("PATCH", api(emulator, f"cohorts/{static}/")),
        ("PATCH", api(emulator, f"cohorts/{static}/add_persons_to_static_cohort/")),
        ("PATCH", api(emulator, f"cohorts/{static}/remove_person_from_static_cohort/")),
        ("POST", "/_emulator/faults"), ("POST", "/_emulator/config"),
    ]  # fmt: skip
    headers = {**auth(emulator), "Content-Type": "application/json"}
    admin = {**admin_headers(emulator), "Content-Type": "application/json"}
    for method, target in targets:
        url = target if target.startswith("http") else emulator.url + target
        for body in JUNK_BODIES:
            sent = admin if "/_emulator/" in target else headers
            response = requests.request(method, url, data=body, headers=sent, timeout=TIMEOUT)
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
        api(emulator, f"persons/?{query}"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert response.status_code == 400 and response.json()["type"] == "validation_error"


