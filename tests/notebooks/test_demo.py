"""`drawkit demo` end to end on a small cohort: emulator, capture upload, history, three
notebooks against PostHog; the audit passes and the environment is restored."""

from __future__ import annotations

import json
import os

import pytest

from drawkit.cli import main
from drawkit.config import ENV_API_KEY, ENV_BASE_URL
from drawkit.draw import DrawRecord

pytestmark = pytest.mark.notebook


def test_demo_runs_the_whole_job_and_its_audit_passes(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    monkeypatch.delenv(ENV_BASE_URL, raising=False)
    workspace = tmp_path / "demo"
    args = ["demo", "--subscribers", "400", "--days", "3", "--simulations", "50"]
    assert main([*args, "--workspace", str(workspace), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    folder = workspace / "reports" / "drawkit-demo-promotion-2026-11-24"
    assert f"Reports in {folder}" in printed
    for name in ("index", "01_daily_cohort", "02_draw_run", "03_audit"):
        assert (folder / f"{name}.html").stat().st_size > 500
    audit = json.loads((folder / "audit.json").read_text())
    # Every check, the two statistical ones included: each beacon is new, so p < 0.01 comes
    # in about 1 run in 100 and is said ("UNUSUAL"); a check fails only below 1e-6.
    statistical = {"Wins follow entries", "Winning tickets uniform"}
    failed = [c for c in audit["checks"] if not c["passed"]]
    assert {c["check"] for c in audit["checks"]} >= statistical | {
        "Beacon unknown when committed", "Beacon authentic"}
    assert not failed and audit["verified"] and audit["published_ok"], failed
    record = DrawRecord.from_json((folder / "record.public.json").read_text())
    assert record.is_public and record.beacon_round is not None and record.beacon_signature
    assert record.randomness.startswith("local test chain — not public randomness")
    assert "Local drand test chain" in printed and "Verdict:" in printed
    assert ENV_API_KEY not in os.environ and ENV_BASE_URL not in os.environ  # never set here
