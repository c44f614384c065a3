"""Eligibility at scale: drawkit against the DuckDB SQL and the Polars lazy query a user
would write (benchmarks/peers.py), on the same files, in the same run.

Data: ``drawkit.synth.write_synth_stream`` (assorted number spellings and timestamp forms,
1% bad rows, 0.5% duplicates, 1% blacklisted subscribers; 5 days, 1.5 recharges per
subscriber a day), generated once per size under ``reports/bench/data`` (git-ignored) and
reused. The promotion window is cumulative over the 5 days, so every rule runs on every
row. Each side runs in its own fresh process; its time is from reading the file to the
participants in memory (drawkit also accounts for every row and writes rejected.csv,
masked and formula-escaped, through drawkit.store); peak memory is the process's RSS.
The participants of all three must be equal (checked), or the benchmark fails.

Sizes: ``1M`` (CSV, 3 runs each, medians), ``20M`` (CSV and Parquet, 1 run), and opt-in
``100M`` (Parquet, 1 run). Targets (issue 15): at 20M, time <= 1.0x the faster peer and
peak <= 1.5 GiB; at 100M, peak <= 8 GiB. A plot of time and memory against rows is
written to reports/bench/eligibility_scaling.png.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import tempfile
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import GIB, Figure, MemoryCapExceeded, run_isolated  # noqa: E402

END = date(2026, 11, 27)
DAYS = 5
PER_DAY = 1.5
DATA = Path(__file__).resolve().parents[1] / "reports" / "bench" / "data"
SIZES = {"1M": 1_000_000, "20M": 20_000_000, "100M": 100_000_000, "200K": 200_000}
FORMATS = {"1M": ("csv",), "20M": ("csv", "parquet"), "100M": ("parquet",), "200K": ("csv",)}
REPEAT = {"1M": 3, "200K": 3}
RSS_CAP = {"100M": 12 * GIB}  # a shared 24 GiB machine: a child past this is stopped
DEFAULT_SIZES = ("1M", "20M")
TOOLS = ("drawkit", "duckdb", "polars")


def _config():
    from drawkit.config import PromotionConfig

    return replace(PromotionConfig(), window="cumulative", start_date=END - timedelta(days=DAYS))


def dataset(size: str, fmt: str) -> Path:
    """The recharge file of ``size`` rows in ``fmt`` (generated on first use)."""
    folder = DATA / size
    path = folder / f"recharges.{fmt}"
    stamp = folder / f".{fmt}.done"
    if not stamp.exists():
        made = run_isolated(_generate, str(folder), SIZES[size], fmt)
        stamp.write_text(json.dumps(made))
    return path


def _generate(folder: str, rows: int, fmt: str) -> dict:
    import time

    from drawkit.synth import write_synth_stream

    started = time.perf_counter()
    write_synth_stream(int(rows / (DAYS * PER_DAY)), DAYS, END, folder, seed=2026, fmt=fmt)
    return {"seconds": time.perf_counter() - started}


# ------------------------------------------------------------------ children


def _drawkit(path: str) -> dict:
    import time

    from drawkit.sources.local import LocalDataSource

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="drawkit-bench-out-") as out:
        source = LocalDataSource(path, Path(path).parent / "blacklist.csv", _config())
        result, paths = source.write_cohort(END, out)
        rejected_bytes = paths["rejected"].stat().st_size
    seconds = time.perf_counter() - started
    s = result.summary
    return {
        "seconds": seconds,
        "participants": _digest(result.participants),
        "rows": s.rows_in,
        "accounted": s.accounted,
        "rejected": sum(s.rows_rejected.values()),
        "rejected_bytes": rejected_bytes,
    }


def _peer(path: str, tool: str) -> dict:
    import time

    from peers import duckdb_participants, polars_participants

    from drawkit.eligibility import draw_window

    config = _config()
    window = draw_window(config, END)
    run = duckdb_participants if tool == "duckdb" else polars_participants
    started = time.perf_counter()
    participants = run(
        Path(path), Path(path).parent / "blacklist.csv", window.start, window.cutoff,
        config.timezone,
    )
    return {"seconds": time.perf_counter() - started, "participants": _digest(participants)}


def _digest(participants) -> str:
    import hashlib

    text = participants[["msisdn", "points", "entries"]].to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16] + f"/{len(participants)}"


def _registered():
    """This module by name, so spawned children can unpickle its functions."""
    return importlib.import_module(Path(__file__).stem)


def measure(size: str, fmt: str) -> dict[str, dict]:
    """Each tool on one file: median seconds, peak GiB, participants digest."""
    me = _registered()
    path = str(dataset(size, fmt))
    out: dict[str, dict] = {}
    cap = RSS_CAP.get(size)
    for tool in TOOLS:
        runs = []
        try:
            for _ in range(REPEAT.get(size, 1)):
                if tool == "drawkit":
                    runs.append(run_isolated(me._drawkit, path, rss_cap=cap))
                else:
                    runs.append(run_isolated(me._peer, path, tool, rss_cap=cap))
        except MemoryCapExceeded as exc:
            print(f"   {size} {fmt} {tool}: {exc}", flush=True)
            out[tool] = {"seconds": float("nan"), "peak": cap / GIB, "participants": None,
                         "stopped": str(exc)}
            continue
        out[tool] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "peak": max(r["peak_rss_bytes"] for r in runs) / GIB,
            **{k: v for k, v in runs[-1].items() if k not in ("seconds", "peak_rss_bytes")},
        }
        print(f"   {size} {fmt} {tool}: {out[tool]['seconds']:.1f} s, {out[tool]['peak']:.2f} GiB",
              flush=True)
    digests = {t: out[t]["participants"] for t in TOOLS if out[t]["participants"] is not None}
    if len(set(digests.values())) > 1:
        raise RuntimeError(f"participants differ between tools at {size} {fmt}: {digests}")
    return out


def figures_for(size: str, fmt: str, got: dict[str, dict]) -> list[Figure]:
    mine, duck, polars = got["drawkit"], got["duckdb"], got["polars"]
    ran = [(n, r) for n, r in (("duckdb", duck), ("polars", polars)) if "stopped" not in r]
    best = min(ran, key=lambda kv: kv[1]["seconds"]) if ran else ("none", {"seconds": None})
    ratio = mine["seconds"] / best[1]["seconds"] if best[1]["seconds"] else None
    label = f"eligibility.{size}.{fmt}"
    limit = {"20M": 1.5, "100M": 8.0}.get(size)
    note = (
        f"{mine['rows']:,} rows, participants identical across tools; drawkit accounts for "
        f"every row and writes rejected.csv ({mine.get('rejected', 0):,} rows); "
        f"DuckDB SQL {_said(duck)}, Polars lazy {_said(polars)}"
    )
    return [
        Figure(f"{label}.time", mine["seconds"], "s", baseline=best[1]["seconds"], ratio=ratio,
               target=f"ratio <= 1.0 (faster peer: {best[0]})",
               ok=ratio <= 1.0 if size != "1M" and ratio is not None else None, note=note),
        Figure(f"{label}.peak_memory", mine["peak"], "GiB",
               baseline=min(duck["peak"], polars["peak"]),
               ratio=mine["peak"] / min(duck["peak"], polars["peak"]),
               target=f"<= {limit} GiB" if limit else "(reported)",
               ok=mine["peak"] <= limit if limit else None,
               note="peak RSS of each process; baseline = the smaller of the two peers"),
        Figure(f"{label}.duckdb_sql", _seconds(duck), "s", note=_said(duck)),
        Figure(f"{label}.polars_lazy", _seconds(polars), "s", note=_said(polars)),
    ]


def _seconds(run: dict) -> float | None:
    return None if "stopped" in run else run["seconds"]


def _said(run: dict) -> str:
    if "stopped" in run:
        return f"not measured: {run['stopped']}"
    return f"{run['seconds']:.1f} s, peak {run['peak']:.2f} GiB"


def plot(results: dict[tuple[str, str], dict[str, dict]], out: Path) -> Path | None:
    """Time and peak memory against rows, one line per tool and format."""
    if len({size for size, _ in results}) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for fmt in ("csv", "parquet"):
        sizes = sorted({s for s, f in results if f == fmt}, key=SIZES.get)
        if len(sizes) < 2:
            continue
        rows = [SIZES[s] / 1e6 for s in sizes]
        for tool in TOOLS:
            style = "-" if fmt == "csv" else "--"
            left.plot(rows, [results[(s, fmt)][tool]["seconds"] for s in sizes], style,
                      marker="o", label=f"{tool} {fmt}")
            right.plot(rows, [results[(s, fmt)][tool]["peak"] for s in sizes], style,
                       marker="o", label=f"{tool} {fmt}")
    left.set(xlabel="million rows", ylabel="seconds", title="eligibility time", xscale="log",
             yscale="log")
    right.set(xlabel="million rows", ylabel="GiB", title="peak memory", xscale="log")
    left.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return out


def run(quick: bool, sizes: tuple[str, ...] | None = None) -> list[Figure]:
    """Measure drawkit and the peers at each size (``quick``: 200K rows only)."""
    try:
        import polars  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("the Polars baseline needs polars: pip install -e '.[bench]'") from exc
    chosen = ("200K",) if quick else (sizes or DEFAULT_SIZES)
    results: dict[tuple[str, str], dict[str, dict]] = {}
    figures: list[Figure] = []
    for size in chosen:
        for fmt in FORMATS[size]:
            results[(size, fmt)] = measure(size, fmt)
            figures += figures_for(size, fmt, results[(size, fmt)])
    chart = plot(results, DATA.parent / "eligibility_scaling.png")
    if chart is not None:
        print(f"   plot: {chart}")
    return figures
