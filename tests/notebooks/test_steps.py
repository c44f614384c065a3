"""The notebooks' steps without a kernel: parameters, tables, private files (fast)."""

from __future__ import annotations

import json
import re
import stat
from datetime import date

import numpy as np
import pandas as pd
import pytest

from drawkit.config import PromotionConfig
from drawkit.draw import run_draw
from drawkit.eligibility import apply_rules
from drawkit.errors import ConfigError, ReportError
from drawkit.reports import ReportParams, steps

FULL_NUMBER = re.compile(r"(?<!\d)(\+?234|0)[789][01]\d{8}(?!\d)")


def params_for(tmp_path, **extra) -> ReportParams:
    values = {
        "draw_date": "2026-11-24",
        "source": "local",
        "recharges": str(tmp_path / "r.csv"),
        "ledger_dir": str(tmp_path / "ledger"),
        "output_dir": str(tmp_path / "out"),
        "beacon": "ab" * 32,
    }
    return ReportParams.from_values(**(values | extra))


def test_parameters_are_checked(tmp_path) -> None:
    params = params_for(tmp_path)
    assert params.draw_date == date(2026, 11, 24) and params.beacon == bytes.fromhex("ab" * 32)
    assert params.ledger_dir.is_absolute() and params.beacon_round is None
    assert params.draw_id == "drawkit-demo-promotion-2026-11-24"
    with pytest.raises(ReportError, match="api_key"):
        params_for(tmp_path, api_key="x")
    with pytest.raises(ConfigError, match="recharges"):
        params_for(tmp_path, recharges="")
    assert params_for(tmp_path, source="posthog", recharges="").source == "posthog"
    with pytest.raises(ConfigError, match="beacon"):
        params_for(tmp_path, beacon="not hex")
    with pytest.raises(ConfigError, match="source"):
        params_for(tmp_path, source="ftp")
    with pytest.raises(ConfigError, match="simulations"):
        params_for(tmp_path, simulations=0)


def test_table_renders_html_with_headers_and_formatted_numbers() -> None:
    frame = pd.DataFrame({"name": ["a", "b"], "rows": [1234567, 2], "ok": [True, False]})
    html = steps.table(frame, caption="Caption").to_html()
    assert len(re.findall(r"<th[ >]", html)) == 3 and "1,234,567" in html and "Caption" in html
    assert ">yes<" in html and ">no<" in html
    assert "row_heading" not in html  # no index column


def test_cohort_steps_account_for_every_row(tmp_path) -> None:
    recharges = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t2", "t3", "t4"],
            "msisdn": ["08031234567", "+2348031234567", "+2348031234567", "12", "08051234567"],
            "amount_ngn": ["250", "100", "100", "100", "abc"],
            "timestamp": ["2026-11-23T10:00:00+01:00"] * 5,
        }
    )
    result = apply_rules(recharges, PromotionConfig(), date(2026, 11, 24))
    outcomes = steps.row_outcomes(result.summary)
    assert outcomes["rows"].sum() == len(recharges)
    figures = steps.key_figures(result.summary)
    assert "yes" in figures.loc[figures["figure"] == "Every row accounted for", "value"].tolist()
    stats = steps.points_distribution(result.participants)
    assert stats.loc[stats["statistic"] == "maximum", "entries"].item() == "3"
    params = params_for(tmp_path)
    paths = steps.write_cohort(params, result)
    assert stat.S_IMODE(paths["participants"].stat().st_mode) == 0o600
    summary = json.loads(paths["summary"].read_text())
    assert summary["participants"] == 1 and not FULL_NUMBER.search(paths["summary"].read_text())


def test_draw_steps_mask_numbers_and_protect_private_files(tmp_path) -> None:
    n = 60
    participants = pd.DataFrame(
        {"msisdn": [f"+23481{i:08d}" for i in range(n)], "entries": np.arange(1, n + 1)}
    )
    params = params_for(tmp_path)
    record = run_draw(
        participants,
        params.config,
        params.draw_date,
        ledger_dir=params.ledger_dir,
        beacon=params.beacon,
    )
    prizes = steps.prize_table(record)
    assert prizes["draw order"].tolist() == list(range(1, len(record.winners) + 1))
    assert not FULL_NUMBER.search(prizes.to_string())
    assert all(re.fullmatch(r"0\d{3}\*{4}\d{3}", m) for m in prizes["number"])
    paths = steps.write_draw_outputs(params, record)
    for key in ("winners export", "private record"):
        assert stat.S_IMODE(paths[key].stat().st_mode) == 0o600
    assert not FULL_NUMBER.search(paths["public record"].read_text())
    assert FULL_NUMBER.search(paths["winners export"].read_text())
    files = steps.files_table(paths, params)
    assert (
        files.loc[files["file"] == "winners export", "permissions"].item().endswith("(owner only)")
    )


def test_load_cohort_names_the_missing_notebook(tmp_path) -> None:
    with pytest.raises(ReportError, match="01_daily_cohort"):
        steps.load_cohort(params_for(tmp_path))


def test_report_command_fails_fast_without_posthog_settings(tmp_path, monkeypatch, capsys) -> None:
    from drawkit.cli import main

    for name in ("POSTHOG_API_KEY", "POSTHOG_PROJECT_ID", "POSTHOG_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    code = main(["report", "--date", "2026-11-24", "--source", "posthog", "--out", str(tmp_path)])
    assert code == 2
    assert "POSTHOG_API_KEY" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no kernel ran, nothing written


def test_committed_notebooks_have_no_outputs_and_the_shared_parameters() -> None:
    import nbformat
    import papermill

    from drawkit.reports import NOTEBOOKS, PARAMETER_NAMES
    from drawkit.reports.run import NOTEBOOKS_DIR

    for name in NOTEBOOKS:
        path = NOTEBOOKS_DIR / f"{name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        assert notebook.metadata["kernelspec"]["name"] == "drawkit"
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        declared = papermill.inspect_notebook(str(path))
        assert tuple(declared) == PARAMETER_NAMES, name
        assert all(p["help"] for p in declared.values()), f"{name}: a parameter without help"
        assert not re.search(r"api_key|secret\s*:", tagged[0].source, re.IGNORECASE), name


def test_default_folders_stay_out_of_the_notebooks_folder(tmp_path, monkeypatch) -> None:
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    params = ReportParams.from_values(draw_date="2026-11-24", source="posthog")
    assert params.output_dir == tmp_path.resolve() / "reports" / "2026-11-24"
    assert params.ledger_dir == tmp_path.resolve() / "ledger"
