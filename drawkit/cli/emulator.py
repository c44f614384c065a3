"""`drawkit emulator`: run the local PostHog Cloud stand-in until interrupted."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from drawkit.cli.options import iso_date
from drawkit.config import (
    ENV_API_KEY,
    ENV_PROJECT_API_KEY,
    ENV_PROJECT_ID,
    is_loopback_host,
    load_promotion,
)
from drawkit.errors import SettingsError

ENV_ADMIN_KEY = "POSTHOG_EMULATOR_ADMIN_KEY"
PROFILE_NAMES = ("cloud", "ideal", "old-self-hosted")
SWITCH_HELP = {
    "query_cache": "serve refresh=blocking from a cache until stale (force_blocking recomputes)",
    "cache_max_age_seconds": "how old a cached HogQL result may be before it is stale (6 h)",
    "ingestion_lag_seconds": "captured events become queryable within this many seconds",
    "throttles": "PostHog's rate limits: HogQL 120/h; other endpoints 480/min and 4,800/h",
    "query_addon": "the API-queries add-on: queries throttled at 240/min and 2,400/h instead",
    "hogql_rate_limit": "HogQL queries per hour (the team override; PostHog's default 120)",
    "concurrency_limit": "queries that may run at once (PostHog: 3 per organisation)",
    "concurrency_wait_seconds": "how long a query waits for a free slot before a 429 (30)",
    "persons_on_events": "person.properties on events = values stamped at ingestion",
    "sent_at_correction": "shift each timestamp by server now - sent_at; far future -> now",
    "property_typing": "the first type seen for a property wins; Numeric read via toFloat",
    "normalise_cohort_filters": "store cohort filters with negation, bytecode, conditionHash",
    "cohort_calculation_seconds": "how long a cohort stays is_calculating",
    "cohort_limits": "1,000 ids per static insert, 10 distinct ids per person, query rules",
    "query_limits": "hasMore only when the query has no LIMIT",
    "eventual_dedup": "store duplicate uuids and collapse them at a later merge",
    "merge_delay_seconds": "seconds until a merge collapses duplicates",
    "max_execution_seconds": "ClickHouse max_execution_time; longer queries get a 504",
    "cloud_routing": "query under /api/environments/, cohorts only under /api/projects/",
    "persons_list_shape": "persons list: next when the page is full, count only on request",
    "legacy_functions": "an older PostHog without toFloatOrNull",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    parser = subparsers.add_parser(
        "emulator",
        help="run a local PostHog Cloud stand-in (tests, demos, offline work)",
        description="Serve the PostHog capture and private API (persons, cohorts, HogQL "
        "query) on loopback, modelling PostHog Cloud's behaviour (--profile). Keys come "
        f"from {ENV_API_KEY} and {ENV_PROJECT_API_KEY} (or the flags) and are never printed. "
        "See docs/emulator.md.",
    )
    parser.add_argument("--port", type=int, default=8010, help="port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--project-id", help=f"project id (default ${ENV_PROJECT_ID} or 1)")
    parser.add_argument("--api-key", help=f"personal API key (default ${ENV_API_KEY})")
    parser.add_argument(
        "--project-api-key", help=f"project API key (default ${ENV_PROJECT_API_KEY})"
    )
    parser.add_argument(
        "--admin-key", help=f"key for the /_emulator/ admin routes (default ${ENV_ADMIN_KEY}; "
        "unset: a random key, so the admin routes are closed)",
    )
    parser.add_argument("--scopes", default="*", help="key scopes, comma separated (default *)")
    parser.add_argument(
        "--public-url", help="origin used in next/previous links (default the bound address)"
    )
    parser.add_argument("--config", type=Path, help="promotion config TOML (names, timezone)")
    parser.add_argument(
        "--load", type=Path, metavar="DIR",
        help="pre-load exported files (recharges.csv|parquet, persons.csv or blacklist.csv)",
    )
    parser.add_argument(
        "--events", type=Path, metavar="FILE",
        help="pre-load capture-shaped events (JSON lines, or a JSON array / batch object)",
    )
    synth = parser.add_argument_group("synthetic data (drawkit.synth, uploaded as capture events)")
    synth.add_argument("--synth-subscribers", type=int, metavar="N", help="subscribers to make")
    synth.add_argument("--synth-days", type=int, default=7, metavar="D", help="days of data")
    synth.add_argument("--synth-end-date", type=iso_date, metavar="YYYY-MM-DD",
                       help="last day of the data (default today)")  # fmt: skip
    synth.add_argument("--synth-seed", type=int, default=1, metavar="S", help="random seed")
    parser.add_argument(
        "--not-sent-out", type=Path, metavar="FILE",
        help="keep the pre-loaded rows that could not become events (bad number, id or "
        "timestamp) in this private CSV, for drawkit cohort/report --not-sent FILE",
    )
    behaviour = parser.add_argument_group(
        "PostHog Cloud behaviours (each on in --profile cloud, off in --profile ideal)"
    )
    behaviour.add_argument(
        "--profile", choices=PROFILE_NAMES, default="cloud",
        help="cloud: PostHog Cloud as it behaves (default); ideal: instant, consistent, "
        "unthrottled; old-self-hosted: cloud without toFloatOrNull",
    )
    _add_switches(behaviour)
    behaviour.add_argument("--calculation-seconds", type=float, dest="cohort_calculation_seconds",
                           help="alias of --cohort-calculation-seconds")  # fmt: skip
    behaviour.add_argument("--ingestion-lag", type=float, dest="ingestion_lag_seconds",
                           metavar="SECONDS", help="alias of --ingestion-lag-seconds")  # fmt: skip
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--error-rate", type=float, default=0.0, help="share of 5xx answers")
    faults.add_argument("--error-status", type=int, default=503, help="status of those answers")
    faults.add_argument("--rate-limit-rate", type=float, default=0.0, help="share of 429s")
    faults.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds")
    faults.add_argument("--slow-rate", type=float, default=0.0, help="share of slow answers")
    faults.add_argument("--slow-seconds", type=float, default=0.0, help="delay of a slow answer")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped sockets")
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws")
    parser.set_defaults(func=cmd_emulator)


def _add_switches(group: argparse._ArgumentGroup) -> None:
    from drawkit.offline.posthog_emulator.behaviours import Behaviours

    for spec in fields(Behaviours):
        flag = "--" + spec.name.replace("_", "-")
        help_text = SWITCH_HELP.get(spec.name, spec.name)
        if str(spec.type) == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               dest=spec.name, help=help_text)  # fmt: skip
        else:
            kind = int if "int" in str(spec.type) else float
            group.add_argument(flag, type=kind, default=None, dest=spec.name,
                               metavar="N", help=help_text)  # fmt: skip


def _setting(flag: str | None, variable: str) -> str:
    value = (flag or os.environ.get(variable) or "").strip()
    if not value:
        raise SettingsError(
            f"{variable} is not set: export a key for the emulator to accept, e.g. "
            f"export {variable}={'phx' if variable == ENV_API_KEY else 'phc'}_<random>"
        )
    return value


def _switches(args: argparse.Namespace) -> dict[str, Any]:
    from drawkit.offline.posthog_emulator.behaviours import Behaviours

    names = [f.name for f in fields(Behaviours)]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


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
    admin_key = (args.admin_key or os.environ.get(ENV_ADMIN_KEY) or "").strip()
    try:
        return EmulatorServer(
            host=args.host,
            port=args.port,
            project_id=project_id,
            api_key=_setting(args.api_key, ENV_API_KEY),
            project_api_key=_setting(args.project_api_key, ENV_PROJECT_API_KEY),
            admin_key=admin_key or "emu_admin_" + secrets.token_hex(16),
            scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
            public_url=args.public_url,
            profile=args.profile,
            faults=faults,
            **_switches(args),
        )
    except ValueError as exc:
        raise SettingsError(f"emulator behaviour switch: {exc}") from exc




def _read_dir(folder: Path) -> tuple[Any, Any]:
    import pandas as pd

    from drawkit.errors import InputError

    if not folder.is_dir():
        raise InputError(f"--load {folder}: not a folder")
    found = next((folder / n for n in ("recharges.parquet", "recharges.csv")
                  if (folder / n).exists()), None)  # fmt: skip
    if found is None:
        raise InputError(f"{folder} holds no recharges.csv or recharges.parquet")
    recharges = (pd.read_parquet(found) if found.suffix == ".parquet"
                 else pd.read_csv(found, dtype=str, keep_default_na=False))  # fmt: skip
    persons = None
    if (folder / "persons.csv").exists():
        persons = pd.read_csv(folder / "persons.csv", dtype={"msisdn": str})
    elif (folder / "blacklist.csv").exists():
        listed = pd.read_csv(folder / "blacklist.csv", dtype=str, keep_default_na=False)
        if "msisdn" not in listed:
            raise InputError(f"{folder / 'blacklist.csv'} needs a column 'msisdn'")
        persons = pd.DataFrame({"msisdn": listed["msisdn"], "blacklisted": True})
    return recharges, persons


def _preload(server: Any, args: argparse.Namespace) -> None:
    from drawkit.app.tools import preload

    config = load_promotion(args.config)
    summaries = []
    if args.load is not None:
        recharges, persons = _read_dir(args.load)
        summary = preload(server, recharges, persons, config)
        summaries.append(summary)
        print(f"loaded {args.load}: {summary.format()}", flush=True)
    if args.events is not None:
        count = server.ingest_file(args.events)
        print(f"loaded {args.events}: {count} events", flush=True)
    if args.synth_subscribers:
        from drawkit.synth import generate

        data = generate(
            subscribers=args.synth_subscribers,
            days=args.synth_days,
            end_date=args.synth_end_date or datetime.now(config.tz).date(),
            seed=args.synth_seed,
            config=config,
        )
        summary = preload(server, data.recharges, data.persons, config)
        summaries.append(summary)
        print(f"loaded synthetic data: {summary.format()}", flush=True)
    if args.not_sent_out is not None:
        _keep_not_sent(summaries, args.not_sent_out)


def _keep_not_sent(summaries: list[Any], path: Path) -> None:
    """Write the rows the pre-load could not send to ``path`` (private, 0600)."""
    from drawkit.app.tools import keep_not_sent

    count = keep_not_sent(summaries, path)
    print(f"{count:,} row(s) could not be sent; kept in {path} "
          f"(give it to drawkit cohort/report --source posthog --not-sent {path})", flush=True)


def cmd_emulator(args: argparse.Namespace) -> int:
    """Start the emulator, print how to point drawkit at it, serve until Ctrl-C."""
    _stop_on_signals()  # before the banner: whoever reads it may signal at once
    server = build_server(args)
    try:
        _preload(server, args)
    except BaseException:
        server.close()
        raise
    server.start()
    print(f"drawkit emulator listening on {server.url} (project {server.project_id}, "
          f"profile {server.profile})")  # fmt: skip
    print(f"export POSTHOG_BASE_URL={server.url}")
    print(f"export {ENV_PROJECT_ID}={server.project_id}")
    print(f"# {ENV_API_KEY} and {ENV_PROJECT_API_KEY}: from the environment (never shown)")
    print(f"# faults and switches: {server.url}/_emulator/ with the admin key "
          f"(${ENV_ADMIN_KEY}); Ctrl-C to stop", flush=True)  # fmt: skip
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
