"""Local eligibility on DuckDB: the rules of docs/eligibility-rules.md over a CSV or
Parquet file of any size, out of core (DuckDB spills to a private temporary folder past
its memory limit). What reaches Python is bounded by subscribers, not rows.

0. A CSV is copied once, in file order, to a private Parquet file (:func:`staged`), so
   that every later scan runs on all cores with its rows numbered; the copy carries each
   trimmed transaction id's hash, so passes 1 and 2 read it instead of computing it.
1. Three narrow scans: the distinct number spellings; the distinct amounts and
   timestamps; the transaction ids whose 64-bit hash repeats (a superset of the real
   duplicates, resolved exactly in step 4). Each distinct value is evaluated once by the
   value grammar of :mod:`drawkit.eligibility` (the same SQL as the in-memory path);
   spellings by :func:`drawkit.msisdn.national_sql`, and the rest by
   :func:`drawkit.msisdn.national_numbers` for the exact answer and reason.
2. One scan: every row through :class:`RowRules` (status: rejected reason, inside or
   outside the window) and to its subscriber, into a narrow aggregate (counts and the
   points mode's sums) per subscriber; rows that need a look of their own (rejected, a
   number that is not a Nigerian mobile, or an id hash that repeats) keep a group each.
3. One scan: those rows again through the same :class:`RowRules`; the rejected ones, in
   input order, to a sink (rejected.csv) or collected; the others kept as candidates.
4. In Python: the first valid occurrence of each id keeps it (input order), later ones
   are ``duplicate_transaction``; then the blacklist, points and entries.

The result equals :func:`drawkit.eligibility.apply_rules` on the same rows (tests compare
them on hostile data), except that excluded rows are counted, not listed.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from drawkit.config import PromotionConfig
from drawkit.eligibility import (
    A_MISSING,
    BLACKLISTED,
    INVALID_MSISDN,
    RECHARGE_COLUMNS,
    RULES,
    STATUS_LABELS,
    TIME_MISSING,
    UNDER_ONE_POINT,
    BlacklistNumbers,
    EligibilityResult,
    EligibilitySummary,
    amount_layers,
    arrow_table,
    as_date,
    draw_window,
    layered,
    microseconds,
    participant_frame,
    read_blacklist_numbers,
    sql_literal,
    sql_number_text,
    sql_text,
    sql_typed_timestamp_us,
    timestamp_layers,
)
from drawkit.errors import InputError
from drawkit.msisdn import national_numbers, national_sql
from drawkit.redact import redact

logger = logging.getLogger("drawkit.sources.local_engine")
MAX_LINE_BYTES = 1 << 20  # a CSV line (row) longer than this is refused
HEAD_BYTES = 2 * MAX_LINE_BYTES
OUTSIDE = 8  # row status: valid, outside the window (0 = valid, inside)
RejectedSink = Callable[[pd.DataFrame], None]
STRING = pd.StringDtype("pyarrow")
_NESTED = ("[", "STRUCT", "MAP", "UNION")
_FLOATS = ("DOUBLE", "FLOAT", "REAL")
_TIMESTAMPS = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME", "DATE")


@dataclass(frozen=True)
class EngineSettings:
    """DuckDB resources: threads (None = all cores), memory limit (None = DuckDB's
    default, 80% of RAM; past it DuckDB spills to disk) and the folder it spills to
    (None = a private temporary one)."""

    threads: int | None = None
    memory_limit: str | None = "auto"
    spill_dir: Path | None = None

    def limit_for(self, path: Path) -> str | None:
        """The memory limit for ``path``: "auto" is about 40 bytes a row (1 to 6 GB),
        which keeps a file of tens of millions of rows within ~1.5 GB and leaves room
        for the hash tables DuckDB cannot spill at 100 M rows."""
        if self.memory_limit != "auto":
            return self.memory_limit
        rows = estimated_rows(path)
        return f"{min(max(rows * 40 / 1e9, 1.0), 6.0):.1f}GB"


def estimated_rows(path: Path) -> int:
    """Rows of a recharge file: Parquet metadata, or a CSV's size over its first lines'."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
        if not head:
            return 0
        lines = max(head.count(b"\n"), 1)
        return int(path.stat().st_size / (len(head) / lines))
    except (OSError, ValueError, pa.ArrowException):
        return 0


# ------------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class Source:
    """A recharge (or blacklist) file as DuckDB reads it."""

    path: Path
    sql: str  # a table function call
    columns: tuple[str, ...]
    types: dict[str, str]
    row_number: str | None  # expression giving the input position (None: a CSV)
    id_hash: str | None = None  # a column holding id_hash_sql's value (a staged CSV)


