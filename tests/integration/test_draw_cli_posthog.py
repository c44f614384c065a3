"""The draw commands with PostHog as the source: cohort from HogQL, monitoring events,
publishing back, all over HTTP against the emulator."""

from __future__ import annotations

from drawkit.cli import main
from drawkit.config import SECRET_ENV as DEFAULT_SECRET_ENV
from drawkit.draw import Ledger

DRAW_DATE = "2026-11-21"  # the day after the synth data ends: its daily window is the last day


def _events(server, name: str):
    events = server.store.events
    return events[events["event"] == name]


def test_commit_draw_publish_from_posthog_track_each_step(
    emulator_with_synth, tmp_path, capsys, monkeypatch, drand_env
):
    server = emulator_with_synth
    ledger = str(tmp_path / "ledger")
    monkeypatch.setenv(DEFAULT_SECRET_ENV, "ab" * 16)
    config = tmp_path / "promo.toml"
    config.write_text("[beacon]\ncommit_margin_seconds = 1\n")
    common = ["--date", DRAW_DATE, "--source", "posthog", "--ledger", ledger,
              "--config", str(config)]
    assert main(["commit", *common]) == 0
    assert main(["draw", *common, "--wait"]) == 0
    record = Ledger(ledger).records()[-1]
    assert len(_events(server, "drawkit_draw_committed")) == 1
    completed = _events(server, "drawkit_draw_completed")
    assert completed["properties"].map(lambda p: p["record_hash"]).tolist() == [
        record.record_hash
    ]

    assert main(["publish", record.draw_id, "--ledger", ledger, "--source", "posthog"]) == 0
    assert main(["publish", record.draw_id, "--ledger", ledger, "--source", "posthog"]) == 0
    winners = _events(server, "draw_winner")
    assert len(winners) == len(record.winners)
    assert "0 event(s) sent" in capsys.readouterr().out
