"""The PostHog emulator at scale: pre-loading, a HogQL group-by, capture over HTTP, and its
ClickHouse engine (chdb) against the duckdb engine it replaced.

Data: ``drawkit.synth.generate`` with 200,000 subscribers over 5 days (about 1.5M recharge
rows); ``quick``: 5,000 subscribers.

* ``load``: drawkit's upload handing its capture events to ``EmulatorServer.ingest`` (the
  capture path: validation, person model, typing, ClickHouse insert); baseline: generating
  the same synth data (so the ratio says "loading costs N x making").
* ``hogql``: POST /query/ over loopback: points per subscriber in the last day's window,
  excluding blacklisted persons (HAVING, ORDER BY, LIMIT 50,000); baseline: the same
  aggregation in pandas on the raw frame in the same process. Target: under 10 s.
* ``capture``: 50 batches of 1,000 events through POST /batch/ with requests; events per
  second; baseline: the same events through ``Store.capture`` in process (no HTTP).
* ``engine``: one group-by with a person join over the same ~1.5M synthetic events, printed
  the way PostHog prints property reads, in chdb and (when installed) in duckdb with the
  equivalent SQL; plus chdb's installed size and import time against duckdb's.
"""

from __future__ import annotations

import importlib
import subprocess
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
  AND ifNull(toString(person.properties.blacklisted), '') != 'true'
GROUP BY distinct_id HAVING points >= 1 ORDER BY distinct_id LIMIT 50000
"""
WINDOW = {"start": "2026-11-18T23:00:00Z", "end": "2026-11-19T23:00:00Z"}


def _load_and_query(n: int) -> dict:
    import requests

    from drawkit.cli.emulator import preload
    from drawkit.offline.posthog_emulator import EmulatorServer
    from drawkit.synth import generate

    started = time.perf_counter()
    data = generate(subscribers=n, days=DAYS, end_date=END, seed=5)
    make = time.perf_counter() - started
    with EmulatorServer(profile="ideal") as server:
        started = time.perf_counter()
        summary = preload(server, data.recharges, data.persons, None)
        load = time.perf_counter() - started
        body = {"query": {"kind": "HogQLQuery", "query": QUERY, "values": WINDOW}}
        headers = {"Authorization": f"Bearer {server.api_key}"}
        url = f"{server.url}/api/environments/{server.project_id}/query/"
        started = time.perf_counter()
        answer = requests.post(url, json=body, headers=headers, timeout=600)
        query = time.perf_counter() - started
        answer.raise_for_status()
        rows = len(answer.json()["results"])
        events = server.store.event_count()
        persons = len(server.store.persons_by_id)
    return {"make": make, "load": load, "query": query, "rows": rows, "events": events,
            "persons": persons, "sent": summary.events_sent}  # fmt: skip


def _pandas_baseline(n: int) -> dict:
    import pandas as pd

    from drawkit.config import PromotionConfig
    from drawkit.eligibility import parse_timestamps
    from drawkit.msisdn import normalize_series
    from drawkit.synth import generate

    data = generate(subscribers=n, days=DAYS, end_date=END, seed=5)
    frame = data.recharges
    e164, _ = normalize_series(frame["msisdn"])
    stamps = parse_timestamps(frame["timestamp"], PromotionConfig()).dt.tz_convert("UTC")
    stamps = stamps.dt.tz_localize(None)
    amounts = pd.to_numeric(frame["amount_ngn"], errors="coerce")
    listed = set(data.persons.loc[data.persons["blacklisted"], "msisdn"])
    tid = frame["transaction_id"].astype("string").str.strip()
    usable = e164.notna() & tid.notna() & (tid != "") & stamps.notna()
    started = time.perf_counter()
    start = pd.Timestamp(WINDOW["start"]).tz_localize(None)
    end = pd.Timestamp(WINDOW["end"]).tz_localize(None)
    keep = usable & (stamps >= start) & (stamps < end) & (amounts > 0)
    keep &= ~e164.isin(listed)
    unique = ~(tid.where(keep).duplicated(keep="first") & keep)
    keep &= unique
    points = (amounts[keep] // 100).groupby(e164[keep]).sum()
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
    with EmulatorServer(profile="ideal") as server, requests.Session() as session:
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
    store.sync()
    seconds = time.perf_counter() - started
    stored = store.event_count()
    store.close()
    return {"seconds": seconds, "events": stored}


def _engine_data(n_events: int):  # noqa: ANN202 - two pyarrow tables
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(1)
    people = max(n_events // 7, 1)
    ids = np.array([f"+2348{i:09d}" for i in range(people)])
    who = rng.integers(0, people, n_events)
    amounts = rng.integers(1, 51, n_events) * 100
    start = int(np.datetime64("2026-11-15T00:00:00", "us").astype(np.int64))
    micros = start + rng.integers(0, DAYS * 86400, n_events) * 1_000_000
    props = [f'{{"amount_ngn":{a},"transaction_id":"t{i}"}}' for i, a in enumerate(amounts)]
    events = pa.table({
        "distinct_id": pa.array(ids[who]), "event": pa.array(["recharge"] * n_events),
        "timestamp": pa.array(micros, pa.timestamp("us", tz="UTC")),
        "properties": pa.array(props),
    })  # fmt: skip
    persons = pa.table({
        "distinct_id": pa.array(ids),
        "properties": pa.array([f'{{"blacklisted":{"true" if i % 50 == 0 else "false"}}}'
                                for i in range(people)]),
    })  # fmt: skip
    return events, persons


CH_QUERY = """
SELECT e.distinct_id, sum(floor(accurateCastOrNull(replaceRegexpAll(nullIf(nullIf(
  JSONExtractRaw(e.properties, 'amount_ngn'), ''), 'null'), '^"|"$', ''), 'Float64') / 100)) AS p
