"""Run every benchmark in benchmarks/ (files bench_*.py with a ``run(quick)`` function).

Prints a table and writes reports/bench/latest.json. ``--quick`` shrinks the sizes for a
smoke run; ``--only NAME`` runs the benchmarks whose file name contains NAME; ``--sizes``
picks the eligibility sizes (default 1M,20M; ``--sizes 1M,20M,100M`` adds the 100 M-row
run, which generates about 2 GB of Parquet under reports/bench/data the first time).
Exits non-zero when a benchmark fails to run (a missed target is reported, not fatal).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Figure  # noqa: E402


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # spawned benchmark children import it by name
    spec.loader.exec_module(module)
    return module


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def print_table(figures: list[Figure]) -> None:
    header = ("benchmark", "value", "unit", "baseline", "ratio", "target", "ok")
    rows = [
        (f.name, _fmt(f.value), f.unit, _fmt(f.baseline), _fmt(f.ratio), f.target,
         {True: "yes", False: "NO", None: "-"}[f.ok])
        for f in figures
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default="", help="run benchmarks whose name contains this")
    parser.add_argument("--out", default="reports/bench/latest.json")
    parser.add_argument("--sizes", default="", help="eligibility sizes, e.g. 1M,20M,100M")
    args = parser.parse_args()
    figures: list[Figure] = []
    ran: list[str] = []
    owner: dict[int, str] = {}
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        if args.only and args.only not in path.stem:
            continue
        print(f"== {path.stem}", flush=True)
        start = time.perf_counter()
        try:
            module = _load(path)
            options = {}
            if args.sizes and "sizes" in inspect.signature(module.run).parameters:
                options["sizes"] = tuple(s.strip().upper() for s in args.sizes.split(","))
            produced = module.run(quick=args.quick, **options)
            ran.append(path.stem)
            for figure in produced:
                owner[id(figure)] = path.stem
            figures.extend(produced)
        except Exception as exc:  # keep going; report at the end
            failed.append(f"{path.stem}: {type(exc).__name__}: {exc}")
            print(f"   FAILED: {exc}", flush=True)
        print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
    print()
    print_table(figures)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"bench": owner[id(f)], **f.to_dict()} for f in figures]
    if args.only and out.exists():  # keep the figures this run did not measure again
        try:
            previous = json.loads(out.read_text()).get("figures", [])
        except (json.JSONDecodeError, OSError):
            previous = []
        produced = {r["name"] for r in rows}
        rows = [r for r in previous if r.get("name") not in produced] + rows
    payload = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": args.sizes or "default",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "figures": rows,
        "failed": failed,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out}")
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
