"""CLI start-up: commands that run no notebook import no notebook stack.

Figures, each the median of repeated fresh processes, against ``python -c 'import drawkit'``
in the same run (the baseline every command pays): ``drawkit --help`` and ``drawkit beacon
round --quiet`` (which also reads the promotion config and does drand arithmetic). Target:
each within 0.3 s of the baseline.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure  # noqa: E402

COMMANDS = {
    "drawkit --help": ["-m", "drawkit", "--help"],
    "drawkit beacon round": ["-m", "drawkit", "beacon", "round", "--quiet"],
}
TARGET_SECONDS = 0.3


def _median_seconds(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(quick: bool) -> list[Figure]:
    repeat = 5 if quick else 15
    base = _median_seconds(["-c", "import drawkit"], repeat)
    figures = []
    for name, args in COMMANDS.items():
        seconds = _median_seconds(args, repeat)
        figures.append(Figure(
            f"startup: {name}", seconds, "s", base, seconds / base if base else None,
            f"<= baseline + {TARGET_SECONDS} s", seconds <= base + TARGET_SECONDS,
            f"median of {repeat} fresh processes; baseline python -c 'import drawkit' "
            f"({base * 1000:.0f} ms)",
        ))
    return figures
