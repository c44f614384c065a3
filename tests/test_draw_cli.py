"""The draw area of the `drawkit` command, through drawkit.cli.main."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import datetime, timedelta

import pandas as pd
import pytest

from drawkit.cli import main
from drawkit.draw import DrawRecord, Ledger
from drawkit.msisdn import mask

SECRET_HEX = "ab" * 32
CONFIG_TOML = """
[promotion]
name = "CLI promo"
[[prizes]]
name = "Grand"
value_ngn = 1000
count = 1
[[prizes]]
name = "Bundle"
value_ngn = 100
count = 2
[draw]
reserves_per_tier = 2
[beacon]
commit_margin_seconds = 1
"""


@pytest.fixture
def setup(tmp_path, monkeypatch, drand_env):
    frame = pd.DataFrame(
        {
            "msisdn": [f"+23470{30000000 + 101 * i:08d}" for i in range(25)],
            "points": [1 + i % 6 for i in range(25)],
        }
    )
    frame["entries"] = frame["points"]
    participants = tmp_path / "participants.csv"
    frame.to_csv(participants, index=False)
    config = tmp_path / "promo.toml"
    config.write_text(CONFIG_TOML)
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", SECRET_HEX)
    base = [
        "--date",
        "2026-11-24",
        "--participants",
        str(participants),
        "--config",
        str(config),
        "--ledger",
        str(tmp_path / "ledger"),
    ]
    return tmp_path, participants, base


def round_randomness(record: DrawRecord) -> str:
    """SHA-256 of the record's round signature: the round's randomness."""
    return hashlib.sha256(bytes.fromhex(record.beacon_signature)).hexdigest()


def run_draw_cli(tmp_path, base, capsys) -> DrawRecord:
    assert main(["commit", *base]) == 0
    committed = capsys.readouterr().out
    assert "cohort digest" in committed and "secret commitment" in committed
    assert SECRET_HEX not in committed
    code = main(
        [
            "draw",
            *base,
            "--wait",
            "--record-out",
            str(tmp_path / "record.json"),
            "--public-out",
            str(tmp_path / "public.json"),
            "--winners-export",
            str(tmp_path / "winners.csv"),
        ]
    )
    assert code == 0
    return DrawRecord.from_json((tmp_path / "record.json").read_text())


def test_commit_draw_verify_round_trip(setup, capsys) -> None:
    tmp_path, participants, base = setup
    record = run_draw_cli(tmp_path, base, capsys)
    out = capsys.readouterr().out
    assert "Grand winner 1" in out and "ticket" in out
    assert all(w.msisdn not in out for w in record.winners)  # masked on screen
    assert all(f": {mask(w.msisdn)} (" in out for w in record.winners)  # masked once
    assert record.beacon_value == round_randomness(record) and record.secret == SECRET_HEX
    assert record.beacon_signature and record.beacon_relay.startswith("http://127.0.0.1")
    assert record.commitment.made_at_draw is False
    public = json.loads((tmp_path / "public.json").read_text())
    assert all("****" in w["msisdn"] for w in public["winners"])
    export = tmp_path / "winners.csv"
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    rows = pd.read_csv(export, dtype={"msisdn": str})
    assert list(rows["msisdn"]) == [w.msisdn for w in record.winners]
    assert stat.S_IMODE((tmp_path / "record.json").stat().st_mode) == 0o600

    assert (
        main(
            [
                "verify",
                str(tmp_path / "record.json"),
                "--participants",
                str(participants),
                "--ledger",
                str(tmp_path / "ledger"),
                "--beacon",
                round_randomness(record),
                "--accept-test-chain",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "MATCH" in out and "local test chain — not public randomness" in out


def test_verify_fails_on_a_changed_participants_file(setup, capsys) -> None:
    tmp_path, participants, base = setup
    run_draw_cli(tmp_path, base, capsys)
    frame = pd.read_csv(participants, dtype={"msisdn": str})
    frame.loc[3, "entries"] += 5
    frame.to_csv(participants, index=False)
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "record.json"), "--participants", str(participants)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "cohort_digest" in out


def test_rerun_returns_the_same_record(setup, capsys) -> None:
    tmp_path, _, base = setup
    record = run_draw_cli(tmp_path, base, capsys)
    assert main(["draw", *base]) == 0
    assert f"record hash {record.record_hash}" in capsys.readouterr().out
    assert len(Ledger(tmp_path / "ledger").records()) == 1


def test_draw_event_promotes_a_reserve(setup, capsys) -> None:
    tmp_path, _, base = setup
    record = run_draw_cli(tmp_path, base, capsys)
    capsys.readouterr()
    code = main(
        [
            "draw-event",
            record.draw_id,
            "unreachable",
            "--tier",
            "Bundle",
            "--position",
            "2",
            "--reason",
            "switched off",
            "--ledger",
            str(tmp_path / "ledger"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Bundle #2: reserve 1" in out and "promoted" in out
    events = Ledger(tmp_path / "ledger").events(record.draw_id)
    assert [e["event"] for e in events] == ["unreachable", "promoted"]
    assert events[0]["details"]["reason"] == "switched off"


def test_ledger_verify_and_list(setup, capsys) -> None:
    tmp_path, _, base = setup
    run_draw_cli(tmp_path, base, capsys)
    ledger = str(tmp_path / "ledger")
    capsys.readouterr()
    assert main(["ledger", "list", "--ledger", ledger]) == 0
    assert "commitment" in capsys.readouterr().out
    assert main(["ledger", "verify", "--ledger", ledger]) == 0
    assert "intact: 2 entries" in capsys.readouterr().out
    (path,) = (tmp_path / "ledger" / "entries").glob("*-draw-*")
    data = json.loads(path.read_text())
    data["winners"][0]["ticket"] += 1
    path.write_text(json.dumps(data))
    assert main(["ledger", "verify", "--ledger", ledger]) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().out


def test_wrong_secret_is_a_commitment_error(setup, capsys, monkeypatch) -> None:
    tmp_path, _, base = setup
    assert main(["commit", *base]) == 0
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", "ef" * 32)
    assert main(["draw", *base]) == 2
    err = capsys.readouterr().err
    assert "does not match its commitment" in err
    assert "ef" * 32 not in err


def test_secret_must_be_hex(setup, capsys, monkeypatch) -> None:
    _, _, base = setup
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", "not hex at all")
    assert main(["draw", *base]) == 2
    assert "DRAWKIT_DRAW_SECRET must hold the operator secret as hex" in capsys.readouterr().err


def test_too_many_prizes_exit_code(setup, capsys, tmp_path) -> None:
    _, _, base = setup
    small = tmp_path / "small.csv"
    small.write_text("msisdn,entries\n+2347030000000,3\n+2347030000101,1\n")
    args = list(base)
    args[args.index("--participants") + 1] = str(small)
    assert main(["commit", *args]) == 0
    assert main(["draw", "--wait", *args]) == 2
    assert "prize tier 'Bundle' needs 2 winner(s) but only 1" in capsys.readouterr().err


def test_exclusion_counts_come_from_the_cohort_summary(setup, capsys) -> None:
    tmp_path, _participants, base = setup
    summary = {"draw_date": "2026-11-24", "participants": 25}
    summary["participants_excluded"] = {"blacklisted": 3, "under_1_point": 7}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    record = run_draw_cli(tmp_path, base, capsys)
    assert record.exclusions == {"blacklisted": 3, "under_1_point": 7}


def test_a_summary_of_another_date_is_ignored(setup, capsys) -> None:
    tmp_path, _participants, base = setup
    summary = {"draw_date": "2026-11-23", "participants": 25}
    summary["participants_excluded"] = {"blacklisted": 3}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    record = run_draw_cli(tmp_path, base, capsys)
    assert record.exclusions == {}


def test_publish_to_local_results_is_safe_to_repeat(setup, capsys) -> None:
    tmp_path, _, base = setup
    record = run_draw_cli(tmp_path, base, capsys)
    results = tmp_path / "results"  # the workspace's one results store
    command = ["publish", record.draw_id, "--ledger", str(tmp_path / "ledger")]
    command += ["--workspace", str(tmp_path)]
    capsys.readouterr()
    assert main(command) == 0
    events = len(record.winners) + 1  # one per winner or reserve, plus draw_completed
    assert f"{events} event(s) sent, 0 already recorded" in capsys.readouterr().out
    assert main(command) == 0
    assert f"0 event(s) sent, {events} already recorded" in capsys.readouterr().out
    lines = (results / "results.jsonl").read_text().splitlines()
    assert len(lines) == events


def test_participants_in_local_formats_are_normalised(setup, capsys) -> None:
    tmp_path, participants, base = setup
    record = run_draw_cli(tmp_path, base, capsys)
    local = pd.read_csv(participants, dtype={"msisdn": str})
    local["msisdn"] = "0" + local["msisdn"].str[4:]  # 0703... instead of +234703...
    other = tmp_path / "local.csv"
    local.to_csv(other, index=False)
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "record.json"), "--participants", str(other),
                 "--accept-test-chain"]) == 0
    assert "MATCH" in capsys.readouterr().out
    assert record.participants == len(local)


def test_beacon_round_names_the_first_round_after_the_given_time_and_margin(capsys) -> None:
    from drawkit.beacon import QUICKNET
    from drawkit.cli import main

    after = datetime.fromisoformat("2026-11-25T00:10:00+01:00")
    assert main(["beacon", "round", "--after", after.isoformat()]) == 0
    out = capsys.readouterr().out
    chosen = int(out.split()[2])
    assert QUICKNET.round_time(chosen) >= after + timedelta(seconds=60)  # the default margin
    assert QUICKNET.round_time(chosen - 1) <= after + timedelta(seconds=60)
    assert f"--beacon-round {chosen}" in out and f"/public/{chosen}" in out
    assert main(["beacon", "round", "--after", after.isoformat(), "--quiet"]) == 0
    assert capsys.readouterr().out == f"{chosen}\n"
    assert main(["beacon", "round", "--after", "2026-11-25T00:10:00"]) == 2
    assert "no timezone" in capsys.readouterr().err
