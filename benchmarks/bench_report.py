"""`drawkit report` end to end on local files: the day's three notebooks, the landing page
and the leak scan, against the same day drawn with the library calls alone (freeze, commit,
draw, publish, audit) in the same run — so the figure is what the notebooks, papermill and
HTML export cost on top of the work itself.

Sizes: 100 k subscribers × 7 days (quick: 20 k); a full run adds 1 M subscribers. Peak memory
is the largest process of the run (the notebook kernels included). Target at 1 M: peak at
most 3 GiB.
"""

from __future__ import annotations

import resource
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, Figure, run_isolated  # noqa: E402

DAY = date(2026, 11, 24)
FAST = "[beacon]\ncommit_margin_seconds = 1\n"


def _day(subscribers: int, notebooks: bool) -> dict:
    import os
    import secrets
    import tempfile

    from drawkit import app
    from drawkit.config import SIGNING_KEY_ENV
    from drawkit.offline.drand_chain import LocalDrandChain
    from drawkit.reports import run_report

    root = Path(tempfile.mkdtemp())
    app.synthesize(subscribers, 7, DAY, root / "data", seed=1, fmt="parquet")
    (root / "promo.toml").write_text(FAST)
    with LocalDrandChain(period=1) as chain:
        env = {**os.environ, "DRAWKIT_DRAND_RELAYS": chain.url,
               "DRAWKIT_DRAND_CHAIN_HASH": chain.chain_hash,
               SIGNING_KEY_ENV: secrets.token_hex(32)}  # a throwaway result key, this run only
        runtime = app.Runtime.from_env(env)
        source = app.SourceSpec("local", recharges=root / "data" / "recharges.parquet",
                                blacklist=root / "data" / "blacklist.csv")
        job = app.DrawJob(DAY, source=source, config_path=root / "promo.toml",
                          workspace=root / "ws", accept_test_chain=True, simulations=200,
                          history_days=3).absolute()
        started = time.perf_counter()
        if notebooks:
            run_report(job, runtime, progress_bar=False)
        else:
            app.freeze_cohort(job, runtime)
            app.cohort_history(job, runtime, app.freeze_cohort(job, runtime).eligibility.summary)
            app.commit(job, runtime)
            app.draw(job, runtime, wait=True)
            app.publish(job, runtime)
            app.audit(job, runtime)
        seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"seconds": seconds, "children_peak": children}


def run(quick: bool) -> list[Figure]:
    import bench_report as me

    sizes = [20_000] if quick else [100_000, 1_000_000]
    figures = []
    for subscribers in sizes:
        report = run_isolated(me._day, subscribers, True)
        library = run_isolated(me._day, subscribers, False)
        peak = max(report["peak_rss_bytes"], report["children_peak"]) / GIB
        label = f"{subscribers // 1000:,}k" if subscribers < 1_000_000 else "1M"
        figures.append(Figure(
            f"report: drawkit report, {label} subscribers x 7 days", report["seconds"], "s",
            library["seconds"], report["seconds"] / library["seconds"],
            "(reported; the notebooks' overhead)", None,
            "3 notebooks + HTML + landing page + leak scan; baseline: the same use-cases "
            "called directly (freeze, history, commit, draw, publish, audit)",
        ))
        figures.append(Figure(
            f"report: peak memory, {label} subscribers", peak, "GiB", None, None,
            "<= 3 GiB at 1M" if subscribers >= 1_000_000 else "(reported)",
            peak <= 3.0 if subscribers >= 1_000_000 else None,
            "largest process of the run, notebook kernels included",
        ))
    return figures