FROM {db}.ev AS e LEFT JOIN {db}.ps AS pp ON pp.distinct_id = e.distinct_id
WHERE e.timestamp >= toDateTime64('2026-11-18 23:00:00', 6, 'UTC')
  AND e.timestamp < toDateTime64('2026-11-19 23:00:00', 6, 'UTC')
  AND ifNull(notEquals(replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(pp.properties,
      'blacklisted'), ''), 'null'), '^"|"$', ''), 'true'), 1)
GROUP BY e.distinct_id HAVING p >= 1 ORDER BY e.distinct_id LIMIT 50000
"""
DUCK_QUERY = """
SELECT e.distinct_id, sum(floor(TRY_CAST(json_extract_string(e.properties, '$.amount_ngn')
  AS DOUBLE) / 100)) AS p
FROM ev e LEFT JOIN ps pp ON pp.distinct_id = e.distinct_id
WHERE e.timestamp >= TIMESTAMPTZ '2026-11-18 23:00:00+00'
  AND e.timestamp < TIMESTAMPTZ '2026-11-19 23:00:00+00'
  AND coalesce(json_extract_string(pp.properties, '$.blacklisted') != 'true', true)
GROUP BY e.distinct_id HAVING p >= 1 ORDER BY e.distinct_id LIMIT 50000
"""


def _engine_chdb(n_events: int) -> dict:
    from drawkit.offline.posthog_emulator.engine import Engine

    events, persons = _engine_data(n_events)
    engine = Engine.get()
    db = engine.create_database("bench")
    engine.execute(f"CREATE TABLE {db}.ev (distinct_id String, event String, timestamp "
                   "DateTime64(6, 'UTC'), properties String) ENGINE = MergeTree "
                   "ORDER BY (toDate(timestamp), event, cityHash64(distinct_id))")  # fmt: skip
    engine.execute(f"CREATE TABLE {db}.ps (distinct_id String, properties String) "
                   "ENGINE = MergeTree ORDER BY distinct_id")  # fmt: skip
    started = time.perf_counter()
    engine.execute(f"INSERT INTO {db}.ev SELECT * FROM Python(table)", events)  # noqa: S608
    engine.execute(f"INSERT INTO {db}.ps SELECT * FROM Python(table)", persons)  # noqa: S608
    load = time.perf_counter() - started
    best, rows = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        rows = len(engine.query(CH_QUERY.format(db=db))["data"])
        best = min(best, time.perf_counter() - started)
    engine.drop_database(db)
    return {"load": load, "query": best, "rows": rows}


def _engine_duckdb(n_events: int) -> dict:
    try:
        import duckdb
    except ImportError:
        return {"missing": True}
    ev, ps = _engine_data(n_events)  # noqa: F841 - read by name in duckdb's SQL
    conn = duckdb.connect()
    started = time.perf_counter()
    conn.execute("CREATE TABLE ev AS SELECT * FROM ev")
    conn.execute("CREATE TABLE ps AS SELECT * FROM ps")
    load = time.perf_counter() - started
    best, rows = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        rows = len(conn.execute(DUCK_QUERY).fetchall())
        best = min(best, time.perf_counter() - started)
    conn.close()
    return {"load": load, "query": best, "rows": rows}


def _installed(package: str) -> dict:
    """Installed bytes of a distribution (and its companion core wheel) and import seconds."""
    from importlib import metadata

    total = 0
    for name in (package, f"{package}-core"):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in dist.files or []:
            path = Path(dist.locate_file(file))
            if path.is_file():
                total += path.stat().st_size
    if total == 0:
        return {"missing": True}
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {package}"], check=True)
        best = min(best, time.perf_counter() - started)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return {"bytes": total, "import": best - (time.perf_counter() - started)}


def run(quick: bool) -> list[Figure]:
    """Measure loading, one HogQL aggregation, capture throughput and the engine."""
    me = importlib.import_module(Path(__file__).stem)  # picklable for the spawned children
    n = QUICK if quick else FULL
    batches = 10 if quick else 50
    n_events = 40_000 if quick else 1_500_000
    main = run_isolated(me._load_and_query, n)
    base = run_isolated(me._pandas_baseline, n)
    http = run_isolated(me._capture_http, batches)
    local = run_isolated(me._capture_store, batches)
    chdb = run_isolated(me._engine_chdb, n_events)
    duck = run_isolated(me._engine_duckdb, n_events)
    sizes = {name: _installed(name) for name in ("chdb", "duckdb")}
    assert main["rows"] == base["rows"], (main["rows"], base["rows"])
    assert http["events"] == local["events"] == batches * 1000
    size = f"{main['persons']:,} persons, {main['events']:,} events"
    http_rate = http["events"] / http["seconds"]
    local_rate = local["events"] / local["seconds"]
    figures = [
        Figure("emulator preload (upload -> ingest)", main["load"], "s", main["make"],
               main["load"] / main["make"],
               note=f"{size}; {main['sent'] / main['load']:,.0f} events/s; "
               "baseline = synth generate"),
        Figure("emulator HogQL group-by", main["query"], "s", base["seconds"],
               main["query"] / base["seconds"], target="< 10 s", ok=main["query"] < 10,
               note=f"{main['rows']:,} rows over {size}; baseline = pandas in process"),
        Figure("emulator capture /batch/ (1,000 per request)", http_rate, "events/s",
               local_rate, http_rate / local_rate, target=">= 5,000 events/s",
               ok=http_rate >= 5_000, note="baseline = Store.capture without HTTP"),
        Figure("emulator peak memory (load + query)", main["peak_rss_bytes"] / GIB, "GiB",
               note=size),
    ]  # fmt: skip
    if not duck.get("missing"):
        assert chdb["rows"] == duck["rows"], (chdb["rows"], duck["rows"])
        figures.append(Figure(
            "engine group-by: chdb vs duckdb", chdb["query"], "s", duck["query"],
            chdb["query"] / duck["query"],
            note=f"{n_events:,} events, person join; baseline = duckdb, same data and query",
        ))  # fmt: skip
        figures.append(Figure(
            "engine bulk insert: chdb vs duckdb", chdb["load"], "s", duck["load"],
            chdb["load"] / duck["load"], note=f"{n_events:,} events from Arrow",
        ))  # fmt: skip
    if not sizes["chdb"].get("missing") and not sizes["duckdb"].get("missing"):
        figures.append(Figure(
            "engine installed size: chdb vs duckdb", sizes["chdb"]["bytes"] / 2**20, "MiB",
            sizes["duckdb"]["bytes"] / 2**20, sizes["chdb"]["bytes"] / sizes["duckdb"]["bytes"],
            note="chdb + chdb-core wheels as installed",
        ))  # fmt: skip
        figures.append(Figure(
            "engine import time: chdb vs duckdb", sizes["chdb"]["import"], "s",
            sizes["duckdb"]["import"], sizes["chdb"]["import"] / sizes["duckdb"]["import"],
            note="python -c 'import …' minus interpreter start, best of 3",
        ))  # fmt: skip
    return figures
