"""HTTP helpers shared by the emulator's integration tests (requests on loopback)."""

from __future__ import annotations

import time
import uuid

import requests

from drawkit.offline.posthog_emulator import EmulatorServer

TIMEOUT = 5


def auth(server: EmulatorServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def api(server: EmulatorServer, path: str) -> str:
    return f"{server.url}/api/projects/{server.project_id}/{path}"


def make_event(i: int, **extra) -> dict:
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


def capture(server: EmulatorServer, events: list[dict]) -> requests.Response:
    body = {"api_key": server.project_api_key, "batch": events}
    return requests.post(f"{server.url}/batch/", json=body, timeout=TIMEOUT)


def hogql(server: EmulatorServer, query: str, values: dict | None = None) -> requests.Response:
    node = {"kind": "HogQLQuery", "query": query, **({"values": values} if values else {})}
    return requests.post(
        api(server, "query/"), json={"query": node}, headers=auth(server), timeout=TIMEOUT
    )


def follow(server: EmulatorServer, url: str) -> tuple[list[dict], int]:
    results, pages = [], 0
    while url:
        page = requests.get(url, headers=auth(server), timeout=TIMEOUT).json()
        results += page["results"]
        url = page["next"]
        pages += 1
    return results, pages


def wait_calculated(server: EmulatorServer, cohort_id: int) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        cohort = requests.get(
            api(server, f"cohorts/{cohort_id}/"), headers=auth(server), timeout=TIMEOUT
        ).json()
        if not cohort["is_calculating"]:
            return cohort
        time.sleep(0.05)
    raise AssertionError("cohort still calculating after 5 s")




def admin_headers(server: EmulatorServer) -> dict[str, str]:
    """The header the /_emulator/ admin routes need."""
    return {"Authorization": f"Bearer {server.admin_key}"}
