"""LocalDataSource: reading exports, clear errors, idempotent results."""

from __future__ import annotations

import json
import stat
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drawkit.contract import DrawOutcome, PublishedWinner, ResultSigner, completed_uuid, winner_uuid
from drawkit.errors import DrawkitError, InputError, InvalidMsisdnError
from drawkit.sources.base import DrawDataSource
from drawkit.sources.local import (
    LocalDataSource,
    read_blacklist,
    read_participants,
    read_recharges,
    write_participants,
)

DRAW = date(2026, 11, 27)
CSV = (
    "transaction_id,msisdn,amount_ngn,timestamp,channel\n"
    "t1,08031234567,250,2026-11-26T10:00:00,ussd\n"
    "t2,+234 805 123 4569,100,2026-11-26T09:00:00Z,app\n"
    "t3,07030001111,500,2026-11-26T11:00:00+01:00,app\n"
    "t4,12345,100,2026-11-26T11:00:00,app\n"
    "NA,08031234567,100,2026-11-20T11:00:00,app\n"
)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    recharges = tmp_path / "recharges.csv"
    recharges.write_text(CSV, encoding="utf-8")
    blacklist = tmp_path / "blacklist.csv"
    blacklist.write_text("msisdn\n2347030001111\n", encoding="utf-8")
    return {"recharges": recharges, "blacklist": blacklist, "dir": tmp_path}


def test_csv_keeps_leading_zeros_and_text(files: dict[str, Path]) -> None:
    frame = read_recharges(files["recharges"])
    assert frame["msisdn"].iloc[0] == "08031234567"
    assert frame["transaction_id"].iloc[4] == "NA"  # not read as missing
    assert list(frame.columns)[:4] == ["transaction_id", "msisdn", "amount_ngn", "timestamp"]


def test_parquet_and_csv_give_the_same_participants(files: dict[str, Path]) -> None:
    parquet = files["dir"] / "recharges.parquet"
    read_recharges(files["recharges"]).to_parquet(parquet)
    results = [
        LocalDataSource(path, files["blacklist"]).get_eligible_participants(DRAW)
        for path in (files["recharges"], parquet)
    ]
    pd.testing.assert_frame_equal(results[0].participants, results[1].participants)
    assert list(results[0].participants["msisdn"]) == ["+2348031234567", "+2348051234569"]
    assert results[0].summary.rows_excluded["blacklisted"] == 1
    assert results[0].summary.rows_excluded["outside_window"] == 1


def test_missing_column_error_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("transaction_id,phone,amount_ngn,timestamp\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_recharges(path)
    assert "msisdn" in str(info.value) and str(path) in str(info.value)


def test_wrong_encoding_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "transaction_id,msisdn,amount_ngn,timestamp\nt1,0803,100,Lagos é\n".encode("latin-1")
    )
    with pytest.raises(InputError, match="not UTF-8"):
        read_recharges(path)


