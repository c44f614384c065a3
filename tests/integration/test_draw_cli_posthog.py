"""The draw commands with PostHog as the source: cohort from HogQL, monitoring events,
publishing back, all over HTTP against the emulator."""

from __future__ import annotations

import pandas as pd

from drawkit.cli import main
from drawkit.config import SECRET_ENV as DEFAULT_SECRET_ENV
from drawkit.draw import DrawRecord, Ledger

DRAW_DATE = "2026-11-21"  # the day after the synth data ends: its daily window is the last day


def _events(server, name: str):
    events = server.store.events
    return events[events["event"] == name]


def _commit_and_draw(tmp_path, monkeypatch) -> tuple[str, DrawRecord]:
    """drawkit commit then draw --wait with PostHog as the source; the ledger and record."""
    ledger = str(tmp_path / "ledger")
    monkeypatch.setenv(DEFAULT_SECRET_ENV, "ab" * 16)
    config = tmp_path / "promo.toml"
    config.write_text("[beacon]\ncommit_margin_seconds = 1\n")
    common = ["--date", DRAW_DATE, "--source", "posthog", "--ledger", ledger,
              "--config", str(config)]
    assert main(["commit", *common]) == 0
    assert main(["draw", *common, "--wait"]) == 0
    return ledger, Ledger(ledger).records()[-1]


def test_commit_draw_publish_from_posthog_track_each_step(
    emulator_with_synth, tmp_path, capsys, monkeypatch, drand_env
):
    server = emulator_with_synth
    ledger, record = _commit_and_draw(tmp_path, monkeypatch)
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


def test_draw_events_reach_posthog_as_signed_events_of_their_own_once(
    emulator_with_synth, tmp_path, capsys, monkeypatch, drand_env
):
    """draw-event then publish: PostHog gets one draw_event per ledger event, on the
    person it concerns, signed; a repeated publish sends nothing; the reconciliation reads
    them back over HogQL."""
    from drawkit.audit import reconcile
    from drawkit.contract import DRAWKIT_DISTINCT_ID, ResultEvent, verify_event
    from drawkit.posthog.client import PostHogClient
    from drawkit.sources.posthog import PostHogDataSource

    server = emulator_with_synth
    ledger, record = _commit_and_draw(tmp_path, monkeypatch)
    publish = ["publish", record.draw_id, "--ledger", ledger, "--source", "posthog"]
    assert main(publish) == 0
    tier = record.prizes[0].name
    for kind, position in (("unreachable", 1), ("claimed", 2)):
        if len(record.winners_of(tier)) >= position:
            assert main(["draw-event", record.draw_id, kind, "--tier", tier, "--position",
                         str(position), "--ledger", ledger]) == 0
    entries = Ledger(ledger).events(record.draw_id)
    capsys.readouterr()
    assert main(publish) == 0
    assert f"{len(entries)} event(s) sent" in capsys.readouterr().out
    assert main(publish) == 0
    assert "0 event(s) sent" in capsys.readouterr().out

    sent = _events(server, "draw_event")
    assert len(sent) == len(entries) and sent["uuid"].is_unique
    kinds = sent["properties"].map(lambda p: p["kind"]).tolist()
    assert sorted(kinds) == sorted(e["event"] for e in entries)
    promoted = sent[sent["properties"].map(lambda p: p["kind"] == "promoted")].iloc[0]
    reserve = record.winners_of(tier, "reserve")[0]
    assert promoted["distinct_id"] == reserve.msisdn
    assert "$process_person_profile" not in promoted["properties"]
    key = record.commitment.result_public_key
    for _, row in sent.iterrows():
        event = ResultEvent("draw_event", row["distinct_id"], str(row["uuid"]),
                            row["properties"])
        assert verify_event(event, key) is None
        assert row["distinct_id"] != DRAWKIT_DISTINCT_ID

    client = PostHogClient.from_env()
    source = PostHogDataSource(client, monitor=False)
    check = reconcile(record, source.get_published_events(record.draw_id), ledger=Ledger(ledger))
    assert check.ok, check.format()
    events = check.table[check.table["event"].str.startswith("draw_event")]
    assert len(events) == len(entries) and events["published"].all()


def test_cohort_from_posthog_accounts_for_the_rows_the_upload_could_not_send(
    emulator_with_synth, tmp_path, capsys
):
    not_sent = tmp_path / "not-sent.csv"
    not_sent.write_text("transaction_id,msisdn,amount_ngn,reason\n"
                        "T-LOST-1,0803 12,500,invalid_msisdn: not a Nigerian phone number\n"
                        "T-LOST-2,+2348031234567,200,unreadable_timestamp\n")
    base = ["cohort", "--date", DRAW_DATE, "--source", "posthog", "--workspace",
            str(tmp_path / "ws")]
    assert main(base) == 0
    before = capsys.readouterr().out
    assert main([*base, "--not-sent", str(not_sent), "--draw-id", "with-not-sent"]) == 0
    after = capsys.readouterr().out
    assert "unreadable_timestamp" in after and "unreadable_timestamp" not in before
    rejected = tmp_path / "ws" / "private" / "with-not-sent" / "rejected.csv"
    rows = pd.read_csv(rejected, dtype=str).set_index("transaction_id")
    assert rows.loc["T-LOST-2", "reason"] == "unreadable_timestamp"
    assert rows.loc["T-LOST-2", "msisdn"] == "0803****567"  # masked like every other row
