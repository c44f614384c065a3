"""Issue 16 through the doors: results nobody else can write, an anchored ledger tail and
honest re-runs (drawkit commit, draw, publish, ledger verify, verify; the audit's
reconciliation)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from drawkit.app import DrawJob, Runtime, SourceSpec, audit
from drawkit.cli import main
from drawkit.contract import ResultEvent, ResultSigner, result_events, verify_event
from drawkit.draw import DrawRecord, Ledger, published_events
from drawkit.msisdn import mask
from drawkit.sources.local import _event_of, draw_events

SECRET_HEX = "ab" * 32
CONFIG_TOML = """
[promotion]
name = "Integrity promo"
[[prizes]]
name = "Grand"
value_ngn = 1000
count = 1
[[prizes]]
name = "Bundle"
value_ngn = 100
count = 2
[draw]
reserves_per_tier = 1
[beacon]
commit_margin_seconds = 1
"""


def frame(n: int = 25, seed: int = 0) -> pd.DataFrame:
    data = pd.DataFrame({"msisdn": [f"+23470{30000000 + 101 * i + seed:08d}" for i in range(n)],
                         "entries": [1 + i % 6 for i in range(n)]})
    data["points"] = data["entries"]
    return data


@pytest.fixture
def world(tmp_path, monkeypatch, drand_env):
    participants = tmp_path / "participants.csv"
    frame().to_csv(participants, index=False)
    config = tmp_path / "promo.toml"
    config.write_text(CONFIG_TOML)
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", SECRET_HEX)
    base = ["--date", "2026-11-24", "--participants", str(participants), "--config",
            str(config), "--workspace", str(tmp_path / "ws")]
    return tmp_path, participants, config, base


def commit_and_draw(world, capsys) -> tuple[DrawRecord, str]:
    tmp_path, _, _, base = world
    assert main(["commit", *base]) == 0
    announced = capsys.readouterr().out
    assert main(["draw", *base, "--wait", "--record-out", str(tmp_path / "record.json")]) == 0
    capsys.readouterr()
    return DrawRecord.from_json((tmp_path / "record.json").read_text()), announced


def error_of(capsys, *args: str) -> str:
    assert main(list(args)) == 2
    return capsys.readouterr().err


# ------------------------------------------------------------------ honest re-runs


def test_a_rerun_with_other_inputs_is_an_error_naming_each_difference(
    world, capsys, monkeypatch, drand_chain
) -> None:
    tmp_path, participants, _, base = world
    record, _ = commit_and_draw(world, capsys)
    assert main(["draw", *base]) == 0  # the same inputs: the record, nothing re-drawn
    assert "already drawn" in capsys.readouterr().out

    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", "cd" * 32)
    err = error_of(capsys, "draw", *base)
    assert f"draw {record.draw_id} already ran" in err and "operator secret" in err
    assert "cd" * 32 not in err and SECRET_HEX not in err
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", SECRET_HEX)

    other = tmp_path / "other.csv"
    frame(seed=7).to_csv(other, index=False)
    args = list(base)
    args[args.index("--participants") + 1] = str(other)
    err = error_of(capsys, "draw", *args)
    assert "participants file" in err and str(other) in err

    later = record.beacon_round + 1
    err = error_of(capsys, "draw", *base, "--beacon-round", str(later))
    assert f"beacon round {later} (the record's {record.beacon_round})" in err
    signature = drand_chain.sign(later).hex()
    err = error_of(capsys, "draw", *base, "--beacon-signature", signature)
    assert "beacon signature given is not the one of the record's round" in err

    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", "cd" * 32)  # every difference at once
    err = error_of(capsys, "draw", *args, "--beacon-round", str(later))
    assert err.count(";") >= 2 and "operator secret" in err and "beacon round" in err
    assert len(Ledger(tmp_path / "ws" / "ledger").records()) == 1


# ------------------------------------------------------------------ the signing key


def test_commit_and_publish_need_the_signing_key_and_never_show_it(world, capsys,
                                                                    monkeypatch) -> None:
    _, _, _, base = world
    monkeypatch.delenv("DRAWKIT_SIGNING_KEY")
    assert "DRAWKIT_SIGNING_KEY is not set" in error_of(capsys, "commit", *base)
    monkeypatch.setenv("DRAWKIT_SIGNING_KEY", "zz" * 32)
    err = error_of(capsys, "commit", *base)
    assert "DRAWKIT_SIGNING_KEY must hold the result signing key" in err and "zz" * 32 not in err


def test_commit_announces_the_public_key_and_the_ledger_head(world, capsys, monkeypatch,
                                                            result_signer) -> None:
    tmp_path, _, config, base = world
    record, announced = commit_and_draw(world, capsys)
    assert record.commitment.result_public_key == result_signer.public_key
    assert (f"result signing key  {result_signer.public_key} (key id {result_signer.key_id})"
            in announced)
    assert f"ledger head now     {record.commitment.record_hash} (entry 1)" in announced
    assert os.environ["DRAWKIT_SIGNING_KEY"] not in announced
    # another key for the same draw is refused at commit and at publish
    monkeypatch.setenv("DRAWKIT_SIGNING_KEY", "22" * 32)
    assert "result signing key" in error_of(capsys, "commit", *base)
    err = error_of(capsys, "publish", record.draw_id, "--workspace", str(tmp_path / "ws"),
                   "--config", str(config))
    assert f"committed to key id {result_signer.key_id}" in err and "22" * 32 not in err


# ------------------------------------------------------------------ results nobody else writes


def publish_cli(world, record: DrawRecord) -> list[str]:
    tmp_path, _, config, _ = world
    return ["publish", record.draw_id, "--workspace", str(tmp_path / "ws"), "--config",
            str(config)]


def job_of(world, record: DrawRecord) -> DrawJob:
    tmp_path, participants, config, _ = world
    return DrawJob(record.date, source=SourceSpec("local", participants=participants),
                   config_path=config, workspace=tmp_path / "ws", simulations=50,
                   accept_test_chain=True)


def test_forged_results_are_named_by_publish_and_fail_the_audit(world, capsys,
                                                               result_signer) -> None:
    tmp_path, _, _, _ = world
    record, _ = commit_and_draw(world, capsys)
    results = tmp_path / "ws" / "results"
    assert main(publish_cli(world, record)) == 0
    out = capsys.readouterr().out
    head = Ledger(tmp_path / "ws" / "ledger").head()
    assert f"ledger head {head.format()}: published" in out
    heads = [json.loads(line) for line in (results / "ledger_heads.jsonl").read_text().splitlines()]
    assert [h["ledger_head"] for h in heads] == [head.record_hash]
    job = job_of(world, record)
    result = audit(job, Runtime.from_env())
    assert result.reconciliation.ok and result.passed, result.reconciliation.format()
    assert result.reconciliation.heads == (head,)

    # a draw_completed with a bogus record_hash, and a winner that is not the record's
    real = result_events(record.to_outcome(), result_signer)
    bogus = ResultEvent(real[0].event, real[0].distinct_id, "6c0f7a3e-54d1-4b7a-9f1e-0c2d3e4f5a6b",
                        {**real[0].properties, "record_hash": "00" * 32})
    stranger = ResultSigner.generate().sign(ResultEvent(
        real[1].event, "+2347039999999", "1b6e9d42-8c3a-4f51-a0e7-3d2c1b0a9f8e",
        {**real[1].properties, "msisdn_masked": "0703****999"}))
    with (results / "results.jsonl").open("a") as handle:
        for line in draw_events([bogus, stranger]):
            handle.write(json.dumps(line) + "\n")
    assert main(publish_cli(world, record)) == 1
    out = capsys.readouterr().out
    assert "2 event(s) in the source for this draw are NOT its signed result" in out
    assert f"draw_completed (uuid {bogus.uuid}): its signature does not verify" in out
    assert "0703****999" in out and "not signed by the draw's result key" in out
    assert "7039999999" not in out
    result = audit(job, Runtime.from_env())
    assert not result.passed and not result.reconciliation.ok
    failed = {c.name: c for c in result.failed()}
    assert "Published results match" in failed
    assert "2 FORGED" in failed["Published results match"].detail
    assert bogus.uuid in failed["Published results match"].detail


# ------------------------------------------------------------------ an anchored ledger tail


def test_ledger_verify_and_verify_check_published_heads(world, capsys, monkeypatch) -> None:
    tmp_path, participants, _, base = world
    record, _ = commit_and_draw(world, capsys)
    ledger = tmp_path / "ws" / "ledger"
    head = Ledger(ledger).head().record_hash
    assert main(["ledger", "verify", "--ledger", str(ledger), "--head", head]) == 0
    assert "published head(s) found" in capsys.readouterr().out
    verify = ["verify", str(tmp_path / "record.json"), "--participants", str(participants),
              "--accept-test-chain", "--ledger", str(ledger)]
    assert main([*verify, "--head", head]) == 0
    capsys.readouterr()
    # the day deleted and re-drawn with another secret: the chain and the re-draw verify...
    for path in (ledger / "entries").iterdir():
        path.unlink()
    (tmp_path / "ws" / "private" / record.draw_id / "cohort.json").unlink()
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", "ef" * 32)
    assert main(["commit", *base]) == 0 and main(["draw", *base, "--wait", "--record-out",
                                                  str(tmp_path / "record.json")]) == 0
    assert main(["ledger", "verify", "--ledger", str(ledger)]) == 0
    assert main(verify) == 0
    capsys.readouterr()
    # ...but not against the head published before
    assert main(["ledger", "verify", "--ledger", str(ledger), "--head", head]) == 1
    assert "is not in this ledger" in capsys.readouterr().out
    assert main([*verify, "--head", head]) == 1
    assert "VERDICT: FAIL" in capsys.readouterr().out
    assert "--ledger" in error_of(capsys, "verify", str(tmp_path / "record.json"),
                                  "--participants", str(participants), "--head", head)
    assert main(["ledger", "verify", "--ledger", str(tmp_path / "typo")]) == 1
    assert "does not exist" in capsys.readouterr().out
    assert "not a record hash" in error_of(capsys, "ledger", "verify", "--ledger", str(ledger),
                                           "--head", "nothex")


# ------------------------------------------------------------------ draw events, published


def test_draw_events_are_published_signed_once_and_checked_by_the_audit(
    world, capsys, result_signer
) -> None:
    tmp_path, _, _, _ = world
    record, _ = commit_and_draw(world, capsys)
    ledger, results = tmp_path / "ws" / "ledger", tmp_path / "ws" / "results"
    assert main(publish_cli(world, record)) == 0
    capsys.readouterr()
    first = record.winners_of("Grand")[0]
    reserve = record.winners_of("Grand", "reserve")[0]
    assert main(["draw-event", record.draw_id, "unreachable", "--tier", "Grand", "--position",
                 "1", "--reason", f"switched off, tried {first.msisdn}",
                 "--ledger", str(ledger)]) == 0
    assert f"drawkit publish {record.draw_id} sends the 2 event(s)" in capsys.readouterr().out

    job = job_of(world, record)
    stale = audit(job, Runtime.from_env()).reconciliation
    assert not stale.ok
    missing = stale.table[~stale.table["published"]]
    assert missing["event"].tolist() == ["draw_event (unreachable)", "draw_event (promoted)"]
    assert set(missing["problem"]) == {"not published: run drawkit publish"}

    assert main(publish_cli(world, record)) == 0
    assert "2 event(s) sent" in capsys.readouterr().out
    assert main(publish_cli(world, record)) == 0  # a repeat sends nothing
    assert "0 event(s) sent" in capsys.readouterr().out
    lines = [json.loads(line) for line in (results / "results.jsonl").read_text().splitlines()]
    sent = [line for line in lines if line["event"] == "draw_event"]
    assert [(e["kind"], e["msisdn"], e["role"], e["position"]) for e in sent] == [
        ("unreachable", first.msisdn, "winner", 1), ("promoted", reserve.msisdn, "reserve", 1)]
    assert sent[1]["prize_position"] == 1
    assert sent[0]["reason"] == "switched off, tried " + mask(first.msisdn)
    entries = Ledger(ledger).events(record.draw_id)
    assert [e["ledger_entry_hash"] for e in sent] == [e["record_hash"] for e in entries]
    expected = result_events(record.to_outcome(events=published_events(record, entries)),
                             result_signer)
    assert [e["uuid"] for e in sent] == [e.uuid for e in expected[-2:]]
    assert all(verify_event(_event_of(e), record.commitment.result_public_key) is None
               for e in sent)

    result = audit(job, Runtime.from_env())
    assert result.reconciliation.ok and result.passed, result.reconciliation.format()
    assert len(result.reconciliation.table) == len(record.winners) + 3

    # a draw event nobody recorded, signed by someone else: named, and the audit fails
    fake = ResultSigner.generate().sign(ResultEvent(
        "draw_event", reserve.msisdn, "5d1e2f30-4a5b-4c6d-8e7f-901a2b3c4d5e",
        {**sent[1], "kind": "claimed"}))
    with (results / "results.jsonl").open("a") as handle:
        handle.write(json.dumps(draw_events([fake])[0]) + "\n")
    assert main(publish_cli(world, record)) == 1
    assert "draw_event claimed entry" in capsys.readouterr().out
    assert not audit(job, Runtime.from_env()).reconciliation.ok
