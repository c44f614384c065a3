"""LocalDataSource: reading exports, clear errors, idempotent results."""

from __future__ import annotations

import csv
import io
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


@pytest.mark.parametrize("people", [0, 1, 3000])
def test_participants_csv_bytes_are_pandas_to_csv(tmp_path: Path, people: int) -> None:
    from drawkit.eligibility import participant_frame

    national = np.arange(people, dtype=np.int64) * 7919 + 7_000_000_000
    frame = participant_frame(national, national % 97 + 1, 50)
    paths = write_participants(frame, pd.DataFrame(columns=["reason"]), tmp_path)
    expected = frame.to_csv(index=False, lineterminator="\n").encode()
    assert paths["participants"].read_bytes() == expected


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


# ------------------------------------------------------------------ hostile files (issue 16)

HEADER = "transaction_id,msisdn,amount_ngn,timestamp\n"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"transaction_id,msisdn,msisdn,amount_ngn,timestamp\nt1,0803,0803,1,x\n", "appears twice"),
        (b"transaction_id,msisdn,amount_ngn,timestamp,MSISDN\nt1,0803,1,x,y\n",
         "'MSISDN' appears twice \\(as 'msisdn'\\)"),
        (b"transaction_id,msisdn,amount_ngn,timestamp," + b"x" * 200_000 + b"\nt1,1,1,1,1\n",
         "cannot read|header"),
        (HEADER.encode() + b't1,"08031234567,100,2026-11-26\nt2,0803,1,x\n', "unterminated quote"),
        (b"\x00" * 64, "NUL"),
        (HEADER.encode() + b"t1,0803,1\n", "Expected Number of Columns"),
        (b"", "empty"),
        (HEADER.encode() + b"t1," + b"9" * (3 << 20) + b",1,x\n", "longer than 1 MiB"),
        (HEADER.encode() + b"t0,1,1,x\n" * 10 + b"t1," + b"9" * (3 << 20) + b",1,x\nt2,1,1,x\n",
         "longer than 1 MiB"),
    ],
)
def test_hostile_csv_files_are_clear_errors(tmp_path: Path, body: bytes, words: str) -> None:
    path = tmp_path / "recharges.csv"
    path.write_bytes(body)
    for read in (
        read_recharges,
        lambda p: LocalDataSource(p).get_eligible_participants(DRAW),
    ):
        with pytest.raises(InputError, match=words) as info:
            read(path)
        assert str(path) in str(info.value)
        assert "08031234567" not in str(info.value)


def test_big_csv_with_quoted_newlines_is_read(tmp_path: Path) -> None:
    lines = [HEADER]
    for i in range(40_000):  # ~2.5 MB
        lines.append(f't{i},08031234567,100,2026-11-26T10:00:00,"a note\nover two lines {i}"\n')
    path = tmp_path / "recharges.csv"
    path.write_text(HEADER.strip() + ",note\n" + "".join(lines[1:]), encoding="utf-8")
    assert len(read_recharges(path)) == 40_000
    result = LocalDataSource(path).get_eligible_participants(DRAW)
    assert result.summary.rows_counted == 40_000


