"""`drawkit doctor` against the emulator: each failure is named with a plain fix."""

from __future__ import annotations

import pytest

from drawkit.cli import main
from drawkit.offline.posthog_emulator.server import EmulatorServer
from drawkit.posthog import REQUIRED_SCOPES
from drawkit.posthog.doctor import run_checks

EMULATOR_PROFILE = "cloud"  # tests/integration/conftest.py: PostHog Cloud's behaviours


def _by_name(checks):
    return {c.name: c for c in checks}


def test_all_checks_pass_and_the_cli_exits_0(emulator, capsys):
    checks = run_checks(emulator.env())
    assert [c.name for c in checks if not c.ok] == []
    names = {c.name for c in checks}
    assert {f"scope {s}" for s in REQUIRED_SCOPES} <= names
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out and "[  ok] scope cohort:write" in out
    assert emulator.api_key not in out and emulator.project_api_key not in out
    emulator.ingest_pending()
    events = emulator.store.events
    assert (events["event"] == "drawkit_doctor").sum() == 2  # the capture probe


@pytest.mark.parametrize(
    ("change", "failed", "fix"),
    [
        ({"POSTHOG_PROJECT_ID": ""}, "POSTHOG_PROJECT_ID", "numeric project id"),
        ({"POSTHOG_PROJECT_ID": "abc"}, "POSTHOG_PROJECT_ID", "numeric id"),
        ({"POSTHOG_API_KEY": ""}, "POSTHOG_API_KEY", "personal API key"),
        ({"POSTHOG_API_KEY": "phc_projectkey_12345"}, "POSTHOG_API_KEY", "phx_"),
        ({"POSTHOG_BASE_URL": "http://posthog.example.com"}, "POSTHOG_BASE_URL", "https"),
        ({"POSTHOG_PROJECT_API_KEY": "phx_personal_1234567"}, "POSTHOG_PROJECT_API_KEY", "phc_"),
    ],
)
def test_bad_settings_are_named(emulator, monkeypatch, capsys, change, failed, fix):
    for name, value in change.items():
        monkeypatch.setenv(name, value)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert any(x.startswith(f"[FAIL] {failed}:") for x in out.splitlines())
    assert fix in out
    assert "check(s) failed" in out


def test_rejected_key_and_unknown_project(emulator):
    bad_key = _by_name(run_checks({**emulator.env(), "POSTHOG_API_KEY": "phx_wrong_0123456789"}))
    assert bad_key["key accepted"].ok is False
    assert "POSTHOG_API_KEY was rejected (401)" in bad_key["key accepted"].detail
    assert bad_key["scope query:read"].ok is None  # skipped, not failed twice
    assert bad_key["capture (project API key)"].ok is True

    missing = _by_name(run_checks({**emulator.env(), "POSTHOG_PROJECT_ID": "999"}))
    assert missing["key accepted"].ok is True
    assert missing["project found"].ok is False
    assert missing["project found"].detail == (
        f"project 999 not found at {emulator.url}: check POSTHOG_PROJECT_ID"
    )


def test_missing_scope_is_named_with_its_fix():
    scopes = ["project:read", "query:read", "cohort:read", "person:read"]
    with EmulatorServer(scopes=scopes) as server:
        checks = _by_name(run_checks(server.env()))
    assert checks["scope cohort:write"].ok is False
    assert "give POSTHOG_API_KEY the scope 'cohort:write'" in checks["scope cohort:write"].fix
    assert all(checks[f"scope {s}"].ok for s in scopes)


def test_wrong_project_key_fails_capture_only(emulator):
    checks = _by_name(
        run_checks({**emulator.env(), "POSTHOG_PROJECT_API_KEY": "phc_not_this_project_1"})
    )
    capture = checks["capture (project API key)"]
    assert capture.ok is False
    assert "POSTHOG_PROJECT_API_KEY was rejected (401)" in capture.detail
    assert [n for n, c in checks.items() if c.ok is False] == ["capture (project API key)"]
