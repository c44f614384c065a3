"""`drawkit` subcommands of a draw's life: commit, draw, publish, draw-event, verify,
ledger, beacon-round. Each parses its options into a job and calls one use-case."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from drawkit.cli.options import (
    add_config,
    add_date,
    add_draw,
    add_outputs,
    add_source,
    add_workspace,
    aware_time,
    job_from_args,
    positive_int,
    runtime_from_args,
)

EVENTS = ("unreachable", "disqualified", "claimed")
ROLES = ("winner", "reserve")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    commit = subparsers.add_parser(
        "commit",
        help="commit to a draw's cohort, beacon round and secret before the draw",
        description="Freeze the draw's cohort (when not yet frozen) and record its digest, "
        "the beacon round and the operator secret's hash in the ledger. Publish what it "
        "prints before the round exists.",
    )
    _cohort_options(commit)
    commit.set_defaults(func=cmd_commit)

    draw = subparsers.add_parser(
        "draw",
        help="run a draw on its frozen cohort (or show it if it already ran)",
        description="Draw winners and reserves from the frozen cohort with the committed "
        "round's beacon value and the revealed secret; append the record to the ledger and "
        "write the private record, the winners file and the public record into the "
        "workspace. A draw that already ran is shown, never re-drawn.",
    )
    _cohort_options(draw)
    add_outputs(draw)
    draw.set_defaults(func=cmd_draw)

    publish = subparsers.add_parser(
        "publish",
        help="send a draw's result to its source (PostHog events or the local results store)",
        description="Record the draw's winners and summary in PostHog (--source posthog) or "
        "in the workspace's results store (--source local). Safe to repeat: each event is "
        "recorded once.",
    )
    publish.add_argument("draw_id", help="draw id in the ledger")
    publish.add_argument("--source", choices=("local", "posthog"), default="local",
                         help="where results go (default local: WORKSPACE/results)")
    add_config(publish)
    add_workspace(publish)
    publish.set_defaults(func=cmd_publish)

    event = subparsers.add_parser(
        "draw-event",
        help="record that a winner was unreachable, disqualified or claimed the prize",
        description="Append an event to the ledger. A winner who drops out is replaced by "
        "the next reserve of the tier (appended, never redrawn).",
    )
    event.add_argument("draw_id", help="draw id in the ledger")
    event.add_argument("event", choices=EVENTS, help="what happened")
    event.add_argument("--position", type=positive_int, required=True,
                       help="1-based position within the tier and role")
    event.add_argument("--tier", help="prize tier (default: the first tier)")
    event.add_argument("--role", choices=ROLES, default="winner", help="winner or reserve")
    event.add_argument("--reason", default="", help="why (kept in the ledger)")
    add_workspace(event)
    event.set_defaults(func=cmd_event)

    verify = subparsers.add_parser(
        "verify",
        help="re-derive a draw from its record and participants file",
        description="Re-derive the cohort digest, the seed and every pick from a draw record "
        "(private or public copy) and the participants file; with --ledger, also check the "
        "ledger. Exits 0 on a match, 1 on any difference.",
    )
    verify.add_argument("record", type=Path, help="the draw record (JSON)")
    verify.add_argument("--participants", type=Path, required=True,
                        help="the participants file the draw used")
    verify.add_argument("--ledger", type=Path, help="also check the ledger's hash chain")
    verify.add_argument("--beacon", help="the round's randomness fetched independently (hex)")
    verify.set_defaults(func=cmd_verify)

    ledger = subparsers.add_parser("ledger", help="inspect or check the draw ledger",
                                   description="List or check the draw ledger's entries.")
    actions = ledger.add_subparsers(dest="ledger_action", metavar="ACTION", required=True)
    check = actions.add_parser("verify", help="check the ledger's hash chain",
                               description="Check every entry's hash and link. Exits 1 when "
                               "the chain is broken.")
    add_workspace(check)
    check.set_defaults(func=cmd_ledger_verify)
    show = actions.add_parser("list", help="list the ledger's entries",
                              description="One line per ledger entry.")
    add_workspace(show)
    show.set_defaults(func=cmd_ledger_list)

    rounds = subparsers.add_parser(
        "beacon-round",
        help="the drand round to commit to: the first one published after a time",
        description="Print the first drand quicknet round published after --after (default "
        "now), when it is published, and where to fetch it.",
    )
    rounds.add_argument("--after", type=aware_time,
                        help="ISO time with offset (default: now), e.g. when you commit")
    rounds.add_argument("--quiet", action="store_true", help="print the round number only")
    rounds.set_defaults(func=cmd_beacon_round)


def _cohort_options(parser: argparse.ArgumentParser) -> None:
    add_date(parser)
    add_source(parser)
    add_config(parser)
    add_workspace(parser)
    add_draw(parser)


def _ledger_dir(args: argparse.Namespace) -> Path:
    from drawkit.app.job import default_workspace

    return args.ledger or (args.workspace or default_workspace()) / "ledger"


def cmd_commit(args: argparse.Namespace) -> int:
    """Commit; print what to publish before the round exists."""
    from drawkit.app.draws import commit

    made = commit(job_from_args(args), runtime_from_args(args))
    print("Publish this before the beacon round exists:")
    print(made.commitment.announcement())
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    """Run the draw and print the masked result and the files written."""
    from drawkit.app.draws import draw

    job = job_from_args(args)
    result = draw(job, runtime_from_args(args), record_out=args.record_out,
                  public_out=args.public_out, winners_export=args.winners_export)
    print(result.record.summary())  # summary() masks every number
    if not result.drawn:
        print("(already drawn: the ledger's record, nothing re-drawn)")
    print(f"ledger: {job.ledger} (entry {result.record.sequence})")
    for name, path in result.files.items():
        print(f"{name}: {path}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish the draw's result (safe to repeat)."""
    from drawkit.app.draws import draw_record, publish

    ledger = _ledger_dir(args)
    record = draw_record(ledger, args.draw_id)
    job = job_from_args(args, draw_date=record.date, ledger_dir=ledger)
    report = publish(job, runtime_from_args(args))
    print(f"published draw {report.draw_id}: {report.sent} event(s) sent, "
          f"{report.already_recorded} already recorded")
    return 0


def cmd_event(args: argparse.Namespace) -> int:
    """Append an event; a drop-out promotes the next reserve of the tier."""
    from drawkit.app.draws import record_draw_event

    result = record_draw_event(_ledger_dir(args), args.draw_id, args.event,
                               position=args.position, tier=args.tier, role=args.role,
                               reason=args.reason)
    print("\n".join(result.lines))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-derive the draw; exit 1 on any difference or a broken chain."""
    from drawkit.app.auditing import verify_files

    report = verify_files(args.record, args.participants, ledger_dir=args.ledger,
                          beacon_value=args.beacon)
    print(report.format())
    return 0 if report.ok else 1


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    """Check the hash chain; exit 1 when broken."""
    from drawkit.app.tools import ledger_chain

    report = ledger_chain(_ledger_dir(args))
    print(report.format())
    return 0 if report.ok else 1


def cmd_ledger_list(args: argparse.Namespace) -> int:
    """One line per ledger entry."""
    from drawkit.app.tools import ledger_lines

    print("\n".join(ledger_lines(_ledger_dir(args))))
    return 0


def cmd_beacon_round(args: argparse.Namespace) -> int:
    """Print the first drand quicknet round after ``--after`` and where to fetch it."""
    from drawkit.app.beacon import round_after

    choice = round_after(args.after or datetime.now(UTC))
    print(choice.round if args.quiet else choice.format())
    return 0
