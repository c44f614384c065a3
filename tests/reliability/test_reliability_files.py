"""Recharge and blacklist files that are not what they should be: wrong encodings, binary,
empty, missing or extra columns, ragged rows, quoting; then the rules on what was read."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_support import nationals, spellings

from drawkit.config import PromotionConfig
from drawkit.eligibility import apply_rules
from drawkit.errors import DrawkitError, InputError
from drawkit.sources.local import LocalDataSource, read_blacklist, read_recharges

pytestmark = pytest.mark.reliability

COLUMNS = ["transaction_id", "msisdn", "amount_ngn", "timestamp"]
DRAW_DATE = date(2026, 11, 24)
CASES = {
    "bytes": 0,
    "bytes_read": 0,
    "tables": 0,
    "rows": 0,
    "encodings": 0,
    "parquet": 0,
    "parquet_rows": 0,
}

cell_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"), max_size=12
)


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[bytes, int, list[str]]:
    """A CSV (columns in any order, extra columns, odd cells) and its number of data rows."""
    extra = draw(st.lists(st.sampled_from(["channel", "note", "Amount", " x "]), unique=True))
    columns = draw(st.permutations(COLUMNS + extra))
    n = draw(st.integers(0, 25))
    rows = []
    for i in range(n):
        cells = {
            "transaction_id": draw(st.one_of(st.just(f"tx{i}"), cell_text)),
            "msisdn": draw(st.one_of(nationals.flatmap(spellings).map(str), cell_text)),
            "amount_ngn": draw(st.one_of(st.integers(-10, 10**6).map(str), cell_text)),
            "timestamp": draw(
                st.one_of(
                    st.just("2026-11-23T10:00:00"), st.just("2026-11-23 10:00+01:00"), cell_text
                )
            ),
        }
        rows.append([cells.get(c, draw(cell_text)) for c in columns])
    out = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])), quoting=quoting)
    writer.writerow(columns)
    writer.writerows(rows)
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return (bom + out.getvalue()).encode("utf-8"), n, columns


def write(tmp_path_factory: pytest.TempPathFactory, raw: bytes, name: str = "r.csv") -> Path:
    path = tmp_path_factory.mktemp("files") / name
    path.write_bytes(raw)
    return path


@settings(max_examples=250)
@given(csv_tables())
def test_any_well_formed_csv_is_read_without_losing_a_row(tmp_path_factory, case) -> None:  # noqa: ANN001
    raw, n, columns = case
    path = write(tmp_path_factory, raw)
    frame = read_recharges(path)
    assert len(frame) == n
    assert set(COLUMNS) <= set(frame.columns)
    result = apply_rules(frame, PromotionConfig(), DRAW_DATE)
    assert result.summary.rows_in == n and result.summary.accounted
    CASES["tables"] += 1
    CASES["rows"] += n


def _header_then(body: bytes) -> bytes:
    return ",".join(COLUMNS).encode() + b"\n" + body


raw_files = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(_header_then),
    st.text(max_size=100).map(lambda t: _header_then(t.encode("utf-8", "surrogatepass"))),
    st.sampled_from(
        [
            b"",
            b"\n",
            b"\xef\xbb\xbf",
            ",".join(COLUMNS).encode(),
            b"transaction_id,msisdn\nt1,08031234567\n",  # missing columns
            b"msisdn;amount_ngn;timestamp;transaction_id\n08031234567;500;2026;t\n",  # ; separated
            _header_then(b"t1,08031234567,500\n"),  # a short row
            _header_then(b"t1,08031234567,500,2026-11-23,extra,more\n"),  # a long row
            _header_then(b't1,"0803 123,4567,500,2026-11-23\n'),  # an open quote
            _header_then(b"t1,\x0008031234567,500,2026-11-23\n"),  # a NUL byte
            "transaction_id,msisdn,amount_ngn,timestamp\nt1,08031234567,₦500,é\n".encode(
                "latin-1", "replace"
            ),
            "transaction_id,msisdn,amount_ngn,timestamp\nt1,08031234567,500,2026-11-23\n".encode(
                "utf-16"
            ),
            "transaction_id,msisdn,amount_ngn,timestamp\nt1,08031234567,500,2026-11-23\n".encode(
                "utf-16-le"
            ),
            b"PK\x03\x04" + bytes(range(256)),  # a zip (xlsx) renamed .csv
        ]
    ),
)


@settings(max_examples=400)
@given(raw=raw_files, suffix=st.sampled_from([".csv", ".CSV", ".txt", ".parquet"]))
def test_any_bytes_give_a_table_or_an_input_error(tmp_path_factory, raw, suffix) -> None:  # noqa: ANN001
    path = write(tmp_path_factory, raw, "recharges" + suffix)
    CASES["bytes"] += 1
    try:
        frame = read_recharges(path)
    except DrawkitError as exc:
        assert str(path) in str(exc)
        return
    CASES["bytes_read"] += 1
    result = apply_rules(frame, PromotionConfig(), DRAW_DATE)
    assert result.summary.accounted and result.summary.rows_in == len(frame)


@pytest.mark.parametrize(
    "encoding", ["latin-1", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "utf-32"]
)
def test_non_utf8_files_are_refused_naming_the_file_and_the_fix(tmp_path, encoding: str) -> None:
    text = "transaction_id,msisdn,amount_ngn,timestamp\nt1,08031234567,500,2026-11-23 Ikéja ₦\n"
    raw = text.encode(encoding, "replace")
    path = tmp_path / "recharges.csv"
    path.write_bytes(raw)
    with pytest.raises(InputError, match="recharges.csv") as info:
        read_recharges(path)
    assert "UTF-8" in str(info.value)
    blacklist = tmp_path / "blacklist.csv"
    blacklist.write_bytes("msisdn\n08031234567 é\n".encode(encoding, "replace"))
    with pytest.raises(InputError, match="blacklist.csv"):
        read_blacklist(blacklist)
    CASES["encodings"] += 1


def test_empty_and_header_only_files(tmp_path, reliability) -> None:  # noqa: ANN001
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.csv"):
        read_recharges(empty)
    header = tmp_path / "header.csv"
    header.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    frame = read_recharges(header)
    result = apply_rules(frame, PromotionConfig(), DRAW_DATE)
    assert result.summary.rows_in == 0 and len(result.participants) == 0
    source = LocalDataSource(header, config=PromotionConfig())
    assert source.get_eligible_participants(DRAW_DATE).summary.rows_in == 0
    reliability.add(
        "bad input: recharge files",
        "a 0-byte file; a header-only file through LocalDataSource",
        2,
        "InputError naming the file; header-only gives 0 rows, 0 participants",
    )


@st.composite
def parquet_frames(draw: st.DrawFn) -> pd.DataFrame:
    """A recharge table with one storage type per column, as exports really come."""
    n = draw(st.integers(1, 20))
    nats = draw(st.lists(nationals, min_size=n, max_size=n))
    kind = draw(st.sampled_from(["int", "float", "text", "e164"]))
    msisdn = {
        "int": pd.Series([int("234" + x) for x in nats], dtype="int64"),
        "float": pd.Series([float("0" + x) for x in nats], dtype="float64"),
        "text": pd.Series(["0" + x for x in nats], dtype="string"),
        "e164": pd.Series(["+234" + x for x in nats], dtype=object),
    }[kind]
    amounts = draw(st.lists(st.integers(-100, 50_000), min_size=n, max_size=n))
    amount_kind = draw(st.sampled_from(["int", "float", "text"]))
    amount = {
        "int": pd.Series(amounts, dtype="int64"),
        "float": pd.Series([a + 0.5 if a % 7 == 0 else float(a) for a in amounts]),
        "text": pd.Series([str(a) for a in amounts], dtype=object),
    }[amount_kind]
    offsets = draw(st.lists(st.integers(-3 * 86400, 3 * 86400), min_size=n, max_size=n))
    stamps = pd.Series(pd.Timestamp("2026-11-23 12:00") + pd.to_timedelta(offsets, unit="s"))
    ts_kind = draw(st.sampled_from(["naive", "utc", "lagos", "text"]))
    timestamp = {
        "naive": stamps,
        "utc": stamps.dt.tz_localize("UTC"),
        "lagos": stamps.dt.tz_localize("Africa/Lagos"),
        "text": stamps.dt.strftime("%Y-%m-%dT%H:%M:%S"),
    }[ts_kind]
    ids = pd.Series([f"tx{i % max(1, n - 2)}" for i in range(n)], dtype=object)
    frame = pd.DataFrame(
        {"transaction_id": ids, "msisdn": msisdn, "amount_ngn": amount, "timestamp": timestamp}
    )
    frame.attrs["kinds"] = (kind, amount_kind, ts_kind)
    return frame


@settings(max_examples=120)
@given(parquet_frames())
def test_typed_parquet_exports_are_read_and_accounted(tmp_path_factory, frame) -> None:  # noqa: ANN001
    path = tmp_path_factory.mktemp("pq") / "recharges.parquet"
    frame.to_parquet(path, index=False)
    read = read_recharges(path)
    assert len(read) == len(frame)
    result = apply_rules(read, PromotionConfig(), DRAW_DATE)
    assert result.summary.accounted and result.summary.rows_in == len(frame)
    bad_numbers = result.rejected["reason"].astype(str).str.startswith("invalid_msisdn")
    assert not bad_numbers.any(), frame.attrs["kinds"]  # every number spelling is valid
    CASES["parquet"] += 1
    CASES["parquet_rows"] += len(frame)


def test_file_fuzz_figures(reliability) -> None:  # noqa: ANN001
    assert CASES["tables"] and CASES["bytes"] and CASES["encodings"] and CASES["parquet"]
    reliability.add(
        "bad input: recharge files",
        "CSV files with columns in any order, extra columns, BOM, CRLF, quotes/commas/"
        "newlines/unicode in cells",
        CASES["tables"],
        f"every data row read and accounted for ({CASES['rows']:,} rows)",
    )
    reliability.add(
        "bad input: recharge files",
        "random bytes, a header then random bytes, ';'-separated, short/long rows, open "
        "quote, NUL, latin-1, UTF-16, a zip renamed .csv, as .csv/.txt/.parquet",
        CASES["bytes"],
        f"InputError naming the file, or a table whose rows are all accounted for "
        f"({CASES['bytes_read']} read)",
    )
    reliability.add(
        "bad input: recharge files",
        "Parquet exports with typed columns: numbers as int64 (234...), float (lost 0), "
        "text, E.164; amounts int/float/text incl. negatives; timestamps naive, UTC, "
        "Africa/Lagos, text",
        CASES["parquet"],
        f"every row read and accounted for ({CASES['parquet_rows']:,} rows); no valid number "
        "rejected whatever its storage type",
    )
    reliability.add(
        "bad input: recharge files",
        "the same recharge and blacklist file in latin-1, cp1252, UTF-16 (LE/BE/BOM), UTF-32",
        CASES["encodings"],
        "InputError naming the file and asking for UTF-8",
    )


HEADER = ",".join(COLUMNS).encode() + b"\n"
HOSTILE = {
    "duplicate header": b"transaction_id,msisdn,amount_ngn,timestamp,msisdn\nt1,1,1,1,1\n",
    "a header field over 128 KiB": HEADER[:-1] + b"," + b"h" * (129 << 10) + b"\n",
    "an unclosed quote": HEADER + b't1,"08031234567,500,2026-11-23\nt2,1,1,1\n',
    "a NUL-only file": b"\x00" * 4096,
    "a 3 MiB line": HEADER + b"t1," + b"8" * (3 << 20) + b",1,2026-11-23\n",
    "a 3 MiB line after good rows": HEADER + b"t0,1,1,1\n" * 50 + b"t1," + b"8" * (3 << 20)
    + b",1,1\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_input_errors_on_both_paths(tmp_path, case: str) -> None:  # noqa: ANN001
    path = tmp_path / "recharges.csv"
    path.write_bytes(HOSTILE[case])
    with pytest.raises(InputError, match="recharges.csv"):
        read_recharges(path)
    with pytest.raises(InputError, match="recharges.csv"):
        LocalDataSource(path).get_eligible_participants(DRAW_DATE)
    CASES.setdefault("hostile", 0)
    CASES["hostile"] += 1


def test_parquet_list_and_struct_columns_are_input_errors(tmp_path) -> None:  # noqa: ANN001
    import pyarrow as pa
    import pyarrow.parquet as pq

    for kind, values in {
        "list": pa.array([["08031234567"]]),
        "struct": pa.array([{"n": "08031234567"}]),
        "map": pa.array([[("n", "08031234567")]], pa.map_(pa.string(), pa.string())),
    }.items():
        path = tmp_path / f"{kind}.parquet"
        pq.write_table(pa.table({"transaction_id": ["t1"], "msisdn": values,
                                 "amount_ngn": ["1"], "timestamp": ["2026-11-23"]}), path)
        with pytest.raises(InputError, match="column msisdn holds"):
            read_recharges(path)
        with pytest.raises(InputError, match="column msisdn holds"):
            LocalDataSource(path).get_eligible_participants(DRAW_DATE)


_FULL_DISK = """
import resource, signal, sys
from datetime import date
from drawkit.errors import InputError
from drawkit.sources.local import LocalDataSource
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    LocalDataSource(sys.argv[1]).write_cohort(date(2026, 11, 24), sys.argv[2])
except InputError as exc:
    print("InputError:", exc)
