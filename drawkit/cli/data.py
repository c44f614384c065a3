"""`drawkit synth` (test data) and `drawkit cohort` (freeze a draw's participants)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drawkit.cli.options import (
    add_config,
    add_date,
    add_draw,
    add_source,
    add_workspace,
    iso_date,
    job_from_args,
    positive_int,
    runtime_from_args,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    synth = subparsers.add_parser(
        "synth",
        help="generate synthetic recharges and a blacklist",
        description="Generate deterministic synthetic recharge data (with some bad rows, "
        "duplicates and blacklisted numbers) for tests and demos.",
    )
    synth.add_argument("--subscribers", type=positive_int, required=True,
                       help="how many subscribers")
    synth.add_argument("--days", type=positive_int, default=1,
                       help="days of recharges ending at the end date's cutoff (default 1)")
    synth.add_argument("--end-date", type=iso_date, required=True, help="draw date YYYY-MM-DD")
    synth.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--format", choices=("csv", "parquet"), default="csv",
                       help="file format (default csv)")
    synth.add_argument("--chunk-subscribers", type=positive_int,
                       help="generate and write this many subscribers at a time (data larger "
                       "than memory, e.g. 100 M rows); default: all at once")
    add_config(synth)
    synth.set_defaults(func=cmd_synth)

    cohort = subparsers.add_parser(
        "cohort",
        help="apply the eligibility rules for a draw date and freeze the cohort",
        description="Build a draw's participants (msisdn, points, entries) from local files "
        "or PostHog and freeze them in the workspace: participants.csv (owner only), "
        "rejected.csv and cohort.json. A frozen cohort is never overwritten by different "
        "participants once committed.",
    )
    add_date(cohort)
    add_source(cohort)
    add_config(cohort)
    add_workspace(cohort)
    add_draw(cohort)
    cohort.set_defaults(func=cmd_cohort)


def cmd_synth(args: argparse.Namespace) -> int:
    """Generate synthetic data and write it to ``--out``."""
    from drawkit.app.tools import synthesize

    made = synthesize(args.subscribers, args.days, args.end_date, args.out, seed=args.seed,
                      fmt=args.format, config_path=args.config,
                      chunk_subscribers=args.chunk_subscribers)
    print(made.format())
    return 0


def cmd_cohort(args: argparse.Namespace) -> int:
    """Freeze the cohort; print the summary, the digest and the files."""
    from drawkit.app.cohort import freeze_cohort

    job = job_from_args(args)
    frozen = freeze_cohort(job, runtime_from_args(args))
    if frozen.eligibility is not None:
        print(frozen.eligibility.summary.format())
    state = "already frozen (identical): reused" if frozen.reused else "frozen"
    print(f"cohort of draw {job.id} {state}: {len(frozen.cohort.participants):,} participants, "
          f"digest {frozen.cohort.digest or 'empty'}")
    for name, path in frozen.cohort.files.items():
        print(f"{name}: {path}")
    return 0
