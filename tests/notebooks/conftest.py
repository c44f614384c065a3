"""Shared report runs: each takes ~15 s, so tests share them."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from drawkit.app import DrawJob, Runtime, SourceSpec
from drawkit.reports import ReportSet, run_report
from drawkit.synth import generate, write_synth

DRAW_DATE = date(2026, 11, 24)
BEACON = "5e" * 32


def local_job(data_dir: Path, workspace: Path, **extra: object) -> DrawJob:
    """A report job on local files (the conftest's beacon round and value)."""
    source = SourceSpec("local", recharges=data_dir / "recharges.csv",
                        blacklist=data_dir / "blacklist.csv")
    values: dict[str, object] = {
        "source": source, "workspace": workspace, "beacon_round": 1234,
        "beacon_value": BEACON, "simulations": 200, "history_days": 2,
    }
    return DrawJob(DRAW_DATE, **(values | extra))  # type: ignore[arg-type]


def runtime(**env: str) -> Runtime:
    """A runtime over this process's environment plus ``env``."""
    return Runtime.from_env({**os.environ, **env})


@pytest.fixture(scope="session")
def make_runtime():
    """Builds a runtime over this process's environment plus some variables."""
    return runtime


@pytest.fixture(scope="session")
def make_local_job():
    """Builds a local-source job for a data folder and a workspace."""
    return local_job


@pytest.fixture(scope="session")
def synth_small():
    """300 subscribers, 4 days of recharges up to the draw date's window."""
    return generate(subscribers=300, days=4, end_date=DRAW_DATE, seed=11)


@pytest.fixture(scope="session")
def local_reports(tmp_path_factory, synth_small) -> tuple[ReportSet, DrawJob]:
    """The three notebooks run once on local files (auditor and full HTML copies)."""
    root = tmp_path_factory.mktemp("local-reports")
    write_synth(synth_small, root / "data")
    job = local_job(root / "data", root / "workspace").absolute()
    reports = run_report(job, runtime(), full_copy=True, progress_bar=False)
    return reports, job
