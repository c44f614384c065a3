"""The notebooks' use-cases and tables without a kernel: the job, tables, private files."""

from __future__ import annotations

import json
import re
import stat
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drawkit.app import DrawJob, Runtime, SourceSpec, freeze_cohort, load_cohort, parse_beacon
from drawkit.app.draws import write_draw_files
from drawkit.config import PromotionConfig
from drawkit.draw import canonical_cohort, run_draw
from drawkit.eligibility import apply_rules
from drawkit.errors import ConfigError, InputError
from drawkit.reports import tables

FULL_NUMBER = re.compile(r"(?<!\d)(\+?234|0)[789][01]\d{8}(?!\d)")


def job_for(tmp_path: Path, **extra) -> DrawJob:
    recharges = tmp_path / "r.csv"
    recharges.touch()
    values = {
        "draw_date": "2026-11-24",
        "source": {"kind": "local", "recharges": str(recharges)},
        "workspace": str(tmp_path / "workspace"),
        "beacon_value": "ab" * 32,
    }
    return DrawJob.from_dict(values | extra)


def test_the_job_is_checked(tmp_path) -> None:
    job = job_for(tmp_path)
    assert job.draw_date == date(2026, 11, 24) and parse_beacon(job.beacon_value) == bytes.fromhex(
        "ab" * 32
    )
    assert job.ledger == tmp_path / "workspace" / "ledger" and job.beacon_round is None
    assert job.id == "drawkit-demo-promotion-2026-11-24"
    assert DrawJob.from_json(job.to_json()) == job
    with pytest.raises(ConfigError, match="api_key"):
        job_for(tmp_path, api_key="x")
    with pytest.raises(InputError, match="recharges"):
        job_for(tmp_path, source={"kind": "local"}).source.check()
    assert job_for(tmp_path, source={"kind": "posthog"}).source.check().kind == "posthog"
    with pytest.raises(InputError, match="beacon"):
        parse_beacon(job_for(tmp_path, beacon_value="not hex").beacon_value)
    with pytest.raises(ConfigError, match="source"):
        job_for(tmp_path, source={"kind": "ftp"}).source.check()
    with pytest.raises(ConfigError, match="simulations"):
        job_for(tmp_path, simulations=0)


def test_table_renders_html_with_headers_and_formatted_numbers() -> None:
    frame = pd.DataFrame({"name": ["a", "b"], "rows": [1234567, 2], "ok": [True, False]})
    html = tables.table(frame, caption="Caption").to_html()
    assert len(re.findall(r"<th[ >]", html)) == 3 and "1,234,567" in html and "Caption" in html
    assert ">yes<" in html and ">no<" in html
    assert "row_heading" not in html  # no index column


def test_cohort_tables_account_for_every_row(tmp_path) -> None:
    recharges = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t2", "t3", "t4"],
            "msisdn": ["08031234567", "+2348031234567", "+2348031234567", "12", "08051234567"],
            "amount_ngn": ["250", "100", "100", "100", "abc"],
            "timestamp": ["2026-11-23T10:00:00+01:00"] * 5,
        }
    )
    result = apply_rules(recharges, PromotionConfig(), date(2026, 11, 24))
    outcomes = tables.row_outcomes(result.summary)
    assert outcomes["rows"].sum() == len(recharges)
    digest = canonical_cohort(result.participants).digest
    figures = tables.key_figures(result.summary, digest)
    assert "yes" in figures.loc[figures["figure"] == "Every row accounted for", "value"].tolist()
    assert digest in figures["value"].tolist()
    stats = tables.points_distribution(result.participants)
    assert stats.loc[stats["statistic"] == "maximum", "entries"].item() == "3"
    job = job_for(tmp_path)
    recharges.to_csv(job.source.recharges, index=False)
    frozen = freeze_cohort(job, Runtime.from_env({})).cohort
    assert stat.S_IMODE(frozen.files["participants"].stat().st_mode) == 0o600
    meta = json.loads(frozen.files["cohort"].read_text())
    assert meta["participants"] == 1 and not FULL_NUMBER.search(frozen.files["cohort"].read_text())


def test_draw_files_mask_numbers_and_protect_private_files(tmp_path) -> None:
    n = 60
    participants = pd.DataFrame(
        {"msisdn": [f"+23481{i:08d}" for i in range(n)], "entries": np.arange(1, n + 1)}
    )
    job = job_for(tmp_path)
    record = run_draw(participants, job.config, job.draw_date, ledger_dir=job.ledger,
                      beacon=parse_beacon(job.beacon_value))
    prizes = tables.prize_table(record)
    assert prizes["draw order"].tolist() == list(range(1, len(record.winners) + 1))
    assert not FULL_NUMBER.search(prizes.to_string())
    assert all(re.fullmatch(r"0\d{3}\*{4}\d{3}", m) for m in prizes["number"])
    paths = write_draw_files(job, record)
    for key in ("winners export", "private record"):
        assert stat.S_IMODE(paths[key].stat().st_mode) == 0o600
    assert not FULL_NUMBER.search(paths["public record"].read_text())
    assert FULL_NUMBER.search(paths["winners export"].read_text())
    files = tables.files_table(paths, job.workspace)
    assert (
        files.loc[files["file"] == "winners export", "permissions"].item().endswith("(owner only)")
    )


def test_load_cohort_names_the_missing_report(tmp_path) -> None:
    with pytest.raises(InputError, match="01_daily_cohort"):
        load_cohort(job_for(tmp_path))


def test_report_command_fails_fast_without_posthog_settings(tmp_path, monkeypatch, capsys) -> None:
    from drawkit.cli import main

    for name in ("POSTHOG_API_KEY", "POSTHOG_PROJECT_ID", "POSTHOG_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    code = main(["report", "--date", "2026-11-24", "--source", "posthog", "--workspace",
                 str(tmp_path)])
    assert code == 2
    assert "POSTHOG_API_KEY" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no kernel ran, nothing written


def test_committed_notebooks_have_no_outputs_and_the_one_job_parameter() -> None:
    import nbformat
    import papermill

    from drawkit.reports import NOTEBOOKS
    from drawkit.reports.runner import NOTEBOOKS_DIR

    for name in NOTEBOOKS:
        path = NOTEBOOKS_DIR / f"{name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        assert notebook.metadata["kernelspec"]["name"] == "drawkit"
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        declared = papermill.inspect_notebook(str(path))
        assert tuple(declared) == ("job",), name
        assert all(p["help"] for p in declared.values()), f"{name}: a parameter without help"
        assert not re.search(r"api_key|secret\s*:", tagged[0].source, re.IGNORECASE), name


def test_scratch_output_stays_out_of_the_notebooks_folder(tmp_path, monkeypatch) -> None:
    from drawkit.reports.notebook import project_root, scratch_job

    (tmp_path / "drawkit" / "notebooks").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "drawkit" / "notebooks")
    assert project_root() == tmp_path.resolve()
    job = scratch_job(project_root() / "workspace")
    assert job.scratch and job.workspace == tmp_path.resolve() / "workspace" / "scratch"
    assert job.source.recharges.is_file()
