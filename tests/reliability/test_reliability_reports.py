"""The report notebooks against a faulty PostHog: retries absorb the faults, and neither an
API key nor a full phone number reaches an executed notebook or its HTML."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from drawkit.errors import ReportError
from drawkit.offline.posthog_emulator import EmulatorServer
from drawkit.posthog import PostHogClient
from drawkit.posthog.upload import upload_synth
from drawkit.reports import run_reports
from drawkit.reports.steps import PARTICIPANTS_FILE, WINNERS_FILE
from drawkit.synth import generate

pytestmark = pytest.mark.reliability

DRAW_DATE = date(2026, 11, 24)


def spellings(e164: str) -> set[str]:
    national = e164[4:]
    return {e164, "0" + national, national}


def test_reports_against_faulty_posthog_leak_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reliability,  # noqa: ANN001
) -> None:
    data = generate(subscribers=150, days=2, end_date=DRAW_DATE, seed=5)
    with EmulatorServer(calculation_seconds=0.0) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        upload_synth(PostHogClient.from_env(), data)
        uploaded = len(server.request_log)
        server.faults.update(
            error_rate=0.2,
            rate_limit_rate=0.1,
            retry_after=0,
            seed=3,
            script=[503, 429, "drop", 503],
        )
        params = {
            "draw_date": DRAW_DATE.isoformat(),
            "source": "posthog",
            "ledger_dir": str(tmp_path / "ledger"),
            "beacon": "be" * 32,
            "simulations": 50,
            "history_days": 1,
        }
        try:
            run = run_reports(params, tmp_path / "reports", full_copy=True, progress_bar=False)
        except ReportError as exc:  # faults outlasted the retries: a clear error is fine
            message = str(exc)
            assert server.api_key not in message and server.project_api_key not in message
            pytest.fail(f"the reports did not absorb 20% faults: {message[:300]}")
        faults = sum(1 for e in server.request_log if e["fault"] is not None)
        requests = sum(1 for e in server.request_log if e["fault"] != "drop") - uploaded
        secrets = (server.api_key, server.project_api_key)
    files = [*run.executed, *run.html, *run.full_html, run.index]
    private = run.output_dir / "private"
    numbers = set(pd.read_csv(private / PARTICIPANTS_FILE, dtype={"msisdn": str})["msisdn"])
    numbers |= set(pd.read_csv(private / WINNERS_FILE, dtype={"msisdn": str})["msisdn"])
    assert numbers and faults
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not [s for s in secrets if s in text], f"an API key in {path.name}"
        leaked = [n for n in numbers if any(s in text for s in spellings(n))]
        assert not leaked, f"{len(leaked)} full number(s) in {path.name}"
        if path.suffix == ".ipynb":
            meta = json.loads(text).get("metadata", {}).get("papermill", {})
            assert "api_key" not in json.dumps(meta).lower()
    reliability.add(
        "security: reports",
        "01 cohort, 02 draw, 03 audit executed with papermill against the emulator with "
        f"a 503, 429, dropped connection, 503, then 20% 503 and 10% 429 ({faults} faults "
        f"in {requests + faults} requests); executed notebooks, auditor and full HTML, index",
        len(files),
        f"reports complete; neither API key nor any of {len(numbers)} participant numbers "
        "(E.164, 0-form, 10-digit) in any file; no key in papermill parameters",
    )
