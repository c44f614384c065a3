"""The demo door: the whole daily job offline, composed from the use-cases.

The PostHog emulator (a stand-in from :mod:`drawkit.offline`) runs on a free loopback
port with throwaway keys that only this run's runtime and its notebook kernels receive;
synthetic recharges go in through capture; the days before the draw date are drawn and
published; then the day's reports run with PostHog as the source.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from drawkit import app
from drawkit.errors import DrawkitError
from drawkit.reports import ReportSet, run_report

MARKER = ".drawkit-demo"
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


def stand_in_beacon(round_number: int) -> bytes:
    """The demo's stand-in for a round's value (the demo has no network)."""
    return hashlib.sha256(f"drawkit demo beacon, round {round_number}".encode()).digest()


def commit_and_await_beacon(job: app.DrawJob, runtime: app.Runtime) -> app.DrawJob:
    """Commit to the first round at least a second away, wait until it is published, and
    return the job with the round and its (stand-in) value."""
    from drawkit.app.beacon import round_after

    choice = round_after(datetime.now(UTC) + timedelta(seconds=1))
    committed = replace(job, beacon_round=choice.round)
    app.commit(committed, runtime)
    time.sleep(max((choice.published_at - datetime.now(UTC)).total_seconds(), 0.0) + 0.05)
    return replace(committed, beacon_value=stand_in_beacon(choice.round).hex())


def previous_draws(job: app.DrawJob, runtime: app.Runtime, dates: list[date], say: Say) -> None:
    """Freeze, commit, draw and publish the draws of ``dates`` (before the report's day)."""
    for day in dates:
        daily = job.with_date(day)
        frozen = app.freeze_cohort(daily, runtime)
        if len(frozen.cohort.participants) == 0:
            continue
        ready = commit_and_await_beacon(daily, runtime)
        record = app.draw(ready, runtime).record
        app.publish(ready, runtime)
        say(f"  {day}: {record.participants:,} participants, {len(record.winners)} picks")


def run_demo(options: DemoOptions, say: Say = print) -> DemoResult:
    """Run the demo (see the module docstring)."""
    from drawkit.emulator import EmulatorServer

    started = time.perf_counter()
    workspace = fresh_workspace(options.workspace)
    with EmulatorServer(host="127.0.0.1", port=0) as server:
        say(f"PostHog emulator on {server.url} (throwaway keys, this run only)")
        runtime = app.Runtime.from_env({**_environment(), **server.env()})
        upload = app.load_synthetic(runtime, options.subscribers, options.days,
                                    options.draw_date, options.seed, say=say)
        say(f"Uploaded through capture: {upload.events_sent:,} events")
        job = app.DrawJob(options.draw_date, source=app.SourceSpec("posthog"),
                          workspace=workspace, simulations=options.simulations)
        history = [options.draw_date - timedelta(days=k) for k in range(options.days - 1, 0, -1)]
        say(f"Draws of the {len(history)} previous days:")
        previous_draws(job, runtime, history, say)
        app.freeze_cohort(job, runtime)
        today = commit_and_await_beacon(job, runtime)
        say(f"Reports for {options.draw_date} (PostHog source):")
        reports = run_report(today, runtime, full_copy=options.full_copy,
                             progress_bar=options.progress_bar, say=say)
    return DemoResult(reports, time.perf_counter() - started)


def _environment() -> dict[str, str]:
    import os

    return dict(os.environ)
