"""The demo door: the whole daily job offline, composed from the use-cases.

Two stand-ins run on free loopback ports: the PostHog emulator, with throwaway keys that
only this run's runtime and its notebook kernels receive (so is the result signing key:
a throwaway one, never the operator's), and a local drand test chain
with its own throwaway key (its rounds are labelled "local test chain — not public
randomness" everywhere, and the demo's audit accepts that chain explicitly). Synthetic
recharges go in through capture; the days before the draw date are committed, drawn on
their round and published; then the day's reports run with PostHog as the source.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from drawkit import app
from drawkit.config import SIGNING_KEY_ENV
from drawkit.errors import DrawkitError
from drawkit.reports import ReportSet, run_report

MARKER = ".drawkit-demo"
DEMO_INGESTION_LAG = 3.0  # seconds; PostHog Cloud takes seconds to minutes
Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs."""

    draw_date: date
    subscribers: int = 20_000
    days: int = 7
    seed: int = 2026
    workspace: Path = Path("workspace/demo")
    simulations: int = 500
    full_copy: bool = False
    progress_bar: bool = True


@dataclass(frozen=True)
class DemoResult:
    """The day's reports and how long the demo took."""

    reports: ReportSet
    seconds: float


def fresh_workspace(path: Path) -> Path:
    """An empty demo workspace, removing only a previous demo's workspace."""
    if path.exists():
        if not (path / MARKER).exists():
            raise DrawkitError(f"{path} exists and is not a drawkit demo workspace: move it")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("created by drawkit demo; removed by the next demo run\n")
    return path


NOT_SENT_FILE = "upload-not-sent.csv"  # private: the rows the upload could not send

DEMO_CONFIG = """\
# The demo promotion: the embedded default, with a short commit margin because the local
# test chain's clock is this machine's (a public chain keeps the 60 s default).
[beacon]
commit_margin_seconds = 2
wait_seconds = 30
"""


def previous_draws(job: app.DrawJob, runtime: app.Runtime, dates: list[date], say: Say) -> None:
    """Freeze, commit, draw (once the round exists) and publish the draws of ``dates``."""
    for day in dates:
        daily = job.with_date(day)
        frozen = app.freeze_cohort(daily, runtime)
        if len(frozen.cohort.participants) == 0:
            continue
        app.commit(daily, runtime)
        record = app.draw(daily, runtime, wait=True).record
        app.publish(daily, runtime)
        say(f"  {day}: {record.participants:,} participants, {len(record.winners)} picks, "
            f"beacon round {record.beacon_round}")


def run_demo(options: DemoOptions, say: Say = print) -> DemoResult:
    """Run the demo (see the module docstring)."""
    from drawkit.offline.drand_chain import LocalDrandChain
    from drawkit.offline.posthog_emulator import EmulatorServer

    started = time.perf_counter()
    workspace = fresh_workspace(options.workspace)
    config = workspace / "promotion.toml"
    config.write_text(DEMO_CONFIG, encoding="utf-8")
    emulator = EmulatorServer(host="127.0.0.1", port=0, profile="cloud",
                              ingestion_lag_seconds=DEMO_INGESTION_LAG)
    with emulator as server, LocalDrandChain(period=1) as chain:
        say(f"PostHog emulator on {server.url} (cloud profile: caching, throttles, "
            f"{DEMO_INGESTION_LAG:g} s ingestion lag; throwaway keys, this run only)")
        say(f"Local drand test chain on {chain.url}, chain {chain.chain_hash[:16]}… "
            "(its own throwaway key: not public randomness)")
        beacon_env = {"DRAWKIT_DRAND_RELAYS": chain.url,
                      "DRAWKIT_DRAND_CHAIN_HASH": chain.chain_hash,
                      SIGNING_KEY_ENV: secrets.token_hex(32)}  # throwaway, this run only
        runtime = app.Runtime.from_env({**_environment(), **server.env(), **beacon_env})
        not_sent = workspace / "private" / NOT_SENT_FILE
        upload = app.load_synthetic(runtime, options.subscribers, options.days,
                                    options.draw_date, options.seed, say=say,
                                    not_sent_out=not_sent)
        say(f"Uploaded through capture: {upload.events_sent:,} events; "
            f"{len(upload.not_sent):,} rows not sendable, kept for the accounting")
        job = app.DrawJob(options.draw_date,
                          source=app.SourceSpec("posthog", not_sent=not_sent),
                          config_path=config, workspace=workspace,
                          simulations=options.simulations, accept_test_chain=True)
        history = [options.draw_date - timedelta(days=k) for k in range(options.days - 1, 0, -1)]
        say(f"Draws of the {len(history)} previous days:")
        previous_draws(job, runtime, history, say)
        say(f"Reports for {options.draw_date} (PostHog source):")
        reports = run_report(job, runtime, full_copy=options.full_copy,
                             progress_bar=options.progress_bar, say=say)
    return DemoResult(reports, time.perf_counter() - started)


def _environment() -> dict[str, str]:
    import os

    return dict(os.environ)