def connect(
    settings: EngineSettings, spill: Path, limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the engine's limits, spilling into ``spill``."""
    # Nothing relies on DuckDB's output order without an ORDER BY (the input position is
    # Parquet's file_row_number; see staged()). Not preserving order lets tables be
    # built in parallel.
    config = {"temp_directory": str(spill), "preserve_insertion_order": False}
    if settings.threads:
        config["threads"] = settings.threads
    if limit or (settings.memory_limit and settings.memory_limit != "auto"):
        config["memory_limit"] = limit or settings.memory_limit
    con = duckdb.connect(config=config)
    con.execute("SET TimeZone = 'UTC'")
    return con


def open_source(
    con: duckdb.DuckDBPyConnection, path: Path, what: str, required: tuple[str, ...]
) -> Source:
    """Check ``path`` and describe it as a DuckDB source; errors name the file and what
    is wrong (missing or duplicate columns, nested Parquet types, not UTF-8, NUL bytes,
    an unclosed quote, a line over 1 MiB...)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file {path} does not exist")
    if path.suffix.lower() in (".parquet", ".pq"):
        sql = f"read_parquet({sql_literal(str(path))}, file_row_number = true)"
        if "file_row_number" in {n.lower() for n in _stored_names(path, ())}:
            raise InputError(
                f"{what} file {path} has a column named file_row_number, the name DuckDB "
                "gives a Parquet row's position: rename that column"
            )
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()  # noqa: S608
        except duckdb.Error as exc:
            raise InputError(f"cannot read {what} file {path}: {first_error_line(exc)}") from None
        types = {str(r[0]).strip(): str(r[1]) for r in described if r[0] != "file_row_number"}
        columns = tuple(str(r[0]) for r in described if r[0] != "file_row_number")
        check_columns(path, what, _stored_names(path, columns), required)
        for name in required:
            if any(mark in types[name] for mark in _NESTED):
                raise InputError(
                    f"{what} file {path}: column {name} holds {types[name]} values, not text "
                    "or numbers: export it as a plain column"
                )
        return Source(path, sql, columns, types, "file_row_number")
    header = read_csv_header(path, what)
    check_columns(path, what, [h.strip() for h in header], required)
    spec = ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in header)
    sql = (
        f"read_csv({sql_literal(str(path))}, header = true, auto_detect = false, "
        f"columns = {{{spec}}}, delim = ',', quote = '\"', escape = '\"', "
        f"strict_mode = true, null_padding = false, max_line_size = {MAX_LINE_BYTES}, "
        "encoding = 'utf-8')"
    )
    types = {name.strip(): "VARCHAR" for name in header}
    return Source(path, sql, tuple(header), types, None)


def staged(con: duckdb.DuckDBPyConnection, source: Source, folder: Path) -> Source:
    """``source`` with row numbers read on every core: a Parquet file as it is; a CSV
    copied once, in file order, into a private Parquet file in ``folder``. (DuckDB
    numbers CSV rows only with ``row_number() OVER ()``, which runs on one thread and
    held every later pass to it; its COPY keeps file order, as documented.)"""
    if source.row_number is not None:
        return source
    copy = folder / "recharges.parquet"
    hashed, taken = "drawkit_id_hash", {c.lower() for c in source.columns}
    while hashed in taken:  # a name the export does not use (DuckDB ignores case)
        hashed += "_"
    id_column = quoted(next(c for c in source.columns if c.strip() == "transaction_id"))
    con.execute("SET preserve_insertion_order = true")
    try:
        (rows,) = con.execute(
            f"COPY (SELECT *, {id_hash_sql(sql_text(id_column))} AS {quoted(hashed)} "
            f"FROM {source.sql}) TO {sql_literal(str(copy))} "  # noqa: S608
            "(FORMAT parquet, COMPRESSION snappy)"
        ).fetchone()
    finally:
        con.execute("SET preserve_insertion_order = false")
    if rows == 0:
        check_empty_read(con, source)
    sql = f"read_parquet({sql_literal(str(copy))}, file_row_number = true)"
    return replace(source, sql=sql, row_number="file_row_number", id_hash=quoted(hashed))


def id_hash_sql(tx: str) -> str:
    """The 64-bit hash of a trimmed transaction id ``tx`` (SQL), NULL when it is missing:
    pass 1 finds the ids whose hash repeats, pass 2 marks the rows that carry one."""
    return f"CASE WHEN {tx} IS NOT NULL THEN hash({tx}) END"


def check_empty_read(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """When a CSV with more than a header gave no row, read it again single-threaded so
    that DuckDB reports the real problem (its parallel reader can return nothing for a
    file made of one huge line)."""
    if source.row_number is not None:  # not a CSV
        return
    with source.path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    body = head[head.find(b"\n") + 1 :] if b"\n" in head else b""
    if not body.strip() and source.path.stat().st_size <= len(head):
        return
    serial = source.sql[:-1] + ", parallel = false)"
    con.execute(f"SELECT count(*) FROM {serial}").fetchall()  # noqa: S608 - raises


def read_csv_header(path: Path, what: str) -> list[str]:
    """The header of a CSV file, read from its first bytes: refuses an empty file, NUL
    bytes, text that is not UTF-8, and a header or first row longer than 1 MiB."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        more = bool(handle.read(1))
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise InputError(f"{what} file {path} is empty: expected a header line")
    if b"\x00" in head:
        raise InputError(
            f"{what} file {path} contains NUL bytes: it is not UTF-8 text (save it as UTF-8 CSV)"
        )
    end = head.find(b"\n")
    if end < 0 and more:
        raise InputError(f"{what} file {path}: the header line is longer than 1 MiB")
    if more and head.find(b"\n", end + 1) < 0:
        raise InputError(f"{what} file {path}: the first row is longer than 1 MiB")
    line = head[: end if end >= 0 else len(head)]
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            f"{what} file {path} is not UTF-8 text: save it as UTF-8 CSV"
        ) from None
    try:
        header = next(csv.reader(io.StringIO(text.rstrip("\r"))), [])
    except csv.Error as exc:
        raise InputError(f"{what} file {path}: the header cannot be read ({exc})") from None
    return header


