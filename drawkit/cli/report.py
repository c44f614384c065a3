"""`drawkit report`: run the cohort, draw and audit notebooks for a draw date.

PostHog credentials and the operator secret (DRAWKIT_DRAW_SECRET, hex) are read from the
environment by the notebook kernel; they are never passed as notebook parameters.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from drawkit.cli.arguments import iso_date
from drawkit.reports import ReportRun, run_reports


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    parser = subparsers.add_parser(
        "report",
        help="run the cohort, draw and audit notebooks into reports/<date>/ (ipynb + HTML)",
        description="Run notebooks/01_daily_cohort, 02_draw_run and 03_audit with papermill "
        "for one draw date, export HTML reports (auditor copies without code) and scan them "
        "for leaked keys or phone numbers.",
    )
    parser.add_argument("--date", type=iso_date, required=True, help="draw date (YYYY-MM-DD)")
    parser.add_argument("--source", choices=("local", "posthog"), default="local")
    parser.add_argument(
        "--strategy", choices=("hogql", "cohort"), default="hogql", help="PostHog strategy"
    )
    parser.add_argument("--recharges", type=Path, help="recharge export (local source)")
    parser.add_argument("--blacklist", type=Path, help="blacklist CSV (local source)")
    parser.add_argument("--config", type=Path, help="promotion config (TOML)")
    parser.add_argument("--ledger", type=Path, default=Path("ledger"), help="ledger directory")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports root folder")
    parser.add_argument("--beacon", help="public beacon value of the committed round (hex)")
    parser.add_argument("--beacon-round", type=int, help="beacon round committed to")
    parser.add_argument(
        "--simulations", type=int, default=500, help="simulated draws for the audit"
    )
    parser.add_argument(
        "--history-days", type=int, default=3, help="previous days in the cohort comparison"
    )
    parser.add_argument("--full", action="store_true", help="also export HTML with code cells")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--timeout", type=int, default=600, help="seconds one notebook cell may run (600)"
    )
    parser.set_defaults(func=run)




def parameters(args: argparse.Namespace) -> dict[str, object]:
    """Notebook parameters from the command line (never a secret)."""
    return {
        "draw_date": args.date.isoformat(),
        "source": args.source,
        "strategy": args.strategy,
        "recharges": str(args.recharges) if args.recharges else "",
        "blacklist": str(args.blacklist) if args.blacklist else "",
        "config": str(args.config) if args.config else "",
        "ledger_dir": str(args.ledger),
        "beacon": args.beacon or "",
        "beacon_round": args.beacon_round or 0,
        "simulations": args.simulations,
        "history_days": args.history_days,
    }


def print_run(run: ReportRun) -> None:
    """Where the reports are."""
    print(f"Reports in {run.output_dir}:")
    print(f"  index         {run.index}")
    for path in run.html:
        print(f"  auditor copy  {path}")
    for path in run.full_html:
        print(f"  full copy     {path}")
    print(f"  charts        {len(run.charts)} PNG files in {run.output_dir / 'charts'}")
    print(f"  private files {run.output_dir / 'private'} (full numbers, owner only)")


def run(args: argparse.Namespace) -> int:
    """Run the three notebooks and print where the reports are."""
    result = run_reports(
        parameters(args),
        args.out,
        full_copy=args.full,
        progress_bar=not args.no_progress,
        timeout=args.timeout,
        on_progress=print,
    )
    print_run(result)
    return 0
