"""`drawkit` subcommands of a draw's life: commit, draw, publish, draw-event, verify,
ledger, beacon-round. Each parses its options into a job and calls one use-case."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from drawkit.cli.options import (
    add_acceptance,
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
        "the beacon round, the operator secret's hash and the public key of the result "
        "signing key (DRAWKIT_SIGNING_KEY) in the ledger. Publish what it prints (with the "
        "ledger head) before the round exists.",
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
    draw.add_argument("--wait", action="store_true",
                      help="wait (at most beacon.wait_seconds) for the committed round to be "
                      "published instead of refusing to draw before it exists")
    add_outputs(draw)
    draw.set_defaults(func=cmd_draw)

    publish = subparsers.add_parser(
        "publish",
        help="send a draw's result to its source (PostHog events or the local results store)",
        description="Record the draw's winners and summary, signed with DRAWKIT_SIGNING_KEY "
        "(the key the commitment names), and the ledger head in PostHog (--source posthog) "
        "or in the workspace's results store (--source local). Safe to repeat, and to run "
        "concurrently: each event is recorded once. Exits 1 when the source holds forged "
        "events for the draw (they are named).",
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
        "ledger, anchored by published heads (--head). Exits 0 on a match, 1 on any "
        "difference.",
    )
    verify.add_argument("record", type=Path, help="the draw record (JSON)")
    verify.add_argument("--participants", type=Path, required=True,
                        help="the participants file the draw used")
    verify.add_argument("--ledger", type=Path, help="also check the ledger's hash chain")
    _head_option(verify)
    verify.add_argument("--beacon", help="the round's randomness fetched independently (hex)")
    add_acceptance(verify)
    verify.add_argument("--accept-operator-randomness", action="store_true",
                        help="accept a draw on operator-chosen randomness (no public beacon)")
    verify.set_defaults(func=cmd_verify)

    ledger = subparsers.add_parser("ledger", help="inspect or check the draw ledger",
                                   description="List or check the draw ledger's entries.")
    actions = ledger.add_subparsers(dest="ledger_action", metavar="ACTION", required=True)
    check = actions.add_parser("verify", help="check the ledger's hash chain",
                               description="Check every entry's hash and link, one commitment "
                               "and one record per draw id, and (--head) that published ledger "
                               "heads are still in it: a deleted tail or a deleted and re-drawn "
                               "day fails. Exits 1 when the ledger is broken, missing or not a "
                               "plain folder of plain files.")
    add_workspace(check)
    _head_option(check)
    check.set_defaults(func=cmd_ledger_verify)
    show = actions.add_parser("list", help="list the ledger's entries",
                              description="One line per ledger entry.")
    add_workspace(show)
    show.set_defaults(func=cmd_ledger_list)

    _register_beacon(subparsers)


def _register_beacon(subparsers: argparse._SubParsersAction) -> None:
    beacon = subparsers.add_parser(
        "beacon",
        help="drand rounds: the round to commit to, check or fetch one, a local test chain",
        description="The public beacon (drand quicknet unless DRAWKIT_DRAND_CHAIN_HASH names "
        "another chain; relays from DRAWKIT_DRAND_RELAYS). See docs/beacon.md.",
    )
    actions = beacon.add_subparsers(dest="beacon_action", metavar="ACTION", required=True)
    rounds = actions.add_parser(
        "round", help="the first round one can commit to after a time",
        description="Print the first round published at least the promotion's commit margin "
        "after --after (default now), when it is published, and where to fetch it.")
    rounds.add_argument("--after", type=aware_time,
                        help="ISO time with offset (default: now), e.g. when you commit")
    rounds.add_argument("--quiet", action="store_true", help="print the round number only")
    add_config(rounds)
    rounds.set_defaults(func=cmd_beacon_round)
    check = actions.add_parser(
        "check", help="authenticate one round's signature offline (exit 0 genuine, 1 not)",
        description="Verify a round's BLS signature against the chain's pinned public key, "
        "with no network for quicknet.")
    check.add_argument("--round", type=positive_int, required=True, help="the round number")
    check.add_argument("--signature", required=True, help="the round's signature (hex)")
    check.set_defaults(func=cmd_beacon_check)
    fetch = actions.add_parser(
        "fetch", help="fetch one round from the relays, authenticated",
        description="Fetch a round from the relays in turn (failover, bounded time) and print "
        "it once its signature checks.")
    fetch.add_argument("--round", type=positive_int, required=True, help="the round number")
    fetch.set_defaults(func=cmd_beacon_fetch)
    serve = actions.add_parser(
        "serve", help="serve a local drand-compatible test chain (never public randomness)",
        description="A drand relay on loopback for a throwaway chain of its own (tests, "
        "demos, offline work). Records drawn on it say 'local test chain — not public "
        "randomness' and verify accepts them only with --accept-test-chain.")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    serve.add_argument("--port", type=int, default=8020, help="port (0 = any free port)")
    serve.add_argument("--period", type=positive_int, default=3,
                       help="seconds between rounds (default 3, as quicknet)")
    serve.set_defaults(func=cmd_beacon_serve)


def _head_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--head", action="append", default=[], metavar="HASH",
                        help="a published ledger head (the record hash commit and publish "
                        "print) the ledger must still hold; repeat for several")


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
                  public_out=args.public_out, winners_export=args.winners_export,
                  wait=args.wait, say=print)
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
    if report.head is not None:
        state = "published" if report.head_sent else "already published"
        print(f"ledger head {report.head.format()}: {state}")
    if report.forged:
        print(f"WARNING: {len(report.forged)} event(s) in the source for this draw are NOT "
              "its signed result (forged or altered; the audit fails until they are removed):")
        for name in report.forged:
            print(f"  {name}")
        return 1
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
                          beacon_value=args.beacon, accept_test_chain=args.accept_test_chain,
                          accept_operator_randomness=args.accept_operator_randomness,
                          heads=tuple(args.head))
    print(report.format())
    return 0 if report.ok else 1


def cmd_ledger_verify(args: argparse.Namespace) -> int:
    """Check the hash chain; exit 1 when broken."""
    from drawkit.app.tools import ledger_chain

    report = ledger_chain(_ledger_dir(args), tuple(args.head))
    print(report.format())
    return 0 if report.ok else 1


def cmd_ledger_list(args: argparse.Namespace) -> int:
    """One line per ledger entry."""
    from drawkit.app.tools import ledger_lines

    print("\n".join(ledger_lines(_ledger_dir(args))))
    return 0


def cmd_beacon_round(args: argparse.Namespace) -> int:
    """Print the first round one can commit to after ``--after``, and where to fetch it."""
    from drawkit.app.beacon import round_after
    from drawkit.config import load_promotion

    margin = load_promotion(args.config).beacon_margin_seconds
    choice = round_after(args.after or datetime.now(UTC), margin_seconds=margin,
                         runtime=runtime_from_args(args))
    print(choice.round if args.quiet else choice.format())
    return 0


def cmd_beacon_check(args: argparse.Namespace) -> int:
    """Authenticate one round; exit 1 when the signature is not the round's."""
    from drawkit.app.beacon import check_round
    from drawkit.errors import BeaconNotAuthenticError

    try:
        print(check_round(runtime_from_args(args), args.round, args.signature).format())
    except BeaconNotAuthenticError as exc:
        print(f"round {args.round}: NOT GENUINE: {exc}")
        return 1
    return 0


def cmd_beacon_fetch(args: argparse.Namespace) -> int:
    """Fetch one round, authenticated."""
    from drawkit.app.beacon import fetch_round

    print(fetch_round(runtime_from_args(args), args.round).format())
    return 0


def cmd_beacon_serve(args: argparse.Namespace) -> int:
    """Serve a local test chain until interrupted."""
    from drawkit.offline.drand_chain import serve_forever

    return serve_forever(args.host, args.port, args.period)
