"""`drawkit emulator`: run the local PostHog-compatible server until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from drawkit.cli.arguments import iso_date
from drawkit.config import (
    ENV_API_KEY,
    ENV_PROJECT_API_KEY,
    ENV_PROJECT_ID,
    is_loopback_host,
    load_promotion,
)
from drawkit.errors import SettingsError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    parser = subparsers.add_parser(
        "emulator",
        help="run a local PostHog-compatible server (tests, demos, offline work)",
        description="Serve the PostHog capture and private API (persons, cohorts, HogQL "
        f"query) on loopback. Keys come from {ENV_API_KEY} and {ENV_PROJECT_API_KEY} (or "
        "the flags) and are never printed. See docs/emulator.md.",
    )
    parser.add_argument("--port", type=int, default=8010, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--project-id", help=f"project id (default ${ENV_PROJECT_ID} or 1)")
    parser.add_argument("--api-key", help=f"personal API key (default ${ENV_API_KEY})")
    parser.add_argument(
        "--project-api-key", help=f"project API key (default ${ENV_PROJECT_API_KEY})"
    )
    parser.add_argument("--scopes", default="*", help="key scopes, comma separated (default *)")
    parser.add_argument("--config", type=Path, help="promotion config TOML (names, timezone)")
    parser.add_argument("--load", type=Path, metavar="DIR", help="folder of exported files")
    synth = parser.add_argument_group("synthetic data")
    synth.add_argument("--synth-subscribers", type=int, metavar="N")
    synth.add_argument("--synth-days", type=int, default=7, metavar="D")
    synth.add_argument("--synth-end-date", type=iso_date, metavar="YYYY-MM-DD")
    synth.add_argument("--synth-seed", type=int, default=1, metavar="S")
    behaviour = parser.add_argument_group("behaviour and faults")
    behaviour.add_argument("--calculation-seconds", type=float, default=0.3)
    behaviour.add_argument("--hogql-rate-limit", type=int, help="HogQL queries per hour")
    behaviour.add_argument("--error-rate", type=float, default=0.0, help="share of 5xx answers")
    behaviour.add_argument("--error-status", type=int, default=503)
    behaviour.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of 429s")
    behaviour.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds")
    behaviour.add_argument("--slow-rate", type=float, default=0.0, help="share of slow answers")
    behaviour.add_argument("--slow-seconds", type=float, default=0.0)
    behaviour.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped sockets")
    behaviour.add_argument("--fault-seed", type=int, default=0)
    parser.set_defaults(func=cmd_emulator)


def _setting(flag: str | None, variable: str) -> str:
    value = (flag or os.environ.get(variable) or "").strip()
    if not value:
        raise SettingsError(
            f"{variable} is not set: export a key for the emulator to accept, e.g. "
            f"export {variable}={'phx' if variable == ENV_API_KEY else 'phc'}_<random>"
        )
    return value


def build_server(args: argparse.Namespace):  # noqa: ANN201 - EmulatorServer, imported lazily
    """The configured (not yet started) EmulatorServer for ``args``."""
    from drawkit.offline.posthog_emulator import EmulatorServer, Faults

    project_id = (args.project_id or os.environ.get(ENV_PROJECT_ID) or "1").strip()
    if not project_id.isdigit():
        raise SettingsError(f"{ENV_PROJECT_ID} / --project-id must be a numeric project id")
    if not is_loopback_host(args.host):
        print(f"warning: serving on {args.host}, not loopback", file=sys.stderr)
    faults = Faults()
    try:
        faults.update(
            error_rate=args.error_rate, error_status=args.error_status,
            rate_limit_rate=args.rate_limit_rate, retry_after=args.retry_after,
            slow_rate=args.slow_rate, slow_seconds=args.slow_seconds,
            drop_rate=args.drop_rate, seed=args.fault_seed,
        )  # fmt: skip
    except ValueError as exc:
        raise SettingsError(f"emulator fault switch: {exc}") from exc
    return EmulatorServer(
        host=args.host,
        port=args.port,
        project_id=project_id,
        api_key=_setting(args.api_key, ENV_API_KEY),
        project_api_key=_setting(args.project_api_key, ENV_PROJECT_API_KEY),
        scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
        calculation_seconds=args.calculation_seconds,
        hogql_rate_limit=args.hogql_rate_limit,
        faults=faults,
    )


def _preload(server, args: argparse.Namespace) -> None:  # noqa: ANN001
    config = load_promotion(args.config)
    if args.load is not None:
        summary = server.load_dir(args.load, config)
        print(f"loaded {args.load}: {_describe(summary)}", flush=True)
    if args.synth_subscribers:
        from drawkit.synth import generate

        data = generate(
            subscribers=args.synth_subscribers,
            days=args.synth_days,
            end_date=args.synth_end_date or datetime.now(config.tz).date(),
            seed=args.synth_seed,
            config=config,
        )
        print(f"loaded synthetic data: {_describe(server.load_synth(data, config))}", flush=True)


def _describe(summary: dict) -> str:
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(summary["rows_skipped"].items()))
    return (
        f"{summary['rows_in']} rows, {summary['events']} events, {summary['persons']} persons"
        + (f" (rows skipped: {skipped})" if skipped else "")
    )


def cmd_emulator(args: argparse.Namespace) -> int:
    """Start the emulator, print how to point drawkit at it, serve until Ctrl-C."""
    _stop_on_signals()  # before the banner: whoever reads it may signal at once
    server = build_server(args)
    _preload(server, args)
    server.start()
    print(f"drawkit emulator listening on {server.url} (project {server.project_id})")
    print(f"export POSTHOG_BASE_URL={server.url}")
    print(f"export {ENV_PROJECT_ID}={server.project_id}")
    print(f"# {ENV_API_KEY} and {ENV_PROJECT_API_KEY}: from the environment (never shown)")
    print(f"# faults: POST {server.url}/_emulator/faults (loopback only); Ctrl-C to stop",
          flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("emulator stopped", file=sys.stderr)
    return 0


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop the server, even when started from a shell or scheduler that
    ignores SIGINT for background jobs (Python then installs no handler of its own)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
