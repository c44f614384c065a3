"""The report notebooks executed with papermill on small data (local files and the
PostHog emulator): the record verifies, charts exist, nothing leaks, failures name the cell."""

from __future__ import annotations

import json
import re
import stat
from datetime import date
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from drawkit.draw import Ledger, verify_record
from drawkit.errors import ConfigError, ReportError
from drawkit.posthog import PostHogClient
from drawkit.posthog.upload import upload_synth
from drawkit.reports import NOTEBOOKS, run_reports, scan_files, scan_text
from drawkit.reports.run import public_files
from drawkit.reports.steps import AUDIT_FILE, PARTICIPANTS_FILE, WINNERS_FILE

pytestmark = pytest.mark.notebook

DRAW_DATE = date(2026, 11, 24)
BEACON = "5e" * 32  # the conftest's beacon

CHARTS = {
    "01_row_outcomes",
    "01_entries_distribution",
    "01_cohort_over_days",
    "03_wins_by_band",
    "03_chi_square",
    "03_ticket_positions",
    "03_lorenz",
    "03_history",
}


def report_files(run) -> list[Path]:
    files = public_files(run.output_dir)
    assert {"record.public.json", "audit.json", "03_audit.html"} <= {p.name for p in files}
    return files


def full_numbers(private: Path) -> set[str]:
    """Every winner's number as E.164 and in local form (0803...)."""
    winners = pd.read_csv(private / WINNERS_FILE, dtype={"msisdn": str})
    e164 = set(winners["msisdn"])
    return e164 | {"0" + m[4:] for m in e164}


def test_local_reports_verify_and_hold_charts(local_reports) -> None:
    run, _ = local_reports
    out = run.output_dir
    assert [p.stem for p in run.executed] == list(NOTEBOOKS)
    summary = json.loads((out / AUDIT_FILE).read_text())
    assert summary["verified"] and summary["ledger_ok"] and summary["published_ok"]
    assert summary["simulations"] == 200 and 0 < summary["chi_square_pvalue"] <= 1
    # the record re-derives independently of the notebooks
    ledger = Ledger(local_reports[1]["ledger_dir"])
    record = ledger.get(summary["draw_id"])
    participants = pd.read_csv(out / "private" / PARTICIPANTS_FILE, dtype={"msisdn": str})
    assert verify_record(record, participants, ledger=ledger, beacon=bytes.fromhex(BEACON)).ok
    assert record.beacon_round == 1234 and not record.commitment.made_at_draw
    assert {p.stem for p in run.charts} == CHARTS
    for png in run.charts:
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


def test_private_files_are_owner_only(local_reports) -> None:
    private = local_reports[0].output_dir / "private"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    for path in private.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_reports_leak_no_number_and_no_key(local_reports) -> None:
    run, _ = local_reports
    assert run.leaks == []
    assert scan_files(report_files(run), secrets=()) == []
    numbers = full_numbers(run.output_dir / "private")
    for path in report_files(run):
        text = path.read_text(encoding="utf-8")
        assert not [n for n in numbers if n in text], path.name


def test_executed_notebooks_have_no_errors_and_auditor_copy_no_code(local_reports) -> None:
    run, _ = local_reports
    for path in run.executed:
        notebook = nbformat.read(path, as_version=4)
        outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert not [o for o in outputs if o.get("name") == "stderr"], path.name
    audit_html = (run.output_dir / "03_audit.html").read_text(encoding="utf-8")
    assert "run_audit" not in audit_html
    assert not re.search(r'<div[^>]*class="[^"]*(jp-CodeMirrorEditor|highlight)[ "]', audit_html)
    code_cells = re.findall(r'<div class="jp-Cell jp-CodeCell[^"]*"', audit_html)
    assert code_cells and all("jp-mod-noInput" in c for c in code_cells)
    assert "run_audit" in (run.output_dir / "03_audit.full.html").read_text()


def test_second_run_returns_the_same_record(local_reports, tmp_path) -> None:
    """Re-running the draw notebook never re-rolls: the ledger returns the record."""
    run, params = local_reports
    first = json.loads((run.output_dir / AUDIT_FILE).read_text())["record_hash"]
    again = run_reports(
        params,
        tmp_path,
        notebooks=("01_daily_cohort", "02_draw_run"),
        progress_bar=False,
    )
    public = json.loads((again.output_dir / "record.public.json").read_text())
    assert public["record_hash"] == first


