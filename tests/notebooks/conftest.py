"""Shared notebook executions: each report run takes ~15 s, so tests share them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from drawkit.reports import ReportRun, run_reports
from drawkit.synth import generate, write_synth

DRAW_DATE = date(2026, 11, 24)
BEACON = "5e" * 32


def local_parameters(data_dir: Path, ledger: Path) -> dict[str, object]:
    return {
        "draw_date": DRAW_DATE.isoformat(),
        "source": "local",
        "recharges": str(data_dir / "recharges.csv"),
        "blacklist": str(data_dir / "blacklist.csv"),
        "ledger_dir": str(ledger),
        "beacon": BEACON,
        "beacon_round": 1234,
        "simulations": 200,
        "history_days": 2,
    }


@pytest.fixture(scope="session")
def make_local_parameters():
    """Builds local-source parameters for a data folder and a ledger."""
    return local_parameters


@pytest.fixture(scope="session")
def synth_small():
    """300 subscribers, 4 days of recharges up to the draw date's window."""
    return generate(subscribers=300, days=4, end_date=DRAW_DATE, seed=11)


@pytest.fixture(scope="session")
def local_reports(tmp_path_factory, synth_small) -> tuple[ReportRun, dict[str, object]]:
    """The three notebooks run once on local files (auditor and full HTML copies)."""
    root = tmp_path_factory.mktemp("local-reports")
    write_synth(synth_small, root / "data")
    params = local_parameters(root / "data", root / "ledger")
    run = run_reports(params, root / "reports", full_copy=True, progress_bar=False)
    return run, params
