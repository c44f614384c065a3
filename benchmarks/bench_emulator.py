"""The PostHog emulator at scale: loading, a HogQL group-by, capture over HTTP.

Data: ``drawkit.synth.generate`` with 200,000 subscribers over 5 days (about 1.5M recharge
rows, ~1.5M events after the loader skips invalid rows); ``quick``: 5,000 subscribers.

* ``load``: ``EmulatorServer.load_synth`` + first sync (events into duckdb, persons mirrored);
  baseline: generating the same synth data (so the ratio says "loading costs N x making").
* ``hogql``: POST /query/ over loopback: points per subscriber in the last day's window,
  excluding blacklisted persons (HAVING, ORDER BY, LIMIT 50,000); baseline: the same
  aggregation in pandas on the raw frame in the same process. Target: under 10 s.
* ``capture``: 50 batches of 1,000 events through POST /batch/ with requests; events per
  second; baseline: the same events through ``Store.capture`` in process (no HTTP).
"""

from __future__ import annotations

import importlib
import sys
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, Figure, run_isolated  # noqa: E402

FULL = 200_000
QUICK = 5_000
DAYS = 5
END = date(2026, 11, 20)
QUERY = """
SELECT distinct_id, sum(floor(toFloat(properties.amount_ngn) / 100)) AS points
FROM events
WHERE event = 'recharge' AND timestamp >= toDateTime({start}) AND timestamp < toDateTime({end})
  AND toFloat(properties.amount_ngn) > 0
  AND (person.properties.blacklisted != true OR person.properties.blacklisted IS NULL)
GROUP BY distinct_id HAVING points >= 1 ORDER BY distinct_id LIMIT 50000
"""
WINDOW = {"start": "2026-11-18T23:00:00Z", "end": "2026-11-19T23:00:00Z"}


def _load_and_query(n: int) -> dict:
    import requests

    from drawkit.offline.posthog_emulator import EmulatorServer
    from drawkit.synth import generate

    started = time.perf_counter()
    data = generate(subscribers=n, days=DAYS, end_date=END, seed=5)
    make = time.perf_counter() - started
    with EmulatorServer() as server:
        started = time.perf_counter()
        summary = server.load_synth(data)
        server.store.sync()
        load = time.perf_counter() - started
        body = {"query": {"kind": "HogQLQuery", "query": QUERY, "values": WINDOW}}
        headers = {"Authorization": f"Bearer {server.api_key}"}
        url = f"{server.url}/api/projects/{server.project_id}/query/"
        started = time.perf_counter()
        answer = requests.post(url, json=body, headers=headers, timeout=600)
        query = time.perf_counter() - started
        answer.raise_for_status()
        rows = len(answer.json()["results"])
        events = server.store.event_count()
    return {"make": make, "load": load, "query": query, "rows": rows, "events": events,
            "persons": summary["persons"], "recharges": len(data.recharges)}  # fmt: skip


def _pandas_baseline(n: int) -> dict:
    import pandas as pd

    from drawkit.offline.posthog_emulator.loaders import recharge_events
    from drawkit.synth import generate

    data = generate(subscribers=n, days=DAYS, end_date=END, seed=5)
    frame, _ = recharge_events(data.recharges)
    amounts = pd.to_numeric(
        frame["properties"].str.extract(r'"amount_ngn":\s*"?([^,"}]*)', expand=False),
        errors="coerce",
    )
    listed = set(data.persons.loc[data.persons["blacklisted"], "msisdn"])
    started = time.perf_counter()
    start = pd.Timestamp(WINDOW["start"]).tz_localize(None)
    end = pd.Timestamp(WINDOW["end"]).tz_localize(None)
    keep = (frame["timestamp"] >= start) & (frame["timestamp"] < end) & (amounts > 0)
    keep &= ~frame["distinct_id"].isin(listed)
    points = (amounts[keep] // 100).groupby(frame["distinct_id"][keep]).sum()
    points = points[points >= 1].sort_index().head(50_000)
    return {"seconds": time.perf_counter() - started, "rows": len(points)}


def _events(batches: int) -> list[list[dict]]:
    return [
        [
            {
                "event": "recharge",
                "distinct_id": f"+2348{(b * 1000 + i) % 200_000:09d}",
                "properties": {"amount_ngn": 100 * (i % 9 + 1), "transaction_id": f"t{b}-{i}",
                               "$set": {"blacklisted": False}},
                "timestamp": "2026-11-19T10:00:00Z",
                "uuid": str(uuid.UUID(int=b * 1000 + i + 1)),
            }
            for i in range(1000)
        ]
        for b in range(batches)
    ]  # fmt: skip


def _capture_http(batches: int) -> dict:
    import requests

    from drawkit.offline.posthog_emulator import EmulatorServer

    payloads = _events(batches)
    with EmulatorServer() as server, requests.Session() as session:
        started = time.perf_counter()
        for batch in payloads:
            body = {"api_key": server.project_api_key, "batch": batch}
            session.post(f"{server.url}/batch/", json=body, timeout=60).raise_for_status()
        seconds = time.perf_counter() - started
        stored = server.store.event_count()
    return {"seconds": seconds, "events": stored}


def _capture_store(batches: int) -> dict:
    from drawkit.offline.posthog_emulator.store import Store

    payloads = _events(batches)
    store = Store()
    started = time.perf_counter()
    for batch in payloads:
        store.capture(batch)
    store.flush()
    return {"seconds": time.perf_counter() - started, "events": store.event_count()}


def run(quick: bool) -> list[Figure]:
    """Measure loading, one HogQL aggregation and capture throughput."""
    me = importlib.import_module(Path(__file__).stem)  # picklable for the spawned children
    n = QUICK if quick else FULL
    batches = 10 if quick else 50
    main = run_isolated(me._load_and_query, n)
    base = run_isolated(me._pandas_baseline, n)
    http = run_isolated(me._capture_http, batches)
    local = run_isolated(me._capture_store, batches)
    assert main["rows"] == base["rows"], (main["rows"], base["rows"])
    assert http["events"] == local["events"] == batches * 1000
    size = f"{main['persons']:,} persons, {main['events']:,} events"
    http_rate = http["events"] / http["seconds"]
    local_rate = local["events"] / local["seconds"]
    return [
        Figure("emulator load_synth + sync", main["load"], "s", main["make"],
               main["load"] / main["make"], note=f"{size}; baseline = synth generate"),
        Figure("emulator HogQL group-by", main["query"], "s", base["seconds"],
               main["query"] / base["seconds"], target="< 10 s", ok=main["query"] < 10,
               note=f"{main['rows']:,} rows over {size}; baseline = pandas in process"),
        Figure("emulator capture /batch/ (1,000 per request)", http_rate, "events/s",
               local_rate, http_rate / local_rate, target=">= 5,000 events/s",
               ok=http_rate >= 5_000, note="baseline = Store.capture without HTTP"),
        Figure("emulator peak memory (load + query)", main["peak_rss_bytes"] / GIB, "GiB",
               note=size),
    ]  # fmt: skip
