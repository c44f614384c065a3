"""The rules that protect the draw hold whichever door is used: the same input gives the
same answer from the CLI and from the report notebooks (which call drawkit.app)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from drawkit.app import DrawJob, Runtime, SourceSpec, commit, freeze_cohort
from drawkit.cli import main
from drawkit.errors import ReportError
from drawkit.reports import NotebookRunner
from drawkit.synth import generate, write_synth

pytestmark = pytest.mark.notebook

DAY = date(2026, 11, 24)
SECRET = "ab" * 32
FAST = "[beacon]\ncommit_margin_seconds = 1\n"


@pytest.fixture
def world(tmp_path, drand_env, monkeypatch):
    """Synthetic data, a fast-margin config, a workspace; the local test chain; a secret."""
    write_synth(generate(subscribers=120, days=2, end_date=DAY, seed=3), tmp_path / "data")
    (tmp_path / "promo.toml").write_text(FAST)
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", SECRET)
    return tmp_path


def cli_args(world: Path, *extra: str) -> list[str]:
    return ["--date", DAY.isoformat(), "--recharges", str(world / "data" / "recharges.csv"),
            "--config", str(world / "promo.toml"), "--workspace", str(world / "ws"), *extra]


def job(world: Path, **fields) -> DrawJob:
    source = SourceSpec("local", recharges=world / "data" / "recharges.csv")
    return DrawJob(DAY, source=source, config_path=world / "promo.toml",
                   workspace=world / "ws", **fields).absolute()


def cli_error(capsys, command: str, world: Path, *extra: str) -> str:
    """Run a CLI command that must fail; its error text."""
    capsys.readouterr()
    assert main([command, *cli_args(world, *extra)]) == 2
    return capsys.readouterr().err


def notebook_error(name: str, the_job: DrawJob, **env: str) -> str:
    """Run one report notebook that must fail; its error text."""
    runner = NotebookRunner({**os.environ, **env}, progress_bar=False)
    with pytest.raises(ReportError) as caught:
        runner(name, the_job)
    return str(caught.value)


def committed_now(world: Path, **fields) -> DrawJob:
    """Freeze and commit through the application layer (as both doors do)."""
    the_job = job(world, **fields)
    commit(the_job, Runtime.from_env())
    return the_job


# ------------------------------------------------------------------ rules of issue 11


def test_the_secret_rule_is_the_same_in_both_doors(world, capsys, monkeypatch) -> None:
    short = "ab" * 8 + "cd" * 7  # 15 bytes
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", short)
    cli = cli_error(capsys, "commit", world)
    notebook = notebook_error("02_draw_run", job(world, scratch=True), DRAWKIT_DRAW_SECRET=short)
    for text in (cli, notebook):
        assert "too short (15 bytes)" in text and "at least 16" in text
        assert short not in text


def test_the_frozen_cohort_guard_is_the_same_in_both_doors(world, capsys) -> None:
    first = job(world)
    freeze_cohort(first, Runtime.from_env())
    frame = pd.read_csv(world / "data" / "recharges.csv", dtype=str)
    frame.iloc[: len(frame) // 2].to_csv(world / "data" / "recharges.csv", index=False)
    cli = cli_error(capsys, "cohort", world)
    notebook = notebook_error("01_daily_cohort", first)
    for text in (cli, notebook):
        assert "was frozen at" in text and "not committed yet" in text
    commit(first, Runtime.from_env())  # once committed, even an explicit replace is refused
    refused = notebook_error("01_daily_cohort", job(world, replace_cohort=True))
    assert "its cohort never changes" in refused
    assert "its cohort never changes" in cli_error(capsys, "cohort", world, "--replace-cohort")


def test_the_source_choice_is_the_same_in_both_doors(world, capsys, monkeypatch) -> None:
    for name in ("POSTHOG_API_KEY", "POSTHOG_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    capsys.readouterr()
    assert main(["cohort", "--date", DAY.isoformat(), "--source", "posthog",
                 "--workspace", str(world / "ws")]) == 2
    cli = capsys.readouterr().err
    notebook = notebook_error(
        "01_daily_cohort",
        DrawJob(DAY, source=SourceSpec("posthog"), workspace=world / "ws").absolute(),
        POSTHOG_API_KEY="", POSTHOG_PROJECT_ID="",
    )
    for text in (cli, notebook):
        assert "POSTHOG_API_KEY is not set" in text


def test_beacon_parsing_is_the_same_in_both_doors(world, capsys) -> None:
    the_job = committed_now(world)
    for bad, message in (("zz", "must be hexadecimal"), ("", "is empty"),
                         ("ab" * 8, "has 8 bytes")):
        cli = cli_error(capsys, "draw", world, "--beacon", bad)
        notebook = notebook_error("02_draw_run", DrawJob.from_dict(
            {**_fields(the_job), "beacon_value": bad}))
        assert message in cli and message in notebook, (bad, cli, notebook)


def _fields(the_job: DrawJob) -> dict:
    import json

    return json.loads(the_job.to_json())


# ------------------------------------------------------------------ the randomness protocol


def test_grinding_after_a_secret_only_commitment_is_refused(world, capsys, drand_chain) -> None:
    """Commit to the secret alone, then try to mix in a beacon chosen afterwards."""
    capsys.readouterr()
    assert main(["commit", *cli_args(world, "--operator-randomness")]) == 0
    assert "operator-chosen randomness" in capsys.readouterr().out
    signature = drand_chain.sign(drand_chain.current_round()).hex()
    cli = cli_error(capsys, "draw", world, "--beacon-signature", signature)
    the_job = job(world, beacon_signature=signature)
    notebook = notebook_error("02_draw_run", the_job)
    for text in (cli, notebook):
        assert "committed to no beacon round, so no beacon is used" in text


def test_a_round_already_published_is_refused_at_commit(world, capsys, drand_chain) -> None:
    published = drand_chain.current_round()
    cli = cli_error(capsys, "commit", world, "--beacon-round", str(published))
    from drawkit.reports import run_report

    with pytest.raises(Exception, match="may already be known") as caught:
        run_report(job(world, beacon_round=published), Runtime.from_env(), progress_bar=False)
    for text in (cli, str(caught.value)):
        assert f"beacon round {published}" in text and "may already be known" in text


def test_a_round_far_in_the_future_is_refused(world, capsys, drand_chain) -> None:
    far = drand_chain.current_round() + 3 * 24 * 3600  # three days of one-second rounds
    assert "hours ahead" in cli_error(capsys, "commit", world, "--beacon-round", str(far))


def test_a_draw_before_its_round_is_published_is_refused(world, capsys) -> None:
    (world / "promo.toml").write_text("[beacon]\ncommit_margin_seconds = 30\n")
    the_job = committed_now(world)
    cli = cli_error(capsys, "draw", world)
    notebook = notebook_error("02_draw_run", the_job)
    for text in (cli, notebook):
        assert "the draw runs once it exists" in text


def test_a_signature_for_another_round_or_forged_is_refused(world, capsys, drand_chain) -> None:
    import time

    the_job = committed_now(world)
    round_number = the_job_round(the_job)
    while drand_chain.current_round() < round_number:
        time.sleep(0.2)
    other = drand_chain.sign(round_number + 1).hex()
    forged = bytearray(drand_chain.sign(round_number))
    forged[10] ^= 0x01
    cases = ((other, f"does not verify for round {round_number}"), (forged.hex(), "signature"))
    for signature, message in cases:
        cli = cli_error(capsys, "draw", world, "--beacon-signature", signature)
        notebook = notebook_error("02_draw_run", DrawJob.from_dict(
            {**_fields(the_job), "beacon_signature": signature}))
        for text in (cli, notebook):
            assert message in text, text


def test_the_genuine_round_draws_in_both_doors(world, capsys) -> None:
    """The honest path works: the CLI draws once the round exists; the notebook reuses it."""
    committed_now(world)
    capsys.readouterr()
    assert main(["draw", *cli_args(world, "--wait")]) == 0
    assert "local test chain — not public randomness" in capsys.readouterr().out
    runner = NotebookRunner(dict(os.environ), progress_bar=False)
    executed = runner("02_draw_run", job(world))
    assert "already drawn" in executed.read_text()


def the_job_round(the_job: DrawJob) -> int:
    from drawkit.app import committed

    commitment = committed(the_job)
    assert commitment is not None and commitment.beacon_round is not None
    assert datetime.fromisoformat(commitment.committed_at) <= datetime.now(UTC)
    return commitment.beacon_round
