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

from drawkit.app import DrawJob, SourceSpec
from drawkit.app.auditing import AUDIT_FILE
from drawkit.app.cohort import PARTICIPANTS_FILE
from drawkit.app.draws import WINNERS_FILE
from drawkit.draw import Ledger, verify_record
from drawkit.errors import ConfigError, ReportError
from drawkit.posthog.upload import upload_synth
from drawkit.reports import NOTEBOOKS, public_files, run_report, scan_files, scan_text

pytestmark = pytest.mark.notebook

DRAW_DATE = date(2026, 11, 24)

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
    run, job = local_reports
    out = run.output_dir
    assert [p.stem for p in run.executed] == list(NOTEBOOKS)
    summary = json.loads((out / AUDIT_FILE).read_text())
    assert summary["verified"] and summary["ledger_ok"] and summary["published_ok"]
    assert summary["simulations"] == 200 and 0 < summary["chi_square_pvalue"] <= 1
    # the record re-derives independently of the notebooks
    ledger = Ledger(job.ledger)
    record = ledger.get(summary["draw_id"])
    participants = pd.read_csv(job.private_dir / PARTICIPANTS_FILE, dtype={"msisdn": str})
    verified = verify_record(record, participants, ledger=ledger, accept_test_chain=True)
    assert verified.ok, verified.format()
    assert record.beacon_round is not None and not record.commitment.made_at_draw
    assert record.randomness.startswith("local test chain — not public randomness")
    assert {p.stem for p in run.charts} == CHARTS
    for png in run.charts:
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


def test_private_files_are_owner_only(local_reports) -> None:
    private = local_reports[1].private_dir
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    for path in private.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_reports_leak_no_number_and_no_key(local_reports) -> None:
    run, job = local_reports
    assert run.leaks == []
    assert scan_files(report_files(run), secrets=()) == []
    numbers = full_numbers(job.private_dir)
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
    assert "app.audit" not in audit_html
    assert not re.search(r'<div[^>]*class="[^"]*(jp-CodeMirrorEditor|highlight)[ "]', audit_html)
    code_cells = re.findall(r'<div class="jp-Cell jp-CodeCell[^"]*"', audit_html)
    assert code_cells and all("jp-mod-noInput" in c for c in code_cells)
    full_text = re.sub(r"<[^>]+>", "", (run.output_dir / "03_audit.full.html").read_text())
    assert "app.audit(job, runtime)" in full_text


def test_second_run_returns_the_same_record(local_reports, make_runtime) -> None:
    """Re-running the cohort and draw notebooks never re-rolls: the frozen cohort is
    reused and the ledger returns the record."""
    run, job = local_reports
    first = json.loads((run.output_dir / AUDIT_FILE).read_text())["record_hash"]
    again = run_report(job, make_runtime(), steps=("01_daily_cohort", "02_draw_run"),
                       progress_bar=False)
    public = json.loads((again.output_dir / "record.public.json").read_text())
    assert public["record_hash"] == first
    draw_html = (again.output_dir / "02_draw_run.html").read_text(encoding="utf-8")
    assert "already drawn" in draw_html


def test_failing_notebook_names_the_cell_and_keeps_the_partial_notebook(
    tmp_path, make_local_job, make_runtime
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "recharges.csv").write_text("transaction_id,phone,amount_ngn,timestamp\n")
    (tmp_path / "data" / "blacklist.csv").write_text("msisdn\n")
    job = make_local_job(tmp_path / "data", tmp_path / "workspace")
    with pytest.raises(ReportError) as caught:
        run_report(job, make_runtime(), steps=("01_daily_cohort",), progress_bar=False)
    message = str(caught.value)
    assert "01_daily_cohort" in message and "cell" in message
    assert "freeze_cohort" in message and "msisdn" in message
    assert "Traceback" not in message
    partial = job.absolute().report_dir / "01_daily_cohort.ipynb"
    assert partial.exists()


