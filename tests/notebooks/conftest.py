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
FAST_BEACON = "[beacon]\ncommit_margin_seconds = 1\n"  # the local test chain's clock is ours


def fast_config(folder: Path) -> Path:
    """The default promotion with a one-second commit margin (a local test chain)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "promotion.toml"
    path.write_text(FAST_BEACON, encoding="utf-8")
    return path


def local_job(data_dir: Path, workspace: Path, **extra: object) -> DrawJob:
    """A report job on local files, committing to a round of the local test chain."""
    source = SourceSpec("local", recharges=data_dir / "recharges.csv",
                        blacklist=data_dir / "blacklist.csv")
    values: dict[str, object] = {
        "source": source, "workspace": workspace, "config_path": fast_config(workspace.parent),
        "accept_test_chain": True, "simulations": 200, "history_days": 2,
    }
    return DrawJob(DRAW_DATE, **(values | extra))  # type: ignore[arg-type]


_CHAIN: dict[str, str] = {}


def runtime(**env: str) -> Runtime:
    """A runtime over this process's environment, the local test chain, plus ``env``."""
    return Runtime.from_env({**os.environ, **_CHAIN, **env})


@pytest.fixture(scope="session", autouse=True)
def _reports_use_the_local_chain(drand_chain):
    """Every report run of these tests draws on the session's local test chain."""
    _CHAIN.update({"DRAWKIT_DRAND_RELAYS": drand_chain.url,
                   "DRAWKIT_DRAND_CHAIN_HASH": drand_chain.chain_hash})
    yield
    _CHAIN.clear()


@pytest.fixture(scope="session")
def make_fast_config():
    """Writes the default promotion with a one-second commit margin into a folder."""
    return fast_config


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