def test_body_in_another_encoding_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "body.csv"
    path.write_bytes(b"transaction_id,msisdn,amount_ngn,timestamp\nt1,0803,100,Lagos \xe9\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_recharges(path)
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufefftransaction_id,msisdn,amount_ngn,timestamp\nt1,0803,1,x\n".encode())
    assert read_recharges(bom)["transaction_id"].tolist() == ["t1"]


def test_missing_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_recharges(tmp_path / "nope.csv")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("msisdn\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read blacklist"):
        read_blacklist(ragged)
    bad_parquet = tmp_path / "x.parquet"
    bad_parquet.write_bytes(b"not parquet")
    with pytest.raises(InputError, match=str(bad_parquet)):
        read_recharges(bad_parquet)


def test_participant_entries_in_any_format(files: dict[str, Path]) -> None:
    source = LocalDataSource(files["recharges"], files["blacklist"])
    assert isinstance(source, DrawDataSource)
    assert source.get_participant_entries("0803 123 4567", DRAW) == 2
    assert source.get_participant_entries("+2348031234567", DRAW) == 2
    assert source.get_participant_entries("07030001111", DRAW) == 0  # blacklisted
    assert source.get_participant_entries("08099999999", DRAW) == 0
    with pytest.raises(InvalidMsisdnError):
        source.get_participant_entries("hello", DRAW)


def test_read_participants(tmp_path: Path) -> None:
    good = tmp_path / "p.csv"
    good.write_text("msisdn,points,entries\n08031234567,7,5\n+2348051234569,1,1\n")
    frame = read_participants(good)
    assert list(frame["msisdn"]) == ["+2348031234567", "+2348051234569"]
    assert list(frame["entries"]) == [5, 1] and frame["entries"].dtype == "int64"
    for body, words in [
        ("msisdn,entries\n08031234567,0\n", "row 2 column entries"),
        ("msisdn,entries\n08031234567,1.5\n", "not a positive whole number"),
        ("msisdn,entries\n08031234567,1\nhello,2\n", "row 3 column msisdn"),
        ("msisdn,entries\n08031234567,1\n+2348031234567,2\n", "listed twice"),
        ("msisdn,points\n08031234567,1\n", "entries"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text(body)
        with pytest.raises(InputError, match=words):
            read_participants(bad)


def test_write_participants_private_and_masked(files: dict[str, Path]) -> None:
    result = LocalDataSource(files["recharges"]).get_eligible_participants(DRAW)
    out = files["dir"] / "out"
    paths = write_participants(result.participants, result.rejected, out)
    assert stat.S_IMODE(paths["participants"].stat().st_mode) == 0o600
    assert read_participants(paths["participants"]).equals(result.participants)
    rejected = paths["rejected"].read_text()
    assert "invalid_msisdn" in rejected and "12345" not in rejected


def outcome(draw_id: str = "draw-2026-11-27") -> DrawOutcome:
    winners = (
        PublishedWinner("+2348031234567", "Grand prize", 100000, "winner", 1, 1, 5, 42),
        PublishedWinner("08051234569", "Grand prize", 100000, "reserve", 1, 2, 1, 7),
    )
    return DrawOutcome(draw_id, DRAW, "demo", "ab" * 32, 2, 6, "cd" * 32, winners)


def test_record_draw_result_is_idempotent(tmp_path: Path, result_signer: ResultSigner) -> None:
    source = LocalDataSource(
        pd.DataFrame(columns=list(CSV.split("\n")[0].split(","))), results_dir=tmp_path / "results"
    )
    first = source.record_draw_result(outcome(), result_signer)
    again = source.record_draw_result(outcome(), result_signer)
    assert (first.sent, first.already_recorded) == (3, 0)
    assert (again.sent, again.already_recorded) == (0, 3)
    source.record_draw_result(outcome("another-draw"), result_signer)
    published = source.get_published_results("draw-2026-11-27")
    assert list(published.columns) == [
        "event",
        "uuid",
        "msisdn",
        "msisdn_masked",
        "tier",
        "role",
        "position",
        "ticket",
    ]
    assert list(published["uuid"]) == [
        completed_uuid("draw-2026-11-27", key=result_signer),
        winner_uuid("draw-2026-11-27", "Grand prize", "winner", 1, key=result_signer),
        winner_uuid("draw-2026-11-27", "Grand prize", "reserve", 1, key=result_signer),
    ]
    assert list(published["msisdn"]) == ["", "+2348031234567", "+2348051234569"]
    assert list(published["msisdn_masked"]) == ["", "0803****567", "0805****569"]
    assert published["ticket"].isna().tolist() == [True, False, False]
    assert list(published["ticket"].iloc[1:]) == [42, 7]
    path = tmp_path / "results" / "results.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().splitlines()) == 6


def test_concurrent_publishes_record_once(tmp_path: Path, result_signer: ResultSigner) -> None:
    source = LocalDataSource(pd.DataFrame(), results_dir=tmp_path)
    threads = [
        threading.Thread(target=source.record_draw_result, args=(outcome(), result_signer))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 3


def test_torn_last_line_is_resent(tmp_path: Path, result_signer: ResultSigner) -> None:
    source = LocalDataSource(pd.DataFrame(), results_dir=tmp_path)
    source.record_draw_result(outcome(), result_signer)
    path = tmp_path / "results.jsonl"
    text = path.read_text()
    path.write_text(text[: len(text) - 20])  # crash in the middle of the last event
    report = source.record_draw_result(outcome(), result_signer)
    assert report.sent == 1
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)


def test_results_need_a_results_dir(result_signer: ResultSigner) -> None:
    with pytest.raises(DrawkitError, match="results_dir"):
        LocalDataSource(pd.DataFrame()).record_draw_result(outcome(), result_signer)


def test_write_participants_refuses_a_frame_that_breaks_the_contract(tmp_path) -> None:
    from drawkit.sources.local import write_participants

    broken = pd.DataFrame(
        {
            "msisdn": ["+2348031234568", "+2348031234567"],  # not sorted
            "points": np.array([3, 0], dtype=np.int64),  # 0 points
            "entries": np.array([3, 1], dtype=np.int64),
        }
    )
    rejected = pd.DataFrame(columns=["msisdn", "reason"])
    with pytest.raises(InputError, match="points: greater_than_or_equal_to") as caught:
        write_participants(broken, rejected, tmp_path)
    assert "sorted" in str(caught.value)
    assert "8031234567" not in str(caught.value)
    assert not (tmp_path / "participants.csv").exists()
