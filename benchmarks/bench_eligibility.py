"""Eligibility over millions of recharges versus a bare pandas groupby-sum.

The data: ``drawkit.synth`` recharges (assorted number spellings and timestamp forms, 1% bad
rows, 0.5% duplicates, 1% blacklisted subscribers), 5 days with a cumulative window, so
every rule runs on every row. It is generated once in its own process and saved as
Parquet; each measurement then reads it in a fresh process, outside the timed part.

- baseline: ``(to_numeric(amount_ngn) // 100).groupby(msisdn).sum()`` on the same rows
  (no validation, no number normalisation, no window, duplicates or blacklist);
- eligibility: ``apply_rules`` with all of that, including its validation.

Figures: the time ratio (target <= 1.5), the eligibility child's peak memory (target
< 6 GB) and the generator's time and peak memory for the same rows.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, Figure, run_isolated, timed  # noqa: E402

END = date(2026, 11, 27)
DAYS = 5
PER_DAY = 1.5


def _prepare(path: str, rows: int) -> dict:
    import time

    from drawkit.synth import generate

    start = time.perf_counter()
    data = generate(int(rows / (DAYS * PER_DAY)), DAYS, END, seed=2026)
    seconds = time.perf_counter() - start
    data.recharges.to_parquet(Path(path) / "recharges.parquet", index=False)
    data.blacklist.to_frame("msisdn").to_parquet(Path(path) / "blacklist.parquet")
    return {"seconds": seconds, "rows": len(data.recharges)}


def _baseline(path: str, repeat: int) -> dict:
    import pandas as pd

    from drawkit.sources.local import read_recharges

    df = read_recharges(Path(path) / "recharges.parquet")

    def run():
        amount = pd.to_numeric(df["amount_ngn"], errors="coerce")
        return (amount // 100).groupby(df["msisdn"]).sum()

    seconds, result = timed(run, repeat)
    return {"seconds": seconds, "groups": len(result)}


def _eligibility(path: str, repeat: int) -> dict:
    from drawkit.config import PromotionConfig
    from drawkit.eligibility import apply_rules
    from drawkit.sources.local import read_blacklist, read_recharges

    df = read_recharges(Path(path) / "recharges.parquet")
    blacklist = read_blacklist(Path(path) / "blacklist.parquet")
    config = replace(PromotionConfig(), window="cumulative", start_date=END - timedelta(days=DAYS))
    seconds, result = timed(lambda: apply_rules(df, config, END, blacklist), repeat)
    return {
        "seconds": seconds,
        "participants": result.summary.participants,
        "rejected": sum(result.summary.rows_rejected.values()),
    }


def run(quick: bool) -> list[Figure]:
    rows = 200_000 if quick else 20_000_000
    repeat = 3 if quick else 1
    label = f"{rows / 1e6:g}M rows"
    # Spawned children unpickle functions by module name; run.py does not register us.
    me = importlib.import_module(Path(__file__).stem)
    with tempfile.TemporaryDirectory(prefix="drawkit-bench-") as tmp:
        made = run_isolated(me._prepare, tmp, rows)
        base = run_isolated(me._baseline, tmp, repeat)
        elig = run_isolated(me._eligibility, tmp, repeat)
    ratio = elig["seconds"] / base["seconds"]
    peak = elig["peak_rss_bytes"] / GIB
    note = f"{made['rows']:,} rows, {elig['participants']:,} participants"
    return [
        Figure(
            f"eligibility time, {label}",
            elig["seconds"],
            "s",
            baseline=base["seconds"],
            ratio=ratio,
            target="ratio <= 1.5 (pandas groupby-sum)",
            ok=ratio <= 1.5,
            note=note,
        ),
        Figure(
            f"eligibility peak memory, {label}",
            peak,
            "GiB",
            target="< 6 GiB",
            ok=peak < 6,
            note=f"baseline child {base['peak_rss_bytes'] / GIB:.2f} GiB (same data loaded)",
        ),
        Figure(
            f"synth generation, {label}",
            made["seconds"],
            "s",
            target="<= 120 s, < 4 GiB",
            ok=made["seconds"] <= 120 and made["peak_rss_bytes"] / GIB < 4,
            note=f"peak {made['peak_rss_bytes'] / GIB:.2f} GiB incl. writing Parquet",
        ),
    ]