def test_unknown_or_bad_job_fields_fail_before_any_kernel(
    tmp_path, make_local_job, make_runtime
) -> None:
    data = json.loads(make_local_job(tmp_path, tmp_path / "workspace").to_json())
    with pytest.raises(ConfigError, match="unknown draw job field"):
        DrawJob.from_dict(data | {"simulatons": 5})
    with pytest.raises(ConfigError, match="draw_date"):
        DrawJob.from_dict(data | {"draw_date": "24/11/2026"})
    missing = DrawJob.from_dict(data)  # the data folder holds no recharges file
    with pytest.raises(Exception, match="no such file"):
        run_report(missing, make_runtime(), progress_bar=False)
    assert not (tmp_path / "workspace").exists()


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
def posthog_reports(tmp_path_factory, synth_small, make_runtime, make_fast_config):
    """The three notebooks against the emulator, data loaded through the capture API."""
    from drawkit.offline.posthog_emulator import EmulatorServer

    root = tmp_path_factory.mktemp("posthog-reports")
    with EmulatorServer() as server:
        run_time = make_runtime(**server.env())
        upload_synth(run_time.posthog(), synth_small)
        job = DrawJob(DRAW_DATE, source=SourceSpec("posthog"), workspace=root / "workspace",
                      config_path=make_fast_config(root), accept_test_chain=True, simulations=100,
                      history_days=1)
        run = run_report(job, run_time, progress_bar=False)
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


def test_a_report_that_shows_a_full_number_fails_the_run(
    tmp_path, make_local_job, synth_small, make_runtime
) -> None:
    """The scan runs on real output: a notebook printing a number stops the run."""
    from nbformat.v4 import new_code_cell, new_notebook

    from drawkit.reports.runner import NOTEBOOKS_DIR
    from drawkit.synth import write_synth

    source = nbformat.read(NOTEBOOKS_DIR / "01_daily_cohort.ipynb", 4)
    parameters = next(c for c in source.cells if "parameters" in c.metadata.get("tags", []))
    leaky = new_notebook(cells=[parameters, new_code_cell('print("winner: +2348031234567")')])
    leaky.metadata["kernelspec"] = source.metadata["kernelspec"]
    nbformat.write(leaky, tmp_path / "01_daily_cohort.ipynb")
    write_synth(synth_small, tmp_path / "data")
    job = make_local_job(tmp_path / "data", tmp_path / "workspace")
    with pytest.raises(ReportError, match="unmasked phone number") as caught:
        run_report(job, make_runtime(), steps=("01_daily_cohort",), notebooks_dir=tmp_path,
                   progress_bar=False)
    assert "8031234567" not in str(caught.value)


def test_the_landing_page_leads_with_the_verdict_and_links_the_verifier(local_reports) -> None:
    from bs4 import BeautifulSoup

    run, _ = local_reports
    soup = BeautifulSoup(run.index.read_text(encoding="utf-8"), "html.parser")
    first = soup.find(re.compile(r"^h[1-6]$")).get_text(" ", strip=True)
    assert first.startswith(("PASS", "FAIL"))
    hrefs = {a["href"] for a in soup.find_all("a", href=True)}
    assert {"record.public.json", "audit.json", "verifier/index.html", "03_audit.html"} <= hrefs
    for href in hrefs:
        assert (run.output_dir / href).exists(), href
    assert "drawkit verify" in soup.get_text(" ")


def test_a_replaced_winner_shows_in_the_draw_and_audit_reports(local_reports, make_runtime) -> None:
    """draw-event: the first winner is unreachable, the first reserve is promoted; the
    reports run again say so (the draw itself is never re-drawn)."""
    from drawkit.app import record_draw_event

    run, job = local_reports
    record = Ledger(job.ledger).get(job.id)
    tier = record.winners[0].tier
    record_draw_event(job.ledger, job.id, "unreachable", position=1, tier=tier,
                      reason="switched off")
    again = run_report(job, make_runtime(), steps=("02_draw_run", "03_audit"),
                       progress_bar=False)
    for name in ("02_draw_run.html", "03_audit.html"):
        text = (again.output_dir / name).read_text(encoding="utf-8")
        assert "unreachable: switched off" in text and "replaced by reserve 1" in text, name
    index = again.index.read_text(encoding="utf-8")
    assert "replaced by" in index.lower() or "promoted" in index.lower()
    # 02 published the two draw events; 03 found them, signed, in the source
    audit_text = (again.output_dir / "03_audit.html").read_text(encoding="utf-8")
    assert "draw_event (unreachable)" in audit_text and "draw_event (promoted)" in audit_text
    assert json.loads((again.output_dir / "audit.json").read_text())["published_ok"]
