"""CLI start-up: ``python -m drawkit --help`` against a bare interpreter start.

Each is run as a fresh subprocess 5 times; the medians are compared. What the CLI imports
at start-up is the lead's drawkit/cli (lazy imports per area); this figure tracks it.
Also reported: importing ``drawkit.sources.local`` (what ``drawkit cohort`` needs), the
import cost of DuckDB and pandas included.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure  # noqa: E402

RUNS = 5


def _median_seconds(args: list[str], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True, timeout=120)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(quick: bool) -> list[Figure]:
    runs = 3 if quick else RUNS
    bare = _median_seconds([sys.executable, "-c", "pass"], runs)
    cli = _median_seconds([sys.executable, "-m", "drawkit", "--help"], runs)
    local = _median_seconds([sys.executable, "-c", "import drawkit.sources.local"], runs)
    return [
        Figure("startup.cli_help", cli, "s", baseline=bare, ratio=cli / bare,
               target="(reported: the lead's CLI restructure owns it)",
               note=f"median of {runs} runs of python -m drawkit --help; baseline python -c pass"),
        Figure("startup.import_local_source", local, "s", baseline=bare, ratio=local / bare,
               note="python -c 'import drawkit.sources.local' (duckdb, pandas, pyarrow)"),
    ]
