"""Participant retrieval from PostHog: the HogQL path against the cohort path, on the
emulator's ``cloud`` profile (PostHog Cloud's throttles, caching, persons on events,
property typing, normalised cohorts, Cloud's limits).

Each side runs in its own fresh process (run_isolated) with its own emulator on loopback,
pre-loaded through drawkit's upload handed to the emulator's ingestion (not timed) with
``n`` eligible participants, one recharge each inside the draw window (amounts
100..5,000 naira), plus 2% of them blacklisted and 2% recharging outside the window.

* ``cohort`` (baseline): ensure the daily cohort (create + wait for the calculation),
  page through its persons, fetch their recharges with HogQL per 5,000 distinct ids, run
  the local eligibility rules.
* ``hogql``: the odd-values query, the packed points pages, the accounting and the
  rejected-rows queries.

Figures: HTTP requests per 10,000 participants on the HogQL path, HogQL queries charged
against PostHog's 120/hour throttle, and the time of a run under that throttle. The
throttle is simulated, not waited for: a run's charged queries are counted
(``client.queries_charged()``), and its time under the throttle is the measured time plus
the hours a budget of 120 queries/hour would make it wait (0 while a run needs fewer than
120). Both sides must return the same participants (digest checked). Full size: 200,000
participants (both paths) and 1,000,000 (HogQL path; the cohort path's figure there is
its query count, projected); ``quick``: 5,000.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, Figure, run_isolated  # noqa: E402

FULL = 200_000
LARGE = 1_000_000
QUICK = 5_000
HOGQL_PER_HOUR = 120
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
    from drawkit.app.tools import preload
    from drawkit.offline.posthog_emulator.server import EmulatorServer
    from drawkit.posthog import PostHogClient, RetryPolicy
    from drawkit.sources.posthog import PostHogDataSource
    from drawkit.sources.posthog_cohort import CohortGenerator

    recharges, persons = dataset(n)
    with EmulatorServer(profile="cloud", ingestion_lag_seconds=0.0,
                        cohort_calculation_seconds=0.3) as server:
        preload(server, recharges, persons, None)
        server.ingest_pending()  # not timed: the data is "already in PostHog"
        client = PostHogClient.from_env(server.env(), policy=RetryPolicy(timeout=(3, 600)))
        source = PostHogDataSource(
            client, strategy=strategy, monitor=False,
            cohort_generator=CohortGenerator(client, poll_seconds=0.1),
        )
        started = time.perf_counter()
        result = source.get_eligible_participants(DRAW_DATE)
        seconds = time.perf_counter() - started
        client.close()
    return {
        "seconds": seconds,
        "requests": client.request_count(),
        "queries": client.queries_charged(),
        "participants": len(result.participants),
        "digest": _digest(result.participants),
    }


def throttled_seconds(seconds: float, queries: int, per_hour: int = HOGQL_PER_HOUR) -> float:
    """A run's time under an hourly query budget: measured time plus the waits the budget
    imposes (a run of q queries waits ceil(q / per_hour) - 1 hours)."""
    return seconds + max(0, math.ceil(queries / per_hour) - 1) * 3600.0


def cohort_queries(n: int, events_per_member: int = 1) -> int:
    """HogQL queries the cohort path sends for n members (one per 5,000 ids, one more per
    50,000 of their events)."""
    chunks = math.ceil(n / 5_000)
    return chunks * max(1, math.ceil(5_000 * events_per_member / 50_000))


def _registered():
    """This module by name, so spawned children can unpickle its functions."""
    return importlib.import_module(Path(__file__).stem)


def run(quick: bool) -> list[Figure]:
    """Measure both retrieval paths at 200,000 (quick: 5,000), the HogQL path at 1,000,000."""
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
    hogql_t = throttled_seconds(hogql["seconds"], hogql["queries"])
    cohort_t = throttled_seconds(cohort["seconds"], cohort["queries"])
    figures = [
        Figure(
            name="retrieval.hogql.requests_per_10k",
            value=per_10k,
            unit="requests",
            baseline=cohort["requests"] / (n / 10_000),
            ratio=hogql["requests"] / cohort["requests"],
            target="<= 1 per 10,000 participants",
            ok=None if quick else per_10k <= 1.0,
            note=f"{n:,} participants, cloud profile: {hogql['requests']} HTTP requests, "
            f"{hogql['queries']} HogQL queries (HogQL) vs {cohort['requests']} requests, "
            f"{cohort['queries']} queries (cohort path)",
        ),
        Figure(
            name="retrieval.time_ratio",
            value=hogql_t,
            unit="s",
            baseline=cohort_t,
            ratio=hogql_t / cohort_t,
            target="ratio < 1.0",
            ok=hogql_t / cohort_t < 1.0,
            note=f"{n:,} participants, emulator cloud profile on loopback, time under a "
            "simulated 120 HogQL queries/hour throttle (measured time + budget waits)",
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
    if not quick:
        big = run_isolated(me._child, LARGE, "hogql")
        if big["participants"] != LARGE:
            raise RuntimeError(f"hogql found {big['participants']} of {LARGE} participants")
        projected = cohort_queries(LARGE)
        figures.append(Figure(
            name="retrieval.hogql.queries_at_1m",
            value=big["queries"],
            unit="queries",
            baseline=projected,
            ratio=big["queries"] / projected,
            target=f"< {HOGQL_PER_HOUR} (one hour of PostHog's HogQL throttle)",
            ok=big["queries"] < HOGQL_PER_HOUR,
            note=f"{LARGE:,} participants: {big['requests'] / (LARGE / 10_000):.2f} requests "
            f"per 10,000, {big['seconds']:.1f}s measured, "
            f"{throttled_seconds(big['seconds'], big['queries']):.1f}s under 120/hour; "
            f"cohort path projected {projected} queries "
            f"({throttled_seconds(0, projected) / 3600:.0f} h of throttle waits)",
        ))
    return figures