"""


# A CSV with files up to 200 bytes: the engine's Parquet copy of it cannot be written. The
# same rows as Parquet (no copy) with files up to 40 KB: participants.csv (~57 KB) cannot.
@pytest.mark.parametrize(
    ("limit", "said"),
    [(200, "InputError: not enough memory or disk space to read recharges file"),
     (40_000, "InputError: cannot write")],
)
def test_a_full_disk_while_writing_the_cohort_is_an_input_error(  # noqa: ANN001
    tmp_path, reliability, limit: int, said: str
) -> None:
    import subprocess
    import sys

    rows = "".join(f"t{i},0803{i:07d},500,2026-11-23T10:00:00\n" for i in range(3000))
    path = tmp_path / "recharges.csv"
    path.write_text(",".join(COLUMNS) + "\n" + rows + "t9,12345,1,x\n", encoding="utf-8")
    if limit >= 40_000:  # the cohort's own files, whatever size the engine's copy has
        path = tmp_path / "recharges.parquet"
        pd.read_csv(tmp_path / "recharges.csv", dtype=str).to_parquet(path)
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(path), str(tmp_path / "out"), str(limit)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith(said), done.stdout
    assert not (tmp_path / "out" / "participants.csv").exists()
    if limit < 40_000:
        return  # one report row for the file checks, written by the last case
    reliability.add(
        "bad input: recharge files",
        "duplicate header, a 129 KiB header field, an unclosed quote, a NUL-only file, 3 MiB "
        "lines (first row and mid-file), Parquet list/struct/map columns; a disk that fills "
        "while the engine copies the CSV or while the cohort is written",
        len(HOSTILE) + 3 + 2,
        "InputError naming the file on the in-memory and the streaming path (lines over 1 MiB "
        "refused after reading 2 MiB); a full disk leaves no participants.csv behind",
    )