def test_parquet_nested_columns_and_year_9999(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    nested = tmp_path / "nested.parquet"
    pq.write_table(
        pa.table({"transaction_id": ["t1"], "msisdn": [["08031234567"]], "amount_ngn": ["100"],
                  "timestamp": ["2026-11-26T10:00:00"]}),
        nested,
    )
    for read in (read_recharges, lambda p: LocalDataSource(p).get_eligible_participants(DRAW)):
        with pytest.raises(InputError, match="column msisdn holds"):
            read(nested)
    far = tmp_path / "far.parquet"
    from datetime import datetime

    pq.write_table(
        pa.table({"transaction_id": ["t1", "t2"], "msisdn": ["08031234567"] * 2,
                  "amount_ngn": [100, 100], "extra": pa.array([[1], [2]]),
                  "timestamp": pa.array([datetime(9999, 12, 31), datetime(2026, 11, 26, 10)],
                                        pa.timestamp("us"))}),
        far,
    )
    for result in (LocalDataSource(far).get_eligible_participants(DRAW),
                   LocalDataSource(read_recharges(far)).get_eligible_participants(DRAW)):
        assert result.summary.rows_excluded["outside_window"] == 1
        assert result.summary.rows_counted == 1


def test_rejected_csv_is_private_masked_and_formula_escaped(tmp_path: Path) -> None:
    path = tmp_path / "recharges.csv"
    path.write_text(
        HEADER
        + "=HYPERLINK(\"http://x\"),08031234567,abc,2026-11-26T10:00:00\n"
        + "t2,+2348051234569,-100,2026-11-26T10:00:00\n"
        + "@SUM(A1),0805 123 4569,+5,never\n"
        + "t4,12345,100,2026-11-26T10:00:00\n",
        encoding="utf-8",
    )
    for source in (LocalDataSource(path), LocalDataSource(read_recharges(path))):
        out = tmp_path / f"out-{id(source)}"
        result, paths = source.write_cohort(DRAW, out)
        assert stat.S_IMODE(paths["rejected"].stat().st_mode) == 0o600
        text = paths["rejected"].read_text()
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["transaction_id", "msisdn", "amount_ngn", "timestamp", "reason"]
        cells = [cell for row in rows[1:] for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
        assert "'=HYPERLINK(\"http://x\")" in cells and "'-100" in cells and "'@SUM(A1)" in cells
        assert "08031234567" not in text and "8051234569" not in text
        assert result.summary.rows_in == 4 and len(rows) == 5


def test_an_output_path_that_is_a_folder_is_a_clear_error(files: dict[str, Path]) -> None:
    out = files["dir"] / "out"
    (out / "participants.csv").mkdir(parents=True)
    result = LocalDataSource(files["recharges"]).get_eligible_participants(DRAW)
    with pytest.raises(InputError, match="is a folder"):
        write_participants(result.participants, result.rejected, out)


def test_file_engine_equals_the_in_memory_rules(files: dict[str, Path]) -> None:
    from drawkit.eligibility import apply_rules

    frame = read_recharges(files["recharges"])
    blacklist = read_blacklist(files["blacklist"])
    memory = apply_rules(frame, LocalDataSource(frame).config, DRAW, blacklist)
    source = LocalDataSource(files["recharges"], files["blacklist"])
    streamed = source.get_eligible_participants(DRAW)
    pd.testing.assert_frame_equal(memory.participants, streamed.participants)
    assert memory.summary.to_dict() == streamed.summary.to_dict()
    assert list(memory.rejected["reason"]) == list(streamed.rejected["reason"])


def _many_rows(rows: int) -> pd.DataFrame:
    """Recharges over many DuckDB chunks: repeated ids far apart (the first occurrence
    sometimes invalid), scattered rejected rows and recurring subscribers."""
    rng = np.random.default_rng(15)
    ids = np.array([f"t{i}" for i in range(rows)], dtype=object)
    later = rng.choice(np.arange(rows // 2, rows), 2_000, replace=False)
    ids[later] = ids[rng.integers(0, rows // 4, 2_000)]  # repeats of early ids
    numbers = np.array([f"0803{n:07d}" for n in rng.integers(0, 20_000, rows)], dtype=object)
    numbers[rng.integers(0, rows, 500)] = "12345"  # not a Nigerian mobile
    amounts = rng.integers(50, 2_000, rows).astype(str).astype(object)
    amounts[rng.integers(0, rows // 4, 500)] = "abc"  # bad amounts, some on first ids
    hours = rng.integers(0, 48, rows)
    stamps = [f"2026-11-{25 + h // 24:02d}T{h % 24:02d}:00:00Z" for h in hours]
    return pd.DataFrame(
        {"transaction_id": ids, "msisdn": numbers, "amount_ngn": amounts,
         "timestamp": stamps, "channel": "app"}
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_file_engine_keeps_input_order_across_many_chunks(tmp_path: Path, suffix: str) -> None:
    from drawkit.eligibility import apply_rules
    from drawkit.sources.local_engine import EngineSettings

    frame = _many_rows(300_000)
    path = tmp_path / f"recharges.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, row_group_size=20_000)
    memory = apply_rules(read_recharges(path), LocalDataSource(frame).config, DRAW)
    source = LocalDataSource(path, engine=EngineSettings(threads=2))
    streamed = source.get_eligible_participants(DRAW)
    assert memory.summary.to_dict() == streamed.summary.to_dict()
    assert memory.summary.to_dict()["rows_excluded"]["duplicate_transaction"] > 1_000
    pd.testing.assert_frame_equal(memory.participants, streamed.participants)
    assert list(memory.rejected["transaction_id"]) == list(streamed.rejected["transaction_id"])
    assert list(memory.rejected["reason"]) == list(streamed.rejected["reason"])


@pytest.mark.parametrize("name", ["drawkit_id_hash", "DrawKit_ID_Hash"])
def test_csv_with_a_column_named_like_the_engines_id_hash(tmp_path: Path, name: str) -> None:
    """The engine's copy of a CSV adds an id-hash column under a name the export does not
    use, in any case: an export with that column (junk in it), id-less rows and repeated
    ids gives the in-memory result, and the column comes back as it was in rejected rows."""
    from drawkit.eligibility import apply_rules

    body = (
        f"transaction_id,msisdn,amount_ngn,timestamp,{name}\n"
        "t1,08031234567,250,2026-11-26T10:00:00,1\n"
        ",08031234567,300,2026-11-26T10:00:00,1\n"
        " ,08051234569,400,2026-11-26T10:00:00,x\n"
        "t1 ,08051234569,500,2026-11-26T10:00:00,2\n"
        "t2,08051234569,abc,2026-11-26T10:00:00,3\n"
        "t2,08051234569,700,2026-11-26T10:00:00,4\n"
    )
    path = tmp_path / "recharges.csv"
    path.write_text(body, encoding="utf-8")
    memory = apply_rules(read_recharges(path), LocalDataSource(path).config, DRAW)
    streamed = LocalDataSource(path).get_eligible_participants(DRAW)
    assert memory.summary.to_dict() == streamed.summary.to_dict()
    assert memory.summary.rows_excluded["duplicate_transaction"] == 1  # "t1 " is t1
    assert memory.summary.rows_rejected["missing_transaction_id"] == 2
    pd.testing.assert_frame_equal(memory.participants, streamed.participants)
    assert list(streamed.rejected[name]) == ["1", "x", "3"]
    assert list(streamed.rejected.columns)[:5] == list(memory.rejected.columns)[:5]


@pytest.mark.parametrize("names", [("msisdn", "MSISDN"), ("msisdn", "msisdn")])
def test_parquet_columns_named_twice_are_clear_errors(tmp_path: Path, names: tuple) -> None:
    """A Parquet export with a column named twice (or twice but for case) is refused on
    both paths, naming the column, not read with one of them renamed or dropped."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [pa.array(["t1"]), pa.array(["08031234567"]), pa.array(["x"]),
               pa.array(["250"]), pa.array(["2026-11-26T10:00:00"])]
    schema = ["transaction_id", names[0], names[1], "amount_ngn", "timestamp"]
    path = tmp_path / "recharges.parquet"
    pq.write_table(pa.Table.from_arrays(columns, names=schema), path)
    for read in (read_recharges, lambda p: LocalDataSource(p).get_eligible_participants(DRAW)):
        with pytest.raises(InputError, match=f"column '{names[1]}' appears twice"):
            read(path)


def test_a_parquet_column_named_file_row_number_is_a_clear_error(tmp_path: Path) -> None:
    """DuckDB numbers Parquet rows in a column called file_row_number: an export with
    its own column of that name is refused, naming it, not a DuckDB binder error."""
    path = tmp_path / "recharges.parquet"
    frame = pd.DataFrame({"transaction_id": ["t1"], "msisdn": ["08031234567"],
                          "amount_ngn": ["250"], "timestamp": ["2026-11-26T10:00:00"],
                          "File_Row_Number": ["7"]})
    frame.to_parquet(path)
    with pytest.raises(InputError, match="column named file_row_number.*rename"):
        LocalDataSource(path).get_eligible_participants(DRAW)
