"""`drawkit` subcommands of the draw area: commit, draw, verify, publish, events, ledger.

Each command is a few lines over a public function in :mod:`drawkit.draw`. The operator
secret is read from an environment variable (hex), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from drawkit.cli.arguments import hex_bytes, iso_date
from drawkit.config import PromotionConfig, load_promotion
from drawkit.draw import (
    DrawRecord,
    Ledger,
    beacon,
    commit_draw,
    publish,
    record_event,
    run_draw,
    standing,
    verify_record,
    write_winners_export,
)
from drawkit.errors import ConfigError, InputError, LedgerError
from drawkit.msisdn import mask
from drawkit.redact import register_secrets
from drawkit.sources.local import LocalDataSource, read_participants

DEFAULT_LEDGER = "ledger"
DEFAULT_SECRET_ENV = "DRAWKIT_DRAW_SECRET"  # noqa: S105 - a variable name


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    _register_commit(subparsers)
    _register_draw(subparsers)
    _register_verify(subparsers)
    _register_publish(subparsers)
    _register_event(subparsers)
    _register_ledger(subparsers)
    _register_beacon(subparsers)


# ------------------------------------------------------------------ arguments






def _add_cohort_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=iso_date, required=True, help="draw date (YYYY-MM-DD)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--participants", type=Path, help="participants.csv (msisdn, entries)")
    source.add_argument("--recharges", type=Path, help="recharge export (CSV or Parquet)")
    source.add_argument("--posthog", action="store_true", help="read the cohort from PostHog")
    parser.add_argument("--blacklist", type=Path, help="blacklist CSV (with --recharges)")
    parser.add_argument("--config", type=Path, help="promotion config (TOML)")
    parser.add_argument("--ledger", type=Path, default=Path(DEFAULT_LEDGER), help="ledger dir")
    parser.add_argument("--draw-id", help="draw id (default: <promotion>-<date>)")
    parser.add_argument("--beacon-round", type=int, help="beacon round committed to")
    parser.add_argument(
        "--secret-env",
        default=DEFAULT_SECRET_ENV,
        help=f"environment variable holding the operator secret in hex "
        f"(default {DEFAULT_SECRET_ENV}; unset = no secret)",
    )


def _register_commit(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "commit", help="commit to a draw's cohort, beacon round and secret before the draw"
    )
    _add_cohort_args(parser)
    parser.set_defaults(func=cmd_commit)


def _register_draw(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("draw", help="run a draw (or show it if it already ran)")
    _add_cohort_args(parser)
    parser.add_argument("--beacon", type=hex_bytes, help="beacon value of the round (hex)")
    parser.add_argument("--record-out", type=Path, help="also write the private record here")
    parser.add_argument("--public-out", type=Path, help="write the masked public record here")
    parser.add_argument(
        "--winners-export", type=Path, help="write the private winners CSV (mode 0600) here"
    )
    parser.set_defaults(func=cmd_draw)


def _register_verify(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="re-derive a draw from its record and participants file"
    )
    parser.add_argument("record", type=Path, help="the draw record (JSON)")
    parser.add_argument("--participants", type=Path, required=True, help="participants.csv")
    parser.add_argument("--ledger", type=Path, help="also check the ledger's hash chain")
    parser.add_argument(
        "--beacon", type=hex_bytes, help="beacon value fetched independently (hex)"
    )
    parser.set_defaults(func=cmd_verify)


def _register_publish(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("publish", help="send a draw's result to the data source")
    parser.add_argument("draw_id", help="draw id in the ledger")
    parser.add_argument("--ledger", type=Path, default=Path(DEFAULT_LEDGER), help="ledger dir")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--results-dir", type=Path, help="local results directory (JSONL)")
    target.add_argument("--posthog", action="store_true", help="record the result in PostHog")
    parser.add_argument("--config", type=Path, help="promotion config (TOML)")
    parser.set_defaults(func=cmd_publish)


def _register_event(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "draw-event",
        help="record that a winner was unreachable, disqualified or claimed the prize",
    )
    parser.add_argument("draw_id")
    parser.add_argument("event", choices=("unreachable", "disqualified", "claimed"))
    parser.add_argument("--position", type=int, required=True, help="1-based position")
    parser.add_argument("--tier", help="prize tier (default: the first tier)")
    parser.add_argument("--role", choices=("winner", "reserve"), default="winner")
    parser.add_argument("--reason", default="", help="why (kept in the ledger)")
    parser.add_argument("--ledger", type=Path, default=Path(DEFAULT_LEDGER), help="ledger dir")
    parser.set_defaults(func=cmd_event)


def _register_ledger(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ledger", help="inspect or check the draw ledger")
    actions = parser.add_subparsers(dest="ledger_action", metavar="ACTION", required=True)
    check = actions.add_parser("verify", help="check the ledger's hash chain")
    check.add_argument("--ledger", type=Path, default=Path(DEFAULT_LEDGER), help="ledger dir")
    check.set_defaults(func=cmd_ledger_verify)
    show = actions.add_parser("list", help="list the ledger's entries")
    show.add_argument("--ledger", type=Path, default=Path(DEFAULT_LEDGER), help="ledger dir")
    show.set_defaults(func=cmd_ledger_list)


def _register_beacon(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "beacon-round",
        help="the drand round to commit to: the first one published after a time",
    )
    parser.add_argument(
        "--after",
        type=_aware_time,
        help="ISO time with offset (default: now); e.g. the time you run drawkit commit",
    )
    parser.add_argument("--quiet", action="store_true", help="print the round number only")
    parser.set_defaults(func=cmd_beacon_round)


def _aware_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from exc


# ------------------------------------------------------------------ helpers


def _config(path: Path | None) -> PromotionConfig:
    return load_promotion(path)


def _secret(variable: str) -> bytes | None:
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    try:
        secret = bytes.fromhex(value)
    except ValueError as exc:
        raise ConfigError(f"{variable} must hold the operator secret as hex") from exc
    register_secrets([value])  # secret until the draw reveals it: keep it out of logs
    if len(secret) < 16:
        raise ConfigError(f"{variable} is too short: use at least 16 random bytes (32 hex)")
    return secret


def read_participants_file(path: Path) -> pd.DataFrame:
    """Read a participants file (msisdn, entries) with the local source's reader."""
    return read_participants(path)


