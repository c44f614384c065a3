"""`drawkit report`: the day's job as reports — freeze, commit, draw and publish, audit.

PostHog credentials and the operator secret (DRAWKIT_DRAW_SECRET, hex) reach the notebook
kernels through the environment; they are never notebook parameters.
"""

from __future__ import annotations

import argparse

from drawkit.cli.options import (
    add_acceptance,
    add_config,
    add_date,
    add_draw,
    add_source,
    add_workspace,
    job_from_args,
    non_negative_int,
    positive_int,
    runtime_from_args,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    parser = subparsers.add_parser(
        "report",
        help="run the day's job as reports: cohort, commitment, draw, audit (ipynb + HTML)",
        description="Check every input, then run the cohort report (freezes the cohort), "
        "commit, run the draw report (draw and publish) and the audit report for one draw "
        "date into WORKSPACE/reports/<draw id>/, export HTML (auditor copies without code), "
        "write the index page and scan every shareable file for keys and phone numbers. "
        "Exits 1 when the audit fails.",
    )
    add_date(parser)
    add_source(parser, participants=False)
    add_config(parser)
    add_workspace(parser)
    add_draw(parser)
    add_acceptance(parser)
    parser.add_argument("--simulations", type=positive_int, default=500,
                        help="simulated draws for the audit statistics (default 500)")
    parser.add_argument("--history-days", type=non_negative_int, default=3,
                        help="previous days in the cohort comparison (default 3)")
    parser.add_argument("--full", action="store_true", help="also export HTML with code cells")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--timeout", type=positive_int, default=600,
                        help="seconds one notebook cell may run (default 600)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the reports, print where they are and the verdict; 1 when the audit fails."""
    from drawkit.reports import run_report

    job = job_from_args(args, simulations=args.simulations, history_days=args.history_days)
    reports = run_report(job, runtime_from_args(args), full_copy=args.full,
                         progress_bar=not args.no_progress, timeout=args.timeout, say=print)
    print(reports.format())
    return 0 if reports.day is None or reports.day.passed is not False else 1
