"""`drawkit demo`: the whole daily job on synthetic data, offline, in a few minutes.

It starts the PostHog emulator and a local drand test chain on free loopback ports with
freshly generated throwaway keys (handed to this run's runtime and notebook kernels only),
generates synthetic recharges, loads them through the capture API, runs the draws of the
days before the draw date, then runs the day's reports with PostHog as the source and
prints where they are.

The default draw date is fixed (2026-11-24) so that two demo runs give the same data and
the same cohort digests; pass ``--date`` for another day. Each draw commits to a round of
the local test chain a few seconds ahead and waits for it, as an operator does with
drand. The test chain's key is new each run, so winners differ between runs; its rounds
are labelled "local test chain — not public randomness" in every record and report.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from drawkit.cli.options import iso_date, positive_int

DEMO_DATE = date(2026, 11, 24)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole daily job on synthetic data against the local PostHog emulator",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("--date", type=iso_date, default=DEMO_DATE,
                        help=f"draw date (default {DEMO_DATE}, fixed so the data and cohort "
                        "digests are the same every run)")
    parser.add_argument("--subscribers", type=positive_int, default=20_000,
                        help="synthetic subscribers (default 20,000)")
    parser.add_argument("--days", type=positive_int, default=7,
                        help="days of recharges before the draw (default 7)")
    parser.add_argument("--seed", type=int, default=2026,
                        help="seed of the synthetic data (default 2026)")
    parser.add_argument("--workspace", type=Path,
                        help="demo workspace, emptied at each run (default WORKSPACE/demo)")
    parser.add_argument("--simulations", type=positive_int, default=500,
                        help="simulated audit draws (default 500)")
    parser.add_argument("--full", action="store_true", help="also export HTML with code cells")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print where the reports are."""
    from drawkit.app.job import default_workspace
    from drawkit.demo import DemoOptions, run_demo

    options = DemoOptions(
        draw_date=args.date,
        subscribers=args.subscribers,
        days=args.days,
        seed=args.seed,
        workspace=args.workspace or default_workspace() / "demo",
        simulations=args.simulations,
        full_copy=args.full,
        progress_bar=not args.no_progress,
    )
    result = run_demo(options, say=print)
    print(result.reports.format())
    print(f"Demo finished in {result.seconds:.0f} s")
    return 0 if result.reports.day is None or result.reports.day.passed is not False else 1
