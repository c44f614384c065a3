"""`drawkit emulator` as a real process: prints where it listens, never the keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import requests

from drawkit.cli import main


def _ignore_sigint() -> None:  # what a non-interactive shell does to a background job
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(
    *args: str, env: dict[str, str], background: bool = False
) -> tuple[subprocess.Popen, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "drawkit", "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_ignore_sigint if background else None,  # noqa: PLW1509
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("# faults"):
            return process, lines
    process.kill()
    raise AssertionError(f"emulator did not start: {lines} {process.stderr.read()}")


def test_cli_serves_synth_data_and_never_prints_keys(tmp_path):
    env = {
        **os.environ,
        "POSTHOG_API_KEY": "phx_cli_test_secret_1234",
        "POSTHOG_PROJECT_API_KEY": "phc_cli_test_secret_5678",
        "POSTHOG_PROJECT_ID": "42",
    }
    process, lines = _start(
        "--synth-subscribers", "40", "--synth-days", "2", "--synth-end-date", "2026-11-20",
        env=env,
    )  # fmt: skip
    try:
        output = "".join(lines)
        url = next(line.split("=", 1)[1].strip() for line in lines if "POSTHOG_BASE_URL=" in line)
        assert "export POSTHOG_PROJECT_ID=42" in output
        assert "from the environment" in output
        assert "secret" not in output
        headers = {"Authorization": "Bearer phx_cli_test_secret_1234"}
        project = requests.get(f"{url}/api/projects/42/", headers=headers, timeout=5)
        assert project.status_code == 200
        persons = requests.get(f"{url}/api/projects/42/persons/?include_total", headers=headers,
                               timeout=5)  # fmt: skip
        assert persons.json()["count"] == 40  # the cloud profile: a count only when asked
        assert "profile cloud" in output
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert "secret" not in process.stderr.read()


def test_cli_without_keys_names_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_PROJECT_API_KEY", raising=False)
    assert main(["emulator", "--port", "0"]) == 2
    assert "POSTHOG_API_KEY is not set" in capsys.readouterr().err


def test_cli_rejects_a_bad_switch_value(monkeypatch, capsys):
    monkeypatch.setenv("POSTHOG_API_KEY", "phx_x")
    monkeypatch.setenv("POSTHOG_PROJECT_API_KEY", "phc_x")
    assert main(["emulator", "--port", "0", "--ingestion-lag", "-1"]) == 2
    assert "ingestion_lag_seconds must not be negative" in capsys.readouterr().err


def test_cli_help_names_every_switch(capsys):
    from dataclasses import fields

    from drawkit.offline.posthog_emulator.behaviours import Behaviours

    with pytest.raises(SystemExit):
        main(["emulator", "--help"])
    text = capsys.readouterr().out
    assert "--profile {cloud,ideal,old-self-hosted}" in text
    for spec in fields(Behaviours):
        assert "--" + spec.name.replace("_", "-") in text


def test_cli_switches_and_profile_reach_the_server(monkeypatch):
    from drawkit.cli import build_parser
    from drawkit.cli.emulator import build_server

    monkeypatch.setenv("POSTHOG_API_KEY", "phx_x")
    monkeypatch.setenv("POSTHOG_PROJECT_API_KEY", "phc_x")
    args = build_parser().parse_args(
        ["emulator", "--ingestion-lag", "2.5", "--no-query-cache", "--hogql-rate-limit", "7"]
    )
    server = build_server(args)
    try:
        b = server.behaviours
        assert b.ingestion_lag_seconds == 2.5 and b.query_cache is False
        assert b.hogql_rate_limit == 7 and b.persons_on_events is True  # the rest: cloud
    finally:
        server.close()
    ideal = build_server(build_parser().parse_args(["emulator", "--profile", "ideal"]))
    try:
        assert ideal.behaviours.persons_on_events is False
    finally:
        ideal.close()


def test_cli_rejects_a_bad_fault_rate(monkeypatch, capsys):
    monkeypatch.setenv("POSTHOG_API_KEY", "phx_x")
    monkeypatch.setenv("POSTHOG_PROJECT_API_KEY", "phc_x")
    assert main(["emulator", "--port", "0", "--error-rate", "1.5"]) == 2
    assert "error_rate must be between 0 and 1" in capsys.readouterr().err


def test_cli_loads_exported_files(tmp_path, synth_data):
    from drawkit.synth import write_synth

    write_synth(synth_data, tmp_path, fmt="csv")
    env = {**os.environ, "POSTHOG_API_KEY": "phx_k1", "POSTHOG_PROJECT_API_KEY": "phc_k2"}
    env.pop("POSTHOG_PROJECT_ID", None)
    kept = tmp_path / "private" / "not-sent.csv"
    process, lines = _start("--load", str(tmp_path), "--scopes", "query:read",
                            "--not-sent-out", str(kept), env=env)
    try:
        loaded = next(line for line in lines if line.startswith("loaded"))
        unsent = pd.read_csv(kept, dtype=str, keep_default_na=False)
        assert len(unsent) > 0 and kept.stat().st_mode & 0o777 == 0o600
        assert f"{len(unsent):,} row(s) could not be sent; kept in {kept}" in "".join(lines)
        assert set(unsent["transaction_id"]) <= set(synth_data.recharges["transaction_id"])
        events = int(loaded.split(" rows read; ")[1].split(" recharge events")[0])
        url = next(line.split("=", 1)[1].strip() for line in lines if "POSTHOG_BASE_URL=" in line)
        headers = {"Authorization": "Bearer phx_k1"}
        text = "SELECT count(), count(DISTINCT properties.transaction_id) FROM events"
        body = {"query": {"kind": "HogQLQuery", "query": text}, "refresh": "force_blocking"}
        answer = requests.post(
            f"{url}/api/environments/1/query/", json=body, headers=headers, timeout=5
        )
        stored, distinct = answer.json()["results"][0]
        assert 0 < distinct <= stored <= events  # each transaction present; duplicates collapse
        denied = requests.get(f"{url}/api/projects/1/cohorts/", headers=headers, timeout=5)
        assert denied.status_code == 403
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_cli_stops_on_sigint_or_sigterm_even_as_a_background_job(stop):
    env = {**os.environ, "POSTHOG_API_KEY": "phx_k1", "POSTHOG_PROJECT_API_KEY": "phc_k2"}
    process, _ = _start(env=env, background=True)
    process.send_signal(stop)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"the emulator ignored {stop.name}") from None
    # stopped while serving (0) or while still printing its banner (130, "interrupted")
    assert process.returncode in (0, 130)
    assert "Traceback" not in process.stderr.read()