def summary_exclusions(participants_path: Path, draw_date: date, participants: int) -> dict:
    """Participant exclusion counts from the ``summary.json`` that ``drawkit cohort`` wrote
    next to the participants file, when it belongs to this draw date and cohort size;
    otherwise none (the record then counts only its own exclusions)."""
    path = participants_path.parent / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(summary, dict):
        return {}
    same_draw = summary.get("draw_date") == draw_date.isoformat()
    if not same_draw or summary.get("participants") != participants:
        return {}
    excluded = summary.get("participants_excluded")
    if not isinstance(excluded, dict):
        return {}
    return {str(k): int(v) for k, v in excluded.items() if isinstance(v, int)}


Track = Callable[[str, dict], object]


def _untracked(event: str, properties: dict) -> None:
    """Monitoring for sources other than PostHog: nothing to send."""


def _cohort(
    args: argparse.Namespace, config: PromotionConfig
) -> tuple[pd.DataFrame, dict, Track]:
    """Participants and exclusion counts from the chosen source, and where monitoring events
    go (PostHog's ``track`` when PostHog is the source; it never fails the command)."""
    if args.participants is not None:
        participants = read_participants_file(args.participants)
        excluded = summary_exclusions(args.participants, args.date, len(participants))
        return participants, excluded, _untracked
    track: Track = _untracked
    if args.recharges is not None:
        source = LocalDataSource(args.recharges, blacklist=args.blacklist, config=config)
    else:
        from drawkit.posthog import PostHogClient
        from drawkit.sources.posthog import PostHogDataSource

        source = PostHogDataSource(PostHogClient.from_env(), config)
        track = source.track
    result = source.get_eligible_participants(args.date)
    return result.participants, dict(result.summary.participants_excluded), track


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _load_record(path: Path) -> DrawRecord:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read draw record {path}: {exc.strerror}") from exc
    return DrawRecord.from_json(text)


# ------------------------------------------------------------------ commands


