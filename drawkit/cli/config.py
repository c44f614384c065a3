"""`drawkit config`: the promotion config, documented and checked."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    parser = subparsers.add_parser(
        "config",
        help="print the default promotion config, or check one",
        description="With --default, print the embedded promotion config as TOML with a "
        "comment on every key (a starting point for your own); with --check FILE, load it "
        "and report the first problem, naming the key.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--default", action="store_true", help="print the default config")
    what.add_argument("--check", type=Path, metavar="FILE", help="check a promotion config")
    parser.set_defaults(func=cmd_config)


def cmd_config(args: argparse.Namespace) -> int:
    """Print the default config or check one."""
    from drawkit.config import DEFAULT_PROMOTION_TOML, load_promotion

    if args.default:
        print(DEFAULT_PROMOTION_TOML, end="")
        return 0
    config = load_promotion(args.check)
    tiers = ", ".join(f"{t.count} × {t.name}" for t in config.prizes)
    print(f"{args.check}: valid promotion '{config.name}' ({tiers})")
    return 0