def _stored_names(path: Path, described: tuple[str, ...]) -> list[str]:
    """A Parquet file's column names as stored (stripped): DuckDB renames a repeated
    name (``msisdn_1``), which would hide it from :func:`check_columns`."""
    import pyarrow.parquet as pq

    try:
        return [str(n).strip() for n in pq.read_schema(path).names]
    except (pa.ArrowException, OSError):  # not Parquet: DuckDB says why when it reads it
        return [c.strip() for c in described]


def check_columns(path: Path, what: str, names: list[str], required: tuple[str, ...]) -> None:
    """Refuse a column named twice (names compare without case, as in SQL) and a
    missing required column; ``names`` are stripped."""
    seen: dict[str, str] = {}
    for name in names:
        if name.lower() in seen:
            also = "" if seen[name.lower()] == name else f" (as {seen[name.lower()][:60]!r})"
            raise InputError(
                f"{what} file {path}: column {name[:60]!r} appears twice{also}: column "
                "names are compared without regard to case; rename or drop one"
            )
        seen[name.lower()] = name
    missing = [c for c in required if c not in seen.values()]
    if missing:
        found = ", ".join(n[:60] for n in names) or "none"
        raise InputError(
            f"{what} file {path} lacks column(s) {', '.join(missing)} (found: {found})"
        )


_REASONS = re.compile(
    r"Expected Number of Columns: \d+ Found: \d+|Value with unterminated quote found|"
    r"Maximum line size of \d+ bytes exceeded|Invalid unicode[^.\n]*|"
    r"quote should be followed by[^.\n]*|unquoted value[^.\n]*"
)


def first_error_line(exc: BaseException) -> str:
    """What a DuckDB error says is wrong, in one line, redacted: where, and the reason
    when DuckDB names one, never the offending row it quotes."""
    text = str(exc)
    head = text.split("Original Line:")[0].split("\n")[0].strip()
    found = _REASONS.search(text)
    message = f"{head}: {found.group(0)}" if found and found.group(0) not in head else head
    return redact(message[:300] or type(exc).__name__)


def file_error(exc: duckdb.Error, what: str, path: Path) -> InputError:
    """A DuckDB error reading ``path`` as an InputError naming the file and the fix."""
    full = str(exc).lower()
    if "unicode" in full or "utf-8" in full or "utf8" in full:
        return InputError(f"{what} file {path} is not UTF-8 text: save it as UTF-8 CSV")
    if "maximum line size" in full:
        return InputError(f"{what} file {path} has a line longer than 1 MiB: not a recharge export")
    if isinstance(exc, duckdb.OutOfMemoryException) or "space left" in full or "too large" in full:
        return InputError(
            f"not enough memory or disk space to read {what} file {path} "
            f"({first_error_line(exc)}): raise the engine's memory limit or free disk space"
        )
    return InputError(f"cannot read {what} file {path}: {first_error_line(exc)}")


