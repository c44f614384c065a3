"""The CLI's vocabulary, declared once: option groups every command shares, argument types,
and the translation of parsed arguments into a job and a runtime.

Light on purpose (argparse and the standard library only): building the parser imports
no data library, so ``drawkit --help`` and ``drawkit beacon-round`` start fast.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from drawkit.config import SECRET_ENV, SOURCE_KINDS, STRATEGIES, WORKSPACE_ENV

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime


# ------------------------------------------------------------------ argument types


def iso_date(text: str) -> date:
    """A date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number of at least 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def aware_time(text: str) -> datetime:
    """An ISO 8601 time (its offset is checked where it is used)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None


# ------------------------------------------------------------------ option groups


def add_date(parser: argparse.ArgumentParser) -> None:
    """--date: the draw date."""
    parser.add_argument("--date", type=iso_date, required=True,
                        help="draw date (YYYY-MM-DD); entries close at its cutoff")


def add_config(parser: argparse.ArgumentParser) -> None:
    """--config: the promotion config."""
    parser.add_argument("--config", type=Path,
                        help="promotion config TOML (default: the embedded demo promotion; "
                        "see drawkit config --default)")


def add_workspace(parser: argparse.ArgumentParser) -> None:
    """--workspace and --ledger: where every output and the ledger live."""
    group = parser.add_argument_group("workspace")
    group.add_argument("--workspace", type=Path,
                       help=f"folder for the ledger, results, private files and reports "
                       f"(default ${WORKSPACE_ENV} or ./workspace)")
    group.add_argument("--ledger", type=Path,
                       help="the draw ledger folder (default WORKSPACE/ledger)")


def add_source(parser: argparse.ArgumentParser, *, participants: bool = True) -> None:
    """--source local|posthog and the options of each source."""
    group = parser.add_argument_group("participants source")
    group.add_argument("--source", choices=SOURCE_KINDS, default="local",
                       help="where participants come from (default local)")
    group.add_argument("--strategy", choices=STRATEGIES, default="hogql",
                       help="how the PostHog source finds participants (default hogql)")
    group.add_argument("--recharges", type=Path,
                       help="local: recharge export, CSV or Parquet (docs/input-formats.md)")
    group.add_argument("--blacklist", type=Path,
                       help="local: blacklist CSV with an msisdn column")
    if participants:
        group.add_argument("--participants", type=Path,
                           help="local: a ready participants file (msisdn, entries)")
    group.add_argument("--not-sent", type=Path, metavar="FILE",
                       help="posthog: the rows the upload could not send (the upload's "
                            "not-sent CSV), accounted for as rejected")


def add_draw(parser: argparse.ArgumentParser) -> None:
    """--draw-id, --beacon-round, --beacon, --secret-env and --replace-cohort."""
    group = parser.add_argument_group("draw")
    group.add_argument("--draw-id", help="draw id (default <promotion slug>-<date>)")
    group.add_argument("--beacon-round", type=positive_int,
                       help="commit: the drand round to commit to (default: the first one "
                       "published beacon.commit_margin_seconds after now; see drawkit beacon "
                       "round)")
    group.add_argument("--beacon-signature",
                       help="draw, air-gapped: the committed round's signature (hex) instead "
                       "of fetching it; authenticated the same way")
    group.add_argument("--beacon",
                       help="draw: the round's randomness fetched independently (64 hex "
                       "digits), checked against the authenticated round")
    group.add_argument("--operator-randomness", action="store_true",
                       help="commit: draw on the operator secret alone, with no public beacon "
                       "(not protected against the operator; the audit never passes it)")
    group.add_argument("--secret-env", default=SECRET_ENV,
                       help=f"environment variable holding the operator secret in hex "
                       f"(default {SECRET_ENV}; unset = no secret)")
    group.add_argument("--replace-cohort", action="store_true",
                       help="re-freeze this draw's cohort if it changed (refused once committed)")


def add_acceptance(parser: argparse.ArgumentParser) -> None:
    """What an auditor accepts explicitly (never by default)."""
    group = parser.add_argument_group("acceptance")
    group.add_argument("--accept-test-chain", action="store_true",
                       help="accept a round of a local test chain (not public randomness)")


def add_outputs(parser: argparse.ArgumentParser) -> None:
    """Extra copies of a draw's files (they are always written into the workspace)."""
    group = parser.add_argument_group("extra copies")
    group.add_argument("--record-out", type=Path, help="also write the private record here")
    group.add_argument("--public-out", type=Path, help="also write the masked public record here")
    group.add_argument("--winners-export", type=Path,
                       help="also write the private winners CSV (mode 0600) here")


# ------------------------------------------------------------------ jobs


def job_from_args(args: argparse.Namespace, **fields: object) -> DrawJob:
    """The job the parsed arguments describe (options a command lacks take defaults)."""
    from drawkit.app.job import DrawJob, SourceSpec, default_workspace

    source = SourceSpec(
        kind=getattr(args, "source", "local"),
        strategy=getattr(args, "strategy", "hogql"),
        recharges=getattr(args, "recharges", None),
        blacklist=getattr(args, "blacklist", None),
        participants=getattr(args, "participants", None),
        not_sent=getattr(args, "not_sent", None),
    )
    values: dict[str, object] = {
        "draw_date": getattr(args, "date", None),
        "source": source,
        "config_path": getattr(args, "config", None),
        "workspace": getattr(args, "workspace", None) or default_workspace(),
        "ledger_dir": getattr(args, "ledger", None),
        "draw_id": getattr(args, "draw_id", None),
        "beacon_round": getattr(args, "beacon_round", None),
        "beacon_value": getattr(args, "beacon", None),
        "beacon_signature": getattr(args, "beacon_signature", None),
        "operator_randomness": getattr(args, "operator_randomness", False),
        "accept_test_chain": getattr(args, "accept_test_chain", False),
        "replace_cohort": getattr(args, "replace_cohort", False),
    }
    values.update(fields)
    return DrawJob(**values)  # type: ignore[arg-type]


def runtime_from_args(args: argparse.Namespace) -> Runtime:
    """The runtime over this process's environment."""
    from drawkit.app.runtime import Runtime

    return Runtime.from_env(secret_variable=getattr(args, "secret_env", SECRET_ENV))
