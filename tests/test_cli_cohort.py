"""`drawkit synth` and `drawkit cohort` end to end on local files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from drawkit.cli import main
from drawkit.config import PromotionConfig
from drawkit.eligibility import apply_rules
from drawkit.sources.local import read_blacklist, read_participants, read_recharges

FULL_NUMBER = re.compile(r"(?:\+?234|0)[789][01]\d{8}")
DRAW_ID = "drawkit-demo-promotion-2026-11-27"


def frozen(workspace: Path) -> tuple[Path, dict]:
    """The frozen cohort's folder in a workspace and its cohort.json."""
    folder = workspace / "private" / DRAW_ID
    return folder, json.loads((folder / "cohort.json").read_text())


@pytest.fixture
def synth_dir(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    code = main(
        [
            "synth",
            "--subscribers",
            "300",
            "--days",
            "2",
            "--end-date",
            "2026-11-27",
            "--seed",
            "5",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_synth_writes_files(synth_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert (synth_dir / "recharges.csv").is_file() and (synth_dir / "blacklist.csv").is_file()
    assert len(read_recharges(synth_dir / "recharges.csv")) > 300


def test_synth_parquet(tmp_path: Path) -> None:
    assert (
        main(
            [
                "synth",
                "--subscribers",
                "50",
                "--end-date",
                "2026-11-27",
                "--out",
                str(tmp_path),
                "--format",
                "parquet",
            ]
        )
        == 0
    )
    assert len(read_recharges(tmp_path / "recharges.parquet")) > 20


def test_cohort_local(synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cohort"
    capsys.readouterr()
    code = main(
        [
            "cohort",
            "--date",
            "2026-11-27",
            "--recharges",
            str(synth_dir / "recharges.csv"),
            "--blacklist",
            str(synth_dir / "blacklist.csv"),
            "--workspace",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "participants" in printed and "rejected" in printed
    assert not FULL_NUMBER.search(printed)
    expected = apply_rules(
        read_recharges(synth_dir / "recharges.csv"),
        PromotionConfig(),
        date(2026, 11, 27),
        read_blacklist(synth_dir / "blacklist.csv"),
    )
    folder, meta = frozen(out)
    participants = read_participants(folder / "participants.csv")
    pd.testing.assert_frame_equal(participants, expected.participants)
    summary = meta["summary"]
    assert summary["rows_in"] == expected.summary.rows_in
    assert summary["participants"] == len(participants)
    assert meta["source"] == "local" and summary["draw_date"] == "2026-11-27"
    rejected = pd.read_csv(folder / "rejected.csv", dtype=str)
    assert len(rejected) == sum(summary["rows_rejected"].values())
    assert not rejected["msisdn"].fillna("").str.fullmatch(FULL_NUMBER).any()


def test_cohort_with_config(synth_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "promo.toml"
    config.write_text('[points]\nmode = "summed"\nentry_cap = 3\n', encoding="utf-8")
    out = tmp_path / "cohort"
    assert (
        main(
            [
                "cohort",
                "--date",
                "2026-11-27",
                "--recharges",
                str(synth_dir / "recharges.csv"),
                "--config",
                str(config),
                "--workspace",
                str(out),
            ]
        )
        == 0
    )
    folder, meta = frozen(out)
    summary = meta["summary"]
    assert summary["points_mode"] == "summed" and summary["entry_cap"] == 3
    assert read_participants(folder / "participants.csv")["entries"].max() <= 3


def test_cohort_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["cohort", "--date", "2026-11-27", "--workspace", str(tmp_path)]) == 2
    assert "--recharges" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("transaction_id,phone,amount_ngn,timestamp\n", encoding="utf-8")
    assert (
        main(["cohort", "--date", "2026-11-27", "--recharges", str(bad),
              "--workspace", str(tmp_path)])
        == 2
    )
    err = capsys.readouterr().err
    assert "msisdn" in err and "bad.csv" in err
    bad.write_text("transaction_id,msisdn,amount_ngn,timestamp,MSISDN\n", encoding="utf-8")
    assert main(["cohort", "--date", "2026-11-27", "--recharges", str(bad),
                 "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'MSISDN' appears twice" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["cohort", "--date", "27/11/2026", "--workspace", str(tmp_path)])


def test_posthog_source_without_settings_names_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("POSTHOG_API_KEY", "POSTHOG_PROJECT_ID", "POSTHOG_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert (
        main(["cohort", "--source", "posthog", "--date", "2026-11-27",
              "--workspace", str(tmp_path)]) == 2
    )
    assert "POSTHOG_API_KEY" in capsys.readouterr().err


def test_module_entry_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "drawkit",
            "synth",
            "--subscribers",
            "20",
            "--end-date",
            "2026-11-27",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "recharges" in done.stdout


def test_synth_in_chunks_writes_the_same_kind_of_files(tmp_path: Path) -> None:
    """`drawkit synth --chunk-subscribers` streams chunks to disk (100 M-row data sets)."""
    out = tmp_path / "streamed"
    assert main(["synth", "--subscribers", "900", "--days", "2", "--end-date", "2026-11-27",
                 "--out", str(out), "--format", "parquet", "--chunk-subscribers", "300"]) == 0
    recharges = read_recharges(out / "recharges.parquet")
    assert len(recharges) > 900
    assert recharges["msisdn"].nunique() > 600  # the chunks hold different subscribers
    assert (out / "blacklist.csv").is_file()


def test_not_sent_is_for_the_posthog_source_and_must_exist(
    synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["cohort", "--date", "2026-11-27", "--workspace", str(tmp_path)]
    assert main([*base, "--recharges", str(synth_dir / "recharges.csv"),
                 "--not-sent", str(tmp_path / "x.csv")]) == 2
    assert "--not-sent is for --source posthog only" in capsys.readouterr().err
    assert main([*base, "--source", "posthog", "--not-sent", str(tmp_path / "x.csv")]) == 2
    assert f"--not-sent {tmp_path / 'x.csv'}: no such file" in capsys.readouterr().err