def cmd_beacon_round(args: argparse.Namespace) -> int:
    """Print the first drand quicknet round after ``--after`` and where to fetch it."""
    after = args.after or datetime.now(UTC)
    chosen = beacon.round_after(after)
    if args.quiet:
        print(chosen)
        return 0
    published = beacon.round_time(chosen)
    print(f"beacon round {chosen} (drand quicknet), published at {published.isoformat()}")
    print(f"commit to it:  drawkit commit ... --beacon-round {chosen}")
    print(f"once published, its value is the 'randomness' field of {beacon.round_url(chosen)}")
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    """Commit to the cohort, beacon round and secret; print what to publish."""
    config = _config(args.config)
    participants, _, track = _cohort(args, config)
    commitment = commit_draw(
        participants,
        config,
        args.date,
        ledger_dir=args.ledger,
        beacon_round=args.beacon_round,
        secret=_secret(args.secret_env),
        draw_id=args.draw_id,
    )
    track("draw_committed", {"draw_id": commitment.draw_id})
    print("Publish this before the beacon round exists:")
    print(commitment.announcement())
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    """Run the draw and print the masked result."""
    config = _config(args.config)
    participants, exclusions, track = _cohort(args, config)
    record = run_draw(
        participants,
        config,
        args.date,
        ledger_dir=args.ledger,
        beacon=args.beacon,
        beacon_round=args.beacon_round,
        secret=_secret(args.secret_env),
        draw_id=args.draw_id,
        exclusions=exclusions,
    )
    track("draw_completed", {"draw_id": record.draw_id, "record_hash": record.record_hash})
    print(record.summary())  # summary() masks every number
    print(f"ledger: {args.ledger} (entry {record.sequence})")
    if args.record_out:
        _write_private(args.record_out, record.to_json())
        print(f"private record: {args.record_out}")
    if args.public_out:
        args.public_out.parent.mkdir(parents=True, exist_ok=True)
        args.public_out.write_text(record.public().to_json(), encoding="utf-8")
        print(f"public record: {args.public_out}")
    if args.winners_export:
        write_winners_export(record, args.winners_export)
        print(f"winners export (private, mode 0600): {args.winners_export}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-derive the draw; exit 1 on any difference or a broken chain."""
    record = _load_record(args.record)
    participants = read_participants_file(args.participants)
    ledger = Ledger(args.ledger) if args.ledger else None
    report = verify_record(record, participants, ledger=ledger, beacon=args.beacon)
    print(report.format())
    return 0 if report.ok else 1


def cmd_publish(args: argparse.Namespace) -> int:
    """Send the record to the local results dir or PostHog (safe to repeat)."""
    record = _ledger_record(args.ledger, args.draw_id)
    if args.results_dir is not None:
        empty = pd.DataFrame(columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])
        source = LocalDataSource(empty, results_dir=args.results_dir)
    else:
        from drawkit.posthog import PostHogClient
        from drawkit.sources.posthog import PostHogDataSource

        source = PostHogDataSource(PostHogClient.from_env(), _config(args.config))
    report = publish(record, source)
    print(
        f"published draw {report.draw_id}: {report.sent} event(s) sent, "
        f"{report.already_recorded} already recorded"
    )
    return 0


def cmd_event(args: argparse.Namespace) -> int:
    """Append an event; a drop-out promotes the next reserve of the tier."""
    ledger = Ledger(args.ledger)
    appended = record_event(
        ledger,
        args.draw_id,
        args.event,
        tier=args.tier,
        position=args.position,
        role=args.role,
        reason=args.reason,
    )
    record = _ledger_record(args.ledger, args.draw_id)
    for entry in appended:
        d = entry["details"]
        what = entry["event"]
        if what == "promoted":
            reserve = record.winners_of(d["tier"], "reserve")[d["reserve_position"] - 1]
            print(
                f"{d['tier']} #{d['prize_position']}: reserve {d['reserve_position']} "
                f"({mask(reserve.msisdn)}) promoted"
            )
        elif what == "unfilled":
            print(f"{d['tier']} #{d['prize_position']}: no reserve left, prize unfilled")
        else:
            print(f"recorded: {d['tier']} {d['role']} {d['position']} {what}")
    now = standing(record, ledger.events(args.draw_id))
    for (tier, position), holder in sorted(now.holders.items()):
        print(f"  {tier} #{position}: {mask(holder.msisdn)} ({holder.role})")
    return 0


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    """Check the hash chain; exit 1 when broken."""
    report = Ledger(args.ledger).verify_chain()
    print(report.format())
    return 0 if report.ok else 1


def cmd_ledger_list(args: argparse.Namespace) -> int:
    """One line per ledger entry."""
    for entry in Ledger(args.ledger).entries():
        extra = entry.get("event", "")
        print(
            f"{entry.get('sequence'):>6} {entry.get('kind'):<10} {entry.get('draw_id')} "
            f"{extra} {str(entry.get('record_hash'))[:16]}"
        )
    return 0


def _ledger_record(ledger_dir: Path, draw_id: str) -> DrawRecord:
    record = Ledger(ledger_dir).get(draw_id)
    if record is None:
        raise LedgerError(f"no draw {draw_id!r} in ledger {ledger_dir}")
    return record
