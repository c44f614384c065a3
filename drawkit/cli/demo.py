"""`drawkit demo`: the whole daily job on synthetic data, offline, in a few minutes.

It starts the PostHog emulator on a free loopback port with freshly generated throwaway
keys (set in this process's environment only, so the notebook kernels inherit them),
generates synthetic recharges, loads them through the capture API, runs the draws of the
days before the draw date, then runs the cohort, draw and audit notebooks with PostHog as
the source and prints where the HTML reports are.

The default draw date is fixed (2026-11-24) so that two demo runs give the same data and
the same cohort digests; pass ``--date`` for another day. Each draw commits to the next
drand round and waits for it as a real operator does, so winners differ between runs (the
round's value is a stand-in derived from its number: the demo has no network).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from drawkit.cli.arguments import iso_date
from drawkit.cli.report import print_run
from drawkit.config import (
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_PROJECT_API_KEY,
    ENV_PROJECT_ID,
    PromotionConfig,
)
from drawkit.draw import beacon, commit_draw, publish, run_draw
from drawkit.errors import DrawkitError
from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.redact import register_secrets
from drawkit.reports import run_reports

DEMO_DATE = date(2026, 11, 24)
MARKER = ".drawkit-demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole daily job on synthetic data against the local PostHog emulator",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument(
        "--date",
        type=iso_date,
        default=DEMO_DATE,
        help=f"draw date (default {DEMO_DATE}, fixed so demo runs are reproducible)",
    )
    parser.add_argument("--subscribers", type=int, default=20_000, help="synthetic subscribers")
    parser.add_argument("--days", type=int, default=7, help="days of recharges before the draw")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the synthetic data")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports root folder")
    parser.add_argument("--simulations", type=int, default=500, help="simulated audit draws")
    parser.add_argument("--full", action="store_true", help="also export HTML with code cells")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def commit_and_await_beacon(
    participants: pd.DataFrame, config: PromotionConfig, day: date, ledger: Path
) -> tuple[int, bytes]:
    """Commit to the cohort and to the first drand round at least a second away, then wait
    until that round is published, as a real operator does. The demo has no network, so the
    round's value is a stand-in derived from its number; a real draw fetches it from drand."""
    round_number = beacon.round_after(datetime.now(UTC) + timedelta(seconds=1))
    commit_draw(participants, config, day, ledger_dir=ledger, beacon_round=round_number)
    wait = (beacon.round_time(round_number) - datetime.now(UTC)).total_seconds()
    time.sleep(max(wait, 0.0) + 0.05)
    value = hashlib.sha256(f"drawkit demo beacon, round {round_number}".encode()).digest()
    return round_number, value


@contextmanager
def emulator_environment() -> Iterator[EmulatorServer]:
    """Start the emulator with throwaway keys and point POSTHOG_* of this process at it;
    restore the previous environment afterwards."""
    names = (ENV_API_KEY, ENV_PROJECT_ID, ENV_BASE_URL, ENV_PROJECT_API_KEY)
    saved = {name: os.environ.get(name) for name in names}
    with EmulatorServer(host="127.0.0.1", port=0) as server:
        register_secrets([server.api_key, server.project_api_key])
        os.environ.update(
            {
                ENV_API_KEY: server.api_key,
                ENV_PROJECT_ID: server.project_id,
                ENV_BASE_URL: server.url,
                ENV_PROJECT_API_KEY: server.project_api_key,
            }
        )
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def fresh_workspace(path: Path) -> Path:
    """An empty demo workspace (ledger), removing only a previous demo's workspace."""
    if path.exists():
        if not (path / MARKER).exists():
            raise DrawkitError(f"{path} exists and is not a drawkit demo workspace: move it")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("created by drawkit demo; removed by the next demo run\n")
    return path


def previous_draws(source: object, config: PromotionConfig, dates: list[date], ledger: Path) -> int:
    """Commit, run and publish the draws of ``dates`` (the days before the report's draw)."""
    done = 0
    for day in dates:
        result = source.get_eligible_participants(day)  # type: ignore[attr-defined]
        if result.summary.participants == 0:
            continue
        round_number, value = commit_and_await_beacon(result.participants, config, day, ledger)
        record = run_draw(
            result.participants,
            config,
            day,
            ledger_dir=ledger,
            beacon=value,
            beacon_round=round_number,
            exclusions=dict(result.summary.participants_excluded),
        )
        publish(record, source)  # type: ignore[arg-type]
        done += 1
        print(f"  {day}: {record.participants:,} participants, {len(record.winners)} picks")
    return done


def run(args: argparse.Namespace) -> int:
    """Run the demo and print where the reports are."""
    from drawkit.posthog import PostHogClient
    from drawkit.posthog.upload import upload_synth
    from drawkit.sources.posthog import PostHogDataSource
    from drawkit.synth import generate

    started = time.perf_counter()
    config = PromotionConfig()
    workspace = fresh_workspace(args.out / "demo-workspace")
    ledger = workspace / "ledger"
    with emulator_environment() as server:
        print(f"PostHog emulator on {server.url} (throwaway keys, this process only)")
        # `days` days of recharges ending at the draw date's cutoff (the draw's window is the last).
        data = generate(args.subscribers, args.days, args.date, seed=args.seed)
        print(
            f"Synthetic data: {len(data.recharges):,} recharge rows, {len(data.persons):,} people"
        )
        client = PostHogClient.from_env()
        upload = upload_synth(client, data)
        print(f"Uploaded through capture: {upload.events_sent:,} events")
        source = PostHogDataSource(client, config)
        history = [args.date - timedelta(days=k) for k in range(args.days - 1, 0, -1)]
        print(f"Draws of the {len(history)} previous days:")
        previous_draws(source, config, history, ledger)
        today = source.get_eligible_participants(args.date).participants
        round_number, value = commit_and_await_beacon(today, config, args.date, ledger)
        print(f"Reports for {args.date} (PostHog source):")
        run = run_reports(
            {
                "draw_date": args.date.isoformat(),
                "source": "posthog",
                "strategy": "hogql",
                "ledger_dir": str(ledger),
                "beacon": value.hex(),
                "beacon_round": round_number,
                "simulations": args.simulations,
            },
            args.out,
            full_copy=args.full,
            progress_bar=not args.no_progress,
            on_progress=print,
        )
    print_run(run)
    print(f"Demo finished in {time.perf_counter() - started:.0f} s")
    return 0