def quoted(name: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------------------ row SQL


def _raw_sql(
    source: Source, config: PromotionConfig, originals: bool = False
) -> tuple[str, bool]:
    """Per input row: rn, tx (trimmed), h (its hash), m, a (amount text, untrimmed), t
    (timestamp text, untrimmed) or t_us and t_null (typed timestamps), and with
    ``originals`` every input column as text (``o_0``, ``o_1``...); and whether the time
    is typed."""
    names = {c.strip(): c for c in source.columns}
    col = {k: quoted(names[k]) for k in RECHARGE_COLUMNS}
    types = {k: source.types[k].upper() for k in RECHARGE_COLUMNS}
    amount = col["amount_ngn"]
    a = sql_number_text(amount) if types["amount_ngn"] in _FLOATS else f"CAST({amount} AS VARCHAR)"
    stamp, stamp_type = col["timestamp"], types["timestamp"]
    typed = stamp_type == "TIMESTAMP WITH TIME ZONE" or stamp_type in _TIMESTAMPS
    if typed:
        aware = stamp_type == "TIMESTAMP WITH TIME ZONE"
        us = sql_typed_timestamp_us(stamp, aware, config.timezone)
        t = f"{us} AS t_us, {stamp} IS NULL AS t_null"
    else:
        t = f"CAST({stamp} AS VARCHAR) AS t"
    texts = "".join(
        f", CAST({quoted(c)} AS VARCHAR) AS o_{i}" for i, c in enumerate(source.columns)
    ) if originals else ""
    tx = sql_text(col["transaction_id"])
    h = source.id_hash or id_hash_sql(tx)
    select = (
        f"SELECT {source.row_number} AS rn, {tx} AS tx, {h} AS h, "
        f"CAST({col['msisdn']} AS VARCHAR) AS m, {a} AS a, {t}{texts} FROM {source.sql}"
    )
    return select, typed  # noqa: S608 - built from constants and quoted names


@dataclass(frozen=True)
class RowRules:
    """The per-row rules as SQL over the lookups (amounts, times, cand), for a recharge
    file whose time column is typed or text, and a window in UTC microseconds."""

    typed: bool
    start: int
    cutoff: int

    def over(self, relation: str) -> str:
        """``relation``'s columns plus kobo, tu (UTC microseconds), is_cand (the id's hash
        repeats) and status: 1-7 a rejection in the rules' order, 0 inside the window,
        OUTSIDE after or before it. ``relation`` has rn, h, m, a and t (or t_us, t_null)."""
        if self.typed:
            times = "r.t_us AS tu, CASE WHEN r.t_null THEN 1 WHEN r.t_us IS NULL THEN 2 ELSE 0 END"
            time_join = ""
        else:  # no match in times: a missing time
            times = f"ti.t_us AS tu, coalesce(ti.t_st, {TIME_MISSING})"
            time_join = "LEFT JOIN times ti ON r.t = ti.t"
        return f"""
            SELECT r.*, am.kobo,
                   r.h IS NOT NULL AND r.h IN (SELECT h FROM cand) AS is_cand,
                   CASE WHEN r.h IS NULL THEN 1
                        WHEN coalesce(am.a_st, {A_MISSING}) <> 0
                             THEN 1 + coalesce(am.a_st, {A_MISSING})
                        WHEN r.t_st <> 0 THEN 5 + r.t_st
                        WHEN r.tu >= {self.start} AND r.tu < {self.cutoff} THEN 0
                        ELSE {OUTSIDE} END AS status
            FROM (SELECT r.*, {times} AS t_st FROM {relation} r {time_join}) r
            LEFT JOIN amounts am ON r.a = am.a
        """  # noqa: S608 - built from constants


def sum_columns(config: PromotionConfig) -> dict[str, str]:
    """The per-subscriber sums the points mode needs (rows inside the window): name -> SQL.
    BIGINT, not DuckDB's HUGEINT sums: Arrow carries those as decimals, which numpy
    converts one Python object at a time (4 s for 2.4 M subscribers)."""
    unit = config.naira_per_point * 100
    if config.points_mode == "summed":
        return {"kobo_in": "coalesce(sum(kobo) FILTER (status = 0), 0)::BIGINT"}
    return {
        "pts_in": f"coalesce(sum(kobo // {unit}) FILTER (status = 0), 0)::BIGINT",
        "zero_in": f"count(*) FILTER (status = 0 AND kobo < {unit})",
    }


# ------------------------------------------------------------------------------ engine


def eligibility_from_file(
    recharges: str | os.PathLike[str],
    config: PromotionConfig,
    draw_date: date,
    blacklist: pd.Series | BlacklistNumbers | None = None,
    *,
    rejected_sink: RejectedSink | None = None,
    settings: EngineSettings | None = None,
) -> EligibilityResult:
    """The eligibility rules over a recharge file, out of core.

    Rejected rows (input columns as text plus ``reason``) go to ``rejected_sink`` in
    batches, in input order; without a sink they are collected into ``result.rejected``.
    ``result.excluded`` is empty (the summary counts every excluded row).
    """
    draw_date = as_date(draw_date)
    settings = settings or EngineSettings()
    listed = read_blacklist_numbers(blacklist)
    trace = _Trace()
    with tempfile.TemporaryDirectory(prefix="drawkit-duckdb-", dir=settings.spill_dir) as spill:
        con = connect(settings, Path(spill), settings.limit_for(Path(recharges)))
        try:
            source = open_source(con, Path(recharges), "recharges", RECHARGE_COLUMNS)
            source = staged(con, source, Path(spill))
            trace("staged (a CSV copied to Parquet, once)")
            people, rows_in, looked = _run(con, source, config, draw_date, rejected_sink, trace)
        except duckdb.Error as exc:
            raise file_error(exc, "recharges", Path(recharges)) from None
        finally:
            con.close()  # DuckDB's buffers go before Python builds the participants
    result = _finish(people, rows_in, looked, listed, config, draw_date)
    trace("duplicates, blacklist, points")
    return result


INVALID_NUMBER = 9  # row status: a number that is not a Nigerian mobile (after code 1)


@dataclass(frozen=True)
class LookedAt:
    """What pass 3 found among the rows that need a look of their own."""

    counts: dict[str, int]  # rejected rows by reason
    candidates: pd.DataFrame  # valid rows whose id hash repeats (rn, national, status, kobo...)
    rejected: pd.DataFrame | None  # the rejected rows, when no sink took them


def _run(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    config: PromotionConfig,
    draw_date: date,
    sink: RejectedSink | None,
    trace: Callable[[str], None],
) -> tuple[pa.Table, int, LookedAt]:
    """Passes 1-3 in DuckDB: subscriber totals, rows read, the rows looked at one by one."""
    raw, typed = _raw_sql(source, config)
    con.execute(f"CREATE TEMP VIEW raw AS {raw}")
    # Pass 1: the distinct spellings, amounts and times (bounded by subscribers), and the
    # id hashes that repeat (a hash aggregate DuckDB spills past its memory limit). Three
    # narrow scans cost less than one with four grouping sets (5 s against 8 s at 20 M
    # rows). The id-less rows' NULL group is deleted after the aggregate: filtering them
    # out before it is pushed into the scan, which doubles its cost when h is computed.
    amounts_and_times = (
        "SELECT DISTINCT true AS is_a, a, NULL AS t FROM raw"  # typed times need no lookup
        if typed
        else "SELECT grouping(a) = 0 AS is_a, a, t FROM raw GROUP BY GROUPING SETS ((a), (t))"
    )
    con.execute("CREATE TEMP TABLE dist_m AS SELECT DISTINCT m FROM raw")
    con.execute(f"CREATE TEMP TABLE dist_at AS {amounts_and_times}")  # noqa: S608
    con.execute("CREATE TEMP TABLE cand AS SELECT h FROM raw GROUP BY h HAVING count(*) > 1")
    con.execute("DELETE FROM cand WHERE h IS NULL")
    trace("pass 1: distinct values, repeated ids")
    _lookups(con, config, typed)
    trace("lookups")
    # Pass 2: every row through the rules and to its subscriber; rows that need a look of
    # their own (rejected, a number that is not a Nigerian mobile, or an id hash that
    # repeats) keep their own group, the rest add up per subscriber. The aggregate is
    # kept narrow (counts and the points mode's sums); pass 3 evaluates the picked rows.
    window = draw_window(config, draw_date)
    start = microseconds(window.start) if window.start is not None else -(2**62)
    rules = RowRules(typed, start, microseconds(window.cutoff))
    sums = sum_columns(config)
    with _build_on_lookups(con):
        con.execute(f"""
            CREATE TEMP TABLE grouped AS
            SELECT national, pick, count(*) FILTER (status = 0) AS n_in,
                   count(*) FILTER (status = {OUTSIDE}) AS n_out,
                   {", ".join(f"{sql} AS {name}" for name, sql in sums.items())}
            FROM (
                SELECT s.national, r.kobo, r.status,
                       CASE WHEN r.is_cand OR r.status BETWEEN 1 AND 7 OR s.national IS NULL
                            THEN r.rn END AS pick
                FROM ({rules.over("raw")}) r LEFT JOIN spelled s ON r.m = s.m
            )
            GROUP BY national, pick
        """)  # noqa: S608
    trace("pass 2: the rules per row, grouped by subscriber")
    people = arrow_table(con.sql(f"""
        SELECT national, {", ".join(("n_in", "n_out", *sums))} FROM grouped
        WHERE pick IS NULL AND national IS NOT NULL ORDER BY national
    """))  # noqa: S608
    (rows_in, picked) = con.execute(
        "SELECT coalesce(sum(CASE WHEN pick IS NULL THEN n_in + n_out ELSE 1 END), 0), "
        "count(pick) FROM grouped"
    ).fetchall()[0]
    # pass 3 takes each picked row's number from here, and the reason a spelling is not
    # a Nigerian mobile from bad_spellings: the 5 M-spelling lookup can go
    con.execute(
        "CREATE TEMP TABLE picked AS SELECT pick AS rn, national FROM grouped "
        "WHERE pick IS NOT NULL"
    )
    con.execute(
        "CREATE TEMP TABLE bad_spellings AS SELECT m, why FROM spelled WHERE national IS NULL"
    )
    for table in ("grouped", "spelled"):
        con.execute(f"DROP TABLE {table}")
    trace(f"subscribers ({people.num_rows:,}) and picked rows ({picked:,})")
    looked = _look_at(con, source, config, rules, sink)
    trace("pass 3: rejected rows written, candidate ids read")
    return people, int(rows_in), looked


@contextmanager
def _build_on_lookups(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """While pass 2 or 3 runs, hash joins build on the lookups, never on the recharge rows:
    DuckDB's build-side optimizer can misjudge a file's size and build a table of every
    row (spilling it to disk), where the lookups are bounded by distinct values."""
    try:
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
    except duckdb.Error:  # a DuckDB without that optimizer: nothing to turn off
        pass
    try:
        yield
    finally:
        con.execute("RESET disabled_optimizers")


class _Trace:
    """DEBUG log of each engine step: seconds and the process's peak memory."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def __call__(self, step: str) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        now = time.perf_counter()
        peak = ""
        try:
            with open("/proc/self/status", encoding="ascii") as handle:
                peak = next((line.split()[1] for line in handle if line.startswith("VmHWM")), "")
        except OSError:
            pass
        logger.debug("engine %s: %.2f s, peak %s kB", step, now - self.last, peak)
        self.last = now


def _lookups(con: duckdb.DuckDBPyConnection, config: PromotionConfig, typed: bool) -> None:
    """Tables spelled (m -> national, why), amounts (a -> a_st, kobo) and times (t ->
    t_us, t_st) from pass 1's distinct values, each evaluated once."""
    con.execute(
        f"CREATE TEMP TABLE spell AS SELECT m, {national_sql('m')} AS nat FROM dist_m"
    )  # noqa: S608
    odd = arrow_table(con.sql("SELECT m FROM spell WHERE nat IS NULL"))
    national, reason = national_numbers(pd.Series(odd["m"].to_pylist(), dtype=object))
    why = reason.astype(object).where(reason.notna(), None).tolist()
    fixes = pa.table(
        {
            "m": odd["m"],
            "nat2": pa.array(np.where(national >= 0, national, 0), pa.int64(), mask=national < 0),
            "why": pa.array(why, pa.string()),
        }
    )
    con.register("fixes", fixes)
    con.execute("""
        CREATE TEMP TABLE spelled AS
        SELECT s.m, coalesce(s.nat, f.nat2) AS national, f.why
        FROM spell s LEFT JOIN fixes f ON s.m IS NOT DISTINCT FROM f.m
    """)
    con.unregister("fixes")
    amounts = layered(
        "(SELECT a AS a_raw FROM dist_at WHERE is_a)", f"a_raw, {sql_text('a_raw')} AS a0",
        amount_layers("a0"),
    )
    con.execute(f"CREATE TEMP TABLE amounts AS SELECT a_raw AS a, a_st, kobo FROM ({amounts})")
    if not typed:
        times = layered(
            "(SELECT t AS t_raw FROM dist_at WHERE NOT is_a)",
            f"t_raw, {sql_text('t_raw')} AS t0", timestamp_layers("t0", config.timezone),
        )
        con.execute(f"CREATE TEMP TABLE times AS SELECT t_raw AS t, t_us, t_st FROM ({times})")
    for table in ("spell", "dist_m", "dist_at"):  # pass 2 needs the memory
        con.execute(f"DROP TABLE {table}")


def _look_at(
    con: duckdb.DuckDBPyConnection, source: Source, config: PromotionConfig, rules: RowRules,
    sink: RejectedSink | None,
) -> LookedAt:
    """Pass 3: the rows picked by pass 2, in input order, through the same rules. Rejected
    rows (input columns as text plus ``reason``) go to ``sink`` (or are collected) and are
    counted by reason; the valid rows whose id hash repeats are kept, with their trimmed
    id and national number, for duplicate resolution."""
    names = [c.strip() for c in source.columns]
    renames = {f"o_{i}": name for i, name in enumerate(names)}
    raw, _ = _raw_sql(source, config, originals=True)
    rows = f"""(
        SELECT r.*, p.national, b.why AS bad_why
        FROM ({raw}) r JOIN picked p ON r.rn = p.rn LEFT JOIN bad_spellings b ON r.m = b.m
    )"""  # noqa: S608
    scan = f"""
        SELECT {", ".join(renames)}, rn, tx, kobo, tu AS t_us, is_cand, status, national,
               national IS NULL AS bad, coalesce(bad_why, 'missing phone number') AS why
        FROM ({rules.over(rows)}) ORDER BY rn
    """  # noqa: S608
    labels = np.array(STATUS_LABELS, dtype=object)
    counts: dict[str, int] = {}
    collected: list[pd.DataFrame] = []
    kept: list[pa.RecordBatch] = []
    for batch in _batches_built_on_lookups(con, scan):
        status = np.asarray(batch.column("status"), dtype=np.int64)
        bad = np.asarray(batch.column("bad"), dtype=bool)
        status = np.where(bad & (status != 1), INVALID_NUMBER, status)
        rejected = ((status >= 1) & (status <= 7)) | (status == INVALID_NUMBER)
        if rejected.any():
            lost = batch.filter(pa.array(rejected))
            why = np.asarray(lost.column("why").to_pylist(), dtype=object)
            here = status[rejected]
            reason = np.where(
                here == INVALID_NUMBER, INVALID_MSISDN + ": " + why, labels[np.clip(here, 0, 7)]
            )
            for text, n in zip(*np.unique(reason.astype(str), return_counts=True), strict=True):
                counts[str(text)] = counts.get(str(text), 0) + int(n)
            part = lost.select(list(renames)).to_pandas(types_mapper={pa.string(): STRING}.get)
            part = part.rename(columns=renames)
            part["reason"] = reason
            if sink is not None:
                sink(part)
            else:
                collected.append(part)
        keep = np.asarray(batch.column("is_cand"), dtype=bool) & ~rejected
        if keep.any():
            valid = batch.filter(pa.array(keep)).select(["rn", "kobo", "t_us", "tx", "national"])
            kept.append(valid.append_column("status", pa.array(status[keep], pa.int64())))
    rejected_frame = None
    if sink is None:
        rejected_frame = (
            pd.concat(collected, ignore_index=True)
            if collected
            else pd.DataFrame({c: pd.Series(dtype=STRING) for c in [*names, "reason"]})
        )
    return LookedAt(counts, _candidates(kept), rejected_frame)


def _candidates(kept: list[pa.RecordBatch]) -> pd.DataFrame:
    """The kept rows (in input order): rn, kobo, t_us, tx, national, status."""
    schema = pa.schema([("rn", pa.int64()), ("kobo", pa.int64()), ("t_us", pa.int64()),
                        ("tx", pa.string()), ("national", pa.int64()), ("status", pa.int64())])
    table = pa.Table.from_batches([b.cast(schema) for b in kept], schema)
    frame = table.to_pandas()
    frame["tx"] = frame["tx"].astype(object)
    return frame


def _batches_built_on_lookups(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[pa.RecordBatch]:
    """The rows of ``sql`` in Arrow record batches, its joins built on the lookups."""
    with _build_on_lookups(con):
        yield from _batches(con.sql(sql))


def _batches(relation: duckdb.DuckDBPyRelation) -> Iterator[pa.RecordBatch]:
    """A relation's rows in Arrow record batches (DuckDB 1.x and 2.x)."""
    fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    yield from fetch(1 << 16)


def _finish(
    people: pa.Table,
    rows_in: int,
    looked: LookedAt,
    listed: BlacklistNumbers,
    config: PromotionConfig,
    draw_date: date,
) -> EligibilityResult:
    """Resolve duplicates among the candidate rows, then blacklist, points and the
    summary (as :func:`drawkit.eligibility.apply_rules`)."""
    unit = config.naira_per_point * 100
    valid = looked.candidates
    later = valid["tx"].duplicated(keep="first").to_numpy()  # candidates are in input order
    first = valid[~later]
    conflicts = _conflicts(valid, later)
    # first occurrences count like any row: add them to their subscriber's totals
    kobo = first["kobo"].to_numpy(np.int64)
    inside = first["status"].to_numpy() == 0
    extra = {
        "n_in": inside.astype(np.int64),
        "n_out": (~inside).astype(np.int64),
        "kobo_in": np.where(inside, kobo, 0),
        "pts_in": np.where(inside, kobo // unit, 0),
        "zero_in": (inside & (kobo < unit)).astype(np.int64),
    }
    columns = people.column_names[1:]
    base = np.asarray(people["national"], dtype=np.int64)
    national, where = np.unique(
        np.concatenate([base, first["national"].to_numpy(np.int64)]), return_inverse=True
    )
    totals = {}
    for name in columns:
        values = np.concatenate([np.asarray(people[name], dtype=np.int64), extra[name]])
        if len(values) == 0 or int(np.abs(values).sum()) < 2**53:  # float64 sums exact
            summed = np.bincount(where, weights=values, minlength=len(national))
            totals[name] = np.rint(summed).astype(np.int64)
        else:
            totals[name] = np.zeros(len(national), dtype=np.int64)
            np.add.at(totals[name], where, values)
    n_in = totals["n_in"]
    banned = np.isin(national, listed.national)
    live = np.where(banned, 0, n_in)
    if config.points_mode == "summed":
        points = np.where(banned, 0, totals["kobo_in"] // unit)
        under_rows = int(live[points < 1].sum())
    else:
        points = np.where(banned, 0, totals["pts_in"])
        under_rows = int(np.where(banned, 0, totals["zero_in"]).sum())
    participants = participant_frame(national, points, config.entry_cap)
    outside = int(totals["n_out"].sum())
    counts = (int(later.sum()), outside, int(n_in[banned].sum()), under_rows)
    summary = EligibilitySummary(
        rows_in=rows_in,
        rows_counted=int(live.sum()) - under_rows,
        rows_excluded=dict(zip(RULES, counts, strict=True)),
        rows_rejected=dict(sorted(looked.counts.items())),
        participants=len(participants),
        total_points=int(participants["points"].sum()),
        total_entries=int(participants["entries"].sum()),
        participants_excluded={
            BLACKLISTED: int(np.count_nonzero(banned & (n_in > 0))),
            UNDER_ONE_POINT: int(np.count_nonzero(~banned & (n_in > 0) & (points < 1))),
        },
        window=draw_window(config, draw_date),
        duplicate_conflicts=conflicts,
        draw_date=draw_date,
        points_mode=config.points_mode,
        entry_cap=config.entry_cap,
        blacklist_unreadable=listed.unreadable,
    )
    assert summary.accounted, "eligibility lost rows"  # an invariant, not an input check
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in [*RECHARGE_COLUMNS, "rule"]})
    rejected = looked.rejected
    if rejected is None:
        rejected = pd.DataFrame({c: pd.Series(dtype=object) for c in [*RECHARGE_COLUMNS, "reason"]})
    return EligibilityResult(participants, rejected, empty, summary)


def _conflicts(valid: pd.DataFrame, later: np.ndarray) -> int:
    """How many later occurrences differ (number, amount or time) from the first."""
    if not later.any():
        return 0
    first = valid[~later].drop_duplicates("tx").set_index("tx")
    rows = valid[later]
    firsts = first.loc[rows["tx"]]
    differs = np.zeros(len(rows), dtype=bool)
    for column in ("national", "kobo", "t_us"):
        a, b = rows[column].to_numpy(), firsts[column].to_numpy()
        differs |= ~((a == b) | (pd.isna(a) & pd.isna(b)))
    return int(np.count_nonzero(differs))
