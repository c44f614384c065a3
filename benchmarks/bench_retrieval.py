"""Participant retrieval from PostHog: the HogQL path against the cohort path.

Each side runs in its own fresh process (run_isolated) with its own emulator on loopback,
pre-loaded through the emulator's loader (not timed) with ``n`` eligible participants, one
recharge each inside the draw window (amounts 100..5,000 naira), plus 2% of them
blacklisted and 2% recharging outside the window so the filters have work to do.

* ``cohort`` (baseline): ensure the daily cohort (create + wait for the calculation),
  page through its persons, fetch their recharges with HogQL per 1,000 distinct ids, run
  the local eligibility rules.
* ``hogql``: one HogQL aggregation paged by msisdn (50,000 rows a page) + one accounting
  query, then ``participants_from_points``.

Figures: HTTP requests per 10,000 participants on the HogQL path (from the client's
metrics; target <= 1), time ratio hogql / cohort (target < 1), requests of the cohort path,
peak memory of the HogQL process. Both sides must return the same participants (digest
checked). Full size 200,000 participants; ``quick``: 5,000.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, Figure, run_isolated  # noqa: E402

FULL = 200_000
QUICK = 5_000
DRAW_DATE = date(2026, 11, 27)  # window 2026-11-25 23:00Z .. 2026-11-26 23:00Z


def dataset(n: int, seed: int = 20261127) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recharges (one per subscriber) and persons for ``n`` eligible subscribers."""
    rng = np.random.default_rng(seed)
    extra = n // 50  # blacklisted, and outside the window
    total = n + 2 * extra
    national = 803_000_0000 + rng.choice(9_999_999, size=total, replace=False)
    msisdn = np.char.add("+234", national.astype("U10"))
    seconds = rng.integers(0, 86_400, total)
    seconds[n + extra :] -= 86_400 * 2  # two days before: outside the window
    stamps = pd.Timestamp("2026-11-25T23:00:00Z") + pd.to_timedelta(seconds, unit="s")
    recharges = pd.DataFrame(
        {
            "transaction_id": [f"T{i:08d}" for i in range(total)],
            "msisdn": msisdn,
            "amount_ngn": rng.integers(1, 51, total) * 100,
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    blacklisted = np.zeros(total, dtype=bool)
    blacklisted[n : n + extra] = True
    persons = pd.DataFrame({"msisdn": msisdn, "blacklisted": blacklisted})
    return recharges, persons


def _digest(participants: pd.DataFrame) -> str:
    text = participants[["msisdn", "entries"]].to_csv(index=False, header=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _child(n: int, strategy: str) -> dict:
    from drawkit.offline.posthog_emulator.loaders import load_recharges
    from drawkit.offline.posthog_emulator.server import EmulatorServer
    from drawkit.posthog import PostHogClient, RetryPolicy
    from drawkit.sources.posthog import PostHogDataSource
    from drawkit.sources.posthog_cohort import CohortGenerator

    recharges, persons = dataset(n)
    with EmulatorServer(calculation_seconds=0.3) as server:
        load_recharges(server.store, recharges, persons)
        server.store.sync()  # not timed: the data is "already in PostHog"
        client = PostHogClient.from_env(server.env(), policy=RetryPolicy(timeout=(3, 300)))
        source = PostHogDataSource(
            client, strategy=strategy, monitor=False,
            cohort_generator=CohortGenerator(client, poll_seconds=0.1),
        )
        started = time.perf_counter()
        result = source.get_eligible_participants(DRAW_DATE)
        seconds = time.perf_counter() - started
        client.close()
    server.store.conn.close()  # before interpreter exit, so duckdb shuts down cleanly
    return {
        "seconds": seconds,
        "requests": client.request_count(),
        "participants": len(result.participants),
        "digest": _digest(result.participants),
    }


def _registered():
    """This module by name, so spawned children can unpickle its functions."""
    return importlib.import_module(Path(__file__).stem)


def run(quick: bool) -> list[Figure]:
    """Measure both retrieval paths at one size (the request target is judged at full size:
    the HogQL path's fixed cost is 2 queries, which is 4 per 10,000 at the quick size)."""
    n = QUICK if quick else FULL
    me = _registered()
    hogql = run_isolated(me._child, n, "hogql")
    cohort = run_isolated(me._child, n, "cohort")
    if hogql["digest"] != cohort["digest"] or hogql["participants"] != n:
        raise RuntimeError(
            f"paths disagree: hogql {hogql['participants']} vs cohort {cohort['participants']}"
            f" participants (expected {n})"
        )
    per_10k = hogql["requests"] / (n / 10_000)
    ratio = hogql["seconds"] / cohort["seconds"]
    return [
        Figure(
            name="retrieval.hogql.requests_per_10k",
            value=per_10k,
            unit="requests",
            baseline=cohort["requests"] / (n / 10_000),
            ratio=hogql["requests"] / cohort["requests"],
            target="<= 1 per 10,000 participants",
            ok=None if quick else per_10k <= 1.0,
            note=f"{n:,} participants: {hogql['requests']} HTTP requests (HogQL) vs "
            f"{cohort['requests']} (cohort path)",
        ),
        Figure(
            name="retrieval.time_ratio",
            value=hogql["seconds"],
            unit="s",
            baseline=cohort["seconds"],
            ratio=ratio,
            target="ratio < 1.0",
            ok=ratio < 1.0,
            note=f"{n:,} participants, emulator on loopback; hogql vs cohort path "
            "(cohort create + calculation + persons pages + events queries + local rules)",
        ),
        Figure(
            name="retrieval.hogql.peak_memory",
            value=hogql["peak_rss_bytes"] / GIB,
            unit="GiB",
            baseline=cohort["peak_rss_bytes"] / GIB,
            ratio=hogql["peak_rss_bytes"] / cohort["peak_rss_bytes"],
            target="< 2 GiB",
            ok=hogql["peak_rss_bytes"] / GIB < 2.0,
            note="peak RSS of the measuring process (client, emulator and data in one process)",
        ),
    ]
