"""`drawkit synth` (make test data) and `drawkit cohort` (who is eligible for a draw)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from drawkit.cli.arguments import iso_date, positive_int
from drawkit.config import PromotionConfig, load_promotion
from drawkit.eligibility import EligibilityResult
from drawkit.errors import InputError
from drawkit.sources.local import LocalDataSource, write_participants
from drawkit.synth import generate, write_synth


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    synth = subparsers.add_parser(
        "synth",
        help="generate synthetic recharges and a blacklist",
        description="Generate deterministic synthetic recharge data (with some bad rows, "
        "duplicates and blacklisted numbers) for tests and demos.",
    )
    synth.add_argument("--subscribers", type=positive_int, required=True)
    synth.add_argument("--days", type=positive_int, default=1)
    synth.add_argument("--end-date", type=iso_date, required=True, help="draw date YYYY-MM-DD")
    synth.add_argument("--seed", type=int, default=1)
    synth.add_argument("--out", type=Path, required=True, help="output directory")
    synth.add_argument("--format", choices=("csv", "parquet"), default="csv")
    synth.add_argument("--config", type=Path, help="promotion config TOML (for the timezone)")
    synth.set_defaults(func=cmd_synth)

    cohort = subparsers.add_parser(
        "cohort",
        help="apply the eligibility rules for a draw date",
        description="Build a draw's participants (msisdn, points, entries) from local "
        "files or PostHog; write participants.csv, rejected.csv and summary.json.",
    )
    cohort.add_argument("--date", type=iso_date, required=True, help="draw date YYYY-MM-DD")
    cohort.add_argument("--source", choices=("local", "posthog"), default="local")
    cohort.add_argument("--recharges", type=Path, help="recharges CSV or Parquet (local)")
    cohort.add_argument("--blacklist", type=Path, help="blacklist CSV with an msisdn column")
    cohort.add_argument("--strategy", choices=("hogql", "cohort"), default="hogql")
    cohort.add_argument("--config", type=Path, help="promotion config TOML")
    cohort.add_argument("--out", type=Path, required=True, help="output directory")
    cohort.set_defaults(func=cmd_cohort)






def cmd_synth(args: argparse.Namespace) -> int:
    """Generate synthetic data and write it to ``--out``."""
    config = load_promotion(args.config)
    data = generate(args.subscribers, args.days, args.end_date, args.seed, config=config)
    paths = write_synth(data, args.out, fmt=args.format)
    print(
        f"{len(data.recharges):,} recharges of {len(data.persons):,} subscribers "
        f"({int(data.persons['blacklisted'].sum()):,} blacklisted)"
    )
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_cohort(args: argparse.Namespace) -> int:
    """Apply the rules, write the cohort files and print the summary."""
    config = load_promotion(args.config)
    result = _eligibility(args, config)
    paths = write_cohort(result, args.out, source=args.source)
    print(result.summary.format())
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _eligibility(args: argparse.Namespace, config: PromotionConfig) -> EligibilityResult:
    if args.source == "posthog":
        if args.recharges or args.blacklist:
            raise InputError("--recharges and --blacklist are for --source local only")
        from drawkit.posthog import PostHogClient
        from drawkit.sources.posthog import PostHogDataSource

        source = PostHogDataSource(PostHogClient.from_env(), config, strategy=args.strategy)
        return source.get_eligible_participants(args.date)
    if args.recharges is None:
        raise InputError("--recharges FILE is required with --source local")
    local = LocalDataSource(args.recharges, blacklist=args.blacklist, config=config)
    return local.get_eligible_participants(args.date)


def write_cohort(result: EligibilityResult, out_dir: Path, source: str = "local") -> dict:
    """Write participants.csv, rejected.csv and summary.json into ``out_dir``."""
    paths = write_participants(result.participants, result.rejected, out_dir)
    summary = {**result.summary.to_dict(), "source": source}
    path = Path(out_dir) / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return {**paths, "summary": path}