def test_failing_notebook_names_the_cell_and_keeps_the_partial_notebook(
    tmp_path, make_local_parameters
) -> None:
    missing = tmp_path / "no-such-recharges.csv"
    params = make_local_parameters(tmp_path, tmp_path / "ledger") | {"recharges": str(missing)}
    with pytest.raises(ReportError) as caught:
        run_reports(
            params, tmp_path / "reports", notebooks=("01_daily_cohort",), progress_bar=False
        )
    message = str(caught.value)
    assert "01_daily_cohort" in message and "cell" in message
    assert "get_eligible_participants" in message or "open_source" in message
    assert "Traceback" not in message
    partial = tmp_path / "reports" / DRAW_DATE.isoformat() / "01_daily_cohort.ipynb"
    assert partial.exists()


def test_unknown_or_bad_parameters_fail_before_any_kernel(tmp_path, make_local_parameters) -> None:
    params = make_local_parameters(tmp_path, tmp_path / "ledger")
    with pytest.raises(ReportError, match="unknown report parameter"):
        run_reports(params | {"simulatons": 5}, tmp_path)
    with pytest.raises(ConfigError, match="draw_date"):
        run_reports(params | {"draw_date": "24/11/2026"}, tmp_path)
    assert not (tmp_path / "2026-11-24").exists()


def test_scan_finds_keys_and_numbers() -> None:
    path = Path("report.html")
    leaks = scan_text(
        "key phx_abcdefghijklmnop and +2348031234567, 0803 123 4567 masked 0803****567",
        path,
        secrets=["s3cr3t-value"],
    )
    kinds = sorted(leak.kind for leak in leaks)
    assert kinds == ["API key", "unmasked phone number"]
    assert "8031234567" not in " ".join(leak.format() for leak in leaks)
    assert scan_text("token s3cr3t-value here", path, ["s3cr3t-value"])[0].kind.startswith("secret")
    image = '"image/png": "iVBOR+2348031234567/AAAA"'
    assert scan_text(image, path) == []


@pytest.fixture(scope="module")
def posthog_reports(tmp_path_factory, synth_small):
    """The three notebooks against the emulator, data loaded through the capture API."""
    from drawkit.offline.posthog_emulator import EmulatorServer

    root = tmp_path_factory.mktemp("posthog-reports")
    with EmulatorServer() as server, pytest.MonkeyPatch.context() as patch:
        for name, value in server.env().items():
            patch.setenv(name, value)
        upload_synth(PostHogClient.from_env(), synth_small)
        params = {
            "draw_date": DRAW_DATE.isoformat(),
            "source": "posthog",
            "ledger_dir": str(root / "ledger"),
            "beacon": BEACON,
            "simulations": 100,
            "history_days": 1,
        }
        run = run_reports(params, root / "reports", progress_bar=False)
        yield run, server


def test_posthog_source_reports(posthog_reports) -> None:
    run, server = posthog_reports
    summary = json.loads((run.output_dir / AUDIT_FILE).read_text())
    assert summary["verified"] and summary["published_ok"], summary["checks"]
    cohort_html = (run.output_dir / "01_daily_cohort.html").read_text(encoding="utf-8")
    assert "PostHog API calls" in cohort_html
    tracked = set(server.store.events["event"])
    operations = ("cohort_built", "draw_committed", "draw_completed", "results_published")
    assert {f"drawkit_{name}" for name in operations} <= tracked
    assert scan_files(report_files(run), secrets=[server.api_key, server.project_api_key]) == []
    for path in run.executed:
        notebook = nbformat.read(path, as_version=4)
        assert "api_key" not in json.dumps(notebook.metadata.get("papermill", {}))


def test_a_report_that_shows_a_full_number_fails_the_run(tmp_path, make_local_parameters) -> None:
    """The scan runs on real output: a notebook printing a number stops the run."""
    from nbformat.v4 import new_code_cell, new_notebook

    source = nbformat.read(Path(__file__).parents[2] / "notebooks" / "01_daily_cohort.ipynb", 4)
    parameters = next(c for c in source.cells if "parameters" in c.metadata.get("tags", []))
    leaky = new_notebook(cells=[parameters, new_code_cell('print("winner: +2348031234567")')])
    leaky.metadata["kernelspec"] = source.metadata["kernelspec"]
    nbformat.write(leaky, tmp_path / "01_daily_cohort.ipynb")
    params = make_local_parameters(tmp_path, tmp_path / "ledger")
    with pytest.raises(ReportError, match="unmasked phone number") as caught:
        run_reports(
            params,
            tmp_path / "reports",
            notebooks=("01_daily_cohort",),
            notebooks_dir=tmp_path,
            progress_bar=False,
        )
    assert "8031234567" not in str(caught.value)
