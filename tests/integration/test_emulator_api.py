"""The emulator's private API over raw HTTP: keys, scopes, projects, paths, persons."""

from __future__ import annotations

import json

import requests
from emulator_http import (
    TIMEOUT,
    api,
    auth,
    capture,
    follow,
    hogql,
    make_event,
)

# --------------------------------------------------------------------------- auth


def test_private_api_without_a_key_is_401_with_posthogs_body(emulator):
    response = requests.get(api(emulator, "persons/"), timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.json() == {
        "type": "authentication_error",
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
        "attr": None,
    }


def test_private_api_with_a_wrong_key_is_401_with_posthogs_body(emulator):
    response = requests.get(
        api(emulator, "cohorts/"), headers={"Authorization": "Bearer phx_wrong"}, timeout=TIMEOUT
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
        f"{emulator.url}/api/projects/999/cohorts/", headers=auth(emulator), timeout=TIMEOUT
    )
    assert response.status_code == 404
    assert response.json() == {
        "type": "invalid_request", "code": "not_found", "detail": "Project not found.", "attr": None
    }  # fmt: skip


def test_missing_scope_is_403_naming_the_scope(emulator):
    emulator.scopes = {"cohort:read", "person:read"}
    ok = requests.get(api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT)
    assert ok.status_code == 200
    response = requests.post(
        api(emulator, "cohorts/"), json={"name": "x", "is_static": True},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 403
    assert response.json() == {
        "type": "authentication_error",
        "code": "permission_denied",
        "detail": "API key missing required scope 'cohort:write'",
        "attr": None,
    }
    assert hogql(emulator, "SELECT 1").status_code == 403
    emulator.scopes = {"cohort:write"}  # write implies read
    assert requests.get(api(emulator, "cohorts/"), headers=auth(emulator), timeout=TIMEOUT).ok


def test_project_user_and_current_project(emulator):
    project = requests.get(api(emulator, ""), headers=auth(emulator), timeout=TIMEOUT).json()
    assert str(project["id"]) == emulator.project_id
    current = requests.get(
        f"{emulator.url}/api/projects/@current/", headers=auth(emulator), timeout=TIMEOUT
    )
    assert current.json()["id"] == project["id"]
    me = requests.get(f"{emulator.url}/api/users/@me/", headers=auth(emulator), timeout=TIMEOUT)
    assert me.status_code == 200 and me.json()["team"]["id"] == project["id"]


def test_unknown_path_is_404_and_wrong_method_405(emulator):
    missing = requests.get(f"{emulator.url}/api/nothing/", headers=auth(emulator), timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = requests.delete(api(emulator, "persons/"), headers=auth(emulator), timeout=TIMEOUT)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


# --------------------------------------------------------------------------- persons


def test_persons_list_pages_with_next_urls(emulator):
    capture(emulator, [make_event(i) for i in range(23)])
    people, pages = follow(emulator, api(emulator, "persons/?limit=5"))
    assert pages == 5
    assert len(people) == 23
    assert len({p["id"] for p in people}) == 23
    first = requests.get(
        api(emulator, "persons/?limit=5"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert first.json()["count"] == 23 and first.json()["previous"] is None
    assert "offset=5" in first.json()["next"] and first.json()["next"].startswith(emulator.url)


def test_persons_filters_distinct_id_search_properties(emulator):
    events = [make_event(i) for i in range(6)]
    for i, event in enumerate(events):
        event["properties"]["$set"] = {"blacklisted": i % 2 == 0, "points": i}
    capture(emulator, events)
    number = events[3]["distinct_id"]

    def get(params: dict) -> list[dict]:
        response = requests.get(
            api(emulator, "persons/"), params=params, headers=auth(emulator), timeout=TIMEOUT
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
        api(emulator, f"persons/{person['id']}/"), headers=auth(emulator), timeout=TIMEOUT
    )
    assert one.json()["distinct_ids"] == [number]
    assert (
        requests.get(
            api(emulator, "persons/nobody/"), headers=auth(emulator), timeout=TIMEOUT
        ).status_code
        == 404
    )


def test_persons_bad_properties_filter_is_400(emulator):
    bad = [{"key": "x", "operator": "between", "value": 1}]
    response = requests.get(
        api(emulator, "persons/"), params={"properties": json.dumps(bad)},
        headers=auth(emulator), timeout=TIMEOUT,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert response.json()["attr"] == "properties"


