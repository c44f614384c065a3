"""Local eligibility on DuckDB: the rules of docs/eligibility-rules.md over a CSV or
Parquet file of any size, out of core.

DuckDB scans the file (in parallel, spilling to a temporary folder past its memory limit)
and evaluates the value grammar of :mod:`drawkit.eligibility` (the same SQL) per row. What
reaches Python is bounded by subscribers, not rows:

1. transaction ids that occur more than once (by 64-bit hash: a superset of the real
   duplicates, resolved exactly below);
2. one aggregate per distinct number spelling (rows per status, kobo and points inside
   the window). Spellings are normalised once each, in SQL for the common forms and by
   :func:`drawkit.msisdn.national_numbers` for the rest, then summed per subscriber;
3. one last scan streams the rejected rows (in input order) to a sink and collects the
   rows whose id hash repeats; those few get the exact first-valid-occurrence rule of
   :func:`drawkit.eligibility.apply_rules`, and the later copies are moved from their
   spelling's counts to ``duplicate_transaction``.

The result equals :func:`drawkit.eligibility.apply_rules` on the same rows (tests compare
them), except that excluded rows are counted, not listed (``excluded`` is empty).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from drawkit.config import PromotionConfig
from drawkit.eligibility import (
    BLACKLISTED,
    INVALID_MSISDN,
    RECHARGE_COLUMNS,
    RULES,
    STATUS_LABELS,
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
    sql_time_status,
    sql_typed_timestamp_us,
    timestamp_layers,
)
from drawkit.errors import InputError
from drawkit.msisdn import national_numbers, national_sql
from drawkit.redact import redact

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
    default, 80% of RAM) and the folder it spills to (None = a private temporary one)."""

    threads: int | None = None
    memory_limit: str | None = "4GB"
    spill_dir: Path | None = None


# ------------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class Source:
    """A recharge (or blacklist) file as DuckDB reads it."""

    path: Path
    sql: str  # a table function call
    columns: tuple[str, ...]
    types: dict[str, str]
    row_number: str  # expression giving the input position


def connect(settings: EngineSettings, spill: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the engine's limits, spilling into ``spill``."""
    config = {"temp_directory": str(spill), "preserve_insertion_order": True}
    if settings.threads:
        config["threads"] = settings.threads
    if settings.memory_limit:
        config["memory_limit"] = settings.memory_limit
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
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()  # noqa: S608
        except duckdb.Error as exc:
            raise InputError(f"cannot read {what} file {path}: {first_error_line(exc)}") from None
        types = {str(r[0]).strip(): str(r[1]) for r in described if r[0] != "file_row_number"}
        columns = tuple(str(r[0]) for r in described if r[0] != "file_row_number")
        _check_columns(path, what, [c.strip() for c in columns], required)
        for name in required:
            if any(mark in types[name] for mark in _NESTED):
                raise InputError(
                    f"{what} file {path}: column {name} holds {types[name]} values, not text "
                    "or numbers: export it as a plain column"
                )
        return Source(path, sql, columns, types, "file_row_number")
    header = read_csv_header(path, what)
    _check_columns(path, what, [h.strip() for h in header], required)
    spec = ", ".join(f"{sql_literal(name)}: 'VARCHAR'" for name in header)
    sql = (
        f"read_csv({sql_literal(str(path))}, header = true, auto_detect = false, "
        f"columns = {{{spec}}}, delim = ',', quote = '\"', escape = '\"', "
        f"strict_mode = true, null_padding = false, max_line_size = {MAX_LINE_BYTES}, "
        "encoding = 'utf-8')"
    )
    types = {name.strip(): "VARCHAR" for name in header}
    return Source(path, sql, tuple(header), types, "row_number() OVER () - 1")


def check_empty_read(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """When a CSV with more than a header gave no row, read it again single-threaded so
    that DuckDB reports the real problem (its parallel reader can return nothing for a
    file made of one huge line)."""
    if not source.sql.startswith("read_csv("):
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


def _check_columns(path: Path, what: str, names: list[str], required: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"{what} file {path}: column {name[:60]!r} appears twice")
        seen.add(name)
    missing = [c for c in required if c not in seen]
    if missing:
        found = ", ".join(n[:60] for n in names) or "none"
        raise InputError(
            f"{what} file {path} lacks column(s) {', '.join(missing)} (found: {found})"
        )


def first_error_line(exc: BaseException) -> str:
    """What a DuckDB error says is wrong, in one line, redacted: the line number and the
    reason, without the offending row DuckDB quotes or its list of fixes."""
    keep = []
    lines = str(exc).splitlines()
    skip = False
    for line in lines:
        text = line.strip()
        if text.startswith("Original Line:"):
            skip = True  # the quoted row may run over several lines, up to a blank one
            continue
        if skip and text:
            continue
        skip = False
        if not text or text.startswith(("Possible", "*", "LINE ")):
            continue
        keep.append(text)
    return redact(" ".join(keep[:2])[:300] or type(exc).__name__)


def file_error(exc: duckdb.Error, what: str, path: Path) -> InputError:
    """A DuckDB error reading ``path`` as an InputError naming the file and the fix."""
    full = str(exc).lower()
    if "unicode" in full or "utf-8" in full or "utf8" in full:
        return InputError(f"{what} file {path} is not UTF-8 text: save it as UTF-8 CSV")
    if "maximum line size" in full:
        return InputError(f"{what} file {path} has a line longer than 1 MiB: not a recharge export")
    if isinstance(exc, duckdb.OutOfMemoryException) or "space left" in full:
        return InputError(f"not enough memory or disk space to read {what} file {path}")
    return InputError(f"cannot read {what} file {path}: {first_error_line(exc)}")


def _column(source: Source, name: str) -> str:
    """The file's spelling of a required column (headers are matched trimmed)."""
    return next(c for c in source.columns if c.strip() == name)


def quoted(name: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------------------ row SQL


def rows_sql(source: Source, config: PromotionConfig, draw_date: date) -> str:
    """Per input row: rn (input position), tx, m, status (0 inside, 1..7 rejected,
    8 outside), kobo, t_us."""
    window = draw_window(config, draw_date)
    start = microseconds(window.start) if window.start is not None else -(2**62)
    cutoff = microseconds(window.cutoff)
    names = {c.strip(): c for c in source.columns}
    col = {k: quoted(names[k]) for k in RECHARGE_COLUMNS}
    types = {k: source.types[k].upper() for k in RECHARGE_COLUMNS}
    amount = col["amount_ngn"]
    amount_text = sql_text(sql_number_text(amount) if types["amount_ngn"] in _FLOATS else amount)
    stamp, stamp_type = col["timestamp"], types["timestamp"]
    if stamp_type == "TIMESTAMP WITH TIME ZONE" or stamp_type in _TIMESTAMPS:
        aware = stamp_type == "TIMESTAMP WITH TIME ZONE"
        time_text = f"CAST({stamp} AS VARCHAR)"
        time_layers = [
            [("t_us", sql_typed_timestamp_us(stamp, aware, config.timezone))],
            [("t_st", sql_time_status("t", "t_us"))],
        ]
    else:
        time_text = sql_text(stamp)
        time_layers = timestamp_layers("t", config.timezone)
    base = (
        f"rn, {sql_text(col['transaction_id'])} AS tx, "
        f"CAST({col['msisdn']} AS VARCHAR) AS m, {amount_text} AS a, {time_text} AS t"
    )
    status = (
        "CASE WHEN tx IS NULL THEN 1 WHEN a_st <> 0 THEN 1 + a_st WHEN t_st <> 0 THEN 5 + t_st "
        f"WHEN t_us >= {start} AND t_us < {cutoff} THEN 0 ELSE {OUTSIDE} END"
    )
    layers = [*amount_layers("a"), *time_layers, [("status", status)]]
    needed = ", ".join(col[k] for k in RECHARGE_COLUMNS)
    numbered = f"(SELECT {source.row_number} AS rn, {needed} FROM {source.sql})"  # noqa: S608
    return layered(numbered, base, layers)


def originals_sql(source: Source) -> str:
    """rn and every input column as text (``o_0``, ``o_1``...)."""
    originals = ", ".join(
        f"CAST({quoted(c)} AS VARCHAR) AS o_{i}" for i, c in enumerate(source.columns)
    )
    return f"SELECT {source.row_number} AS rn, {originals} FROM {source.sql}"  # noqa: S608


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
    with tempfile.TemporaryDirectory(prefix="drawkit-duckdb-", dir=settings.spill_dir) as spill:
        con = connect(settings, Path(spill))
        try:
            source = open_source(con, Path(recharges), "recharges", RECHARGE_COLUMNS)
            return _run(con, source, config, draw_date, listed, rejected_sink)
        except duckdb.Error as exc:
            raise file_error(exc, "recharges", Path(recharges)) from None
        finally:
            con.close()


def _run(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    config: PromotionConfig,
    draw_date: date,
    listed: BlacklistNumbers,
    sink: RejectedSink | None,
) -> EligibilityResult:
    unit = config.naira_per_point * 100
    # The one pass that evaluates the rules per row: a compact row table (spills to disk).
    con.execute(f"""
        CREATE TEMP TABLE c AS
        SELECT rn, CASE WHEN tx IS NOT NULL THEN hash(tx) END AS h, m,
               CAST(status AS UTINYINT) AS status, kobo, t_us
        FROM ({rows_sql(source, config, draw_date)})
    """)  # noqa: S608
    con.execute(
        "CREATE TEMP TABLE cand AS SELECT h FROM c WHERE h IS NOT NULL "
        "GROUP BY h HAVING count(*) > 1"
    )
    con.execute(f"""
        CREATE TEMP TABLE spell AS
        SELECT m, {national_sql("m")} AS nat, count(*) AS n,
            count(*) FILTER (status = 1) AS n_notx,
            count(*) FILTER (status = 0) AS n_in,
            count(*) FILTER (status = {OUTSIDE}) AS n_out,
            coalesce(sum(kobo) FILTER (status = 0), 0) AS kobo_in,
            coalesce(sum(kobo // {unit}) FILTER (status = 0), 0) AS pts_in,
            count(*) FILTER (status = 0 AND kobo < {unit}) AS zero_in,
            list(status) FILTER (status BETWEEN 2 AND 7) AS bad
        FROM c GROUP BY m
    """)  # noqa: S608
    _normalise_odd_spellings(con)
    counts = _status_counts(con)
    people = arrow_table(con.sql("""
        SELECT national, sum(n_in) AS n_in, sum(kobo_in) AS kobo_in, sum(pts_in) AS pts_in,
               sum(zero_in) AS zero_in
        FROM spelled WHERE national IS NOT NULL GROUP BY national ORDER BY national
    """))
    con.execute("""
        CREATE TEMP TABLE picked AS
        SELECT c.rn, c.m, c.status, c.kobo, c.t_us,
               (i.m IS NOT NULL OR c.m IS NULL) AND c.status <> 1 AS bad_number,
               coalesce(i.why, 'missing phone number') AS why,
               c.h IN (SELECT h FROM cand) AS cand, i.national_dup AS national
        FROM c LEFT JOIN (SELECT m, why, NULL::BIGINT AS national_dup FROM invalid) i
             ON c.m = i.m
        WHERE c.status BETWEEN 1 AND 7 OR i.m IS NOT NULL OR c.m IS NULL
              OR c.h IN (SELECT h FROM cand)
    """)
    con.execute("DROP TABLE c")
    if counts["__rows__"] == 0:
        check_empty_read(con, source)
    rejected, candidates = _last_scan(con, source, sink)
    national_of: dict[str, int] = {}
    if len(candidates):
        con.register("cand_m", pa.table({"m": pa.array(candidates["m"].unique(), pa.string())}))
        national_of = dict(con.execute(
            "SELECT s.m, s.national FROM spelled s JOIN cand_m c ON s.m = c.m "
            "WHERE s.national IS NOT NULL"
        ).fetchall())
    return _finish(people, counts, candidates, national_of, rejected, listed, config,
                   draw_date, unit)


def _normalise_odd_spellings(con: duckdb.DuckDBPyConnection) -> None:
    """Spellings the SQL fast path did not read go through drawkit.msisdn (exact answer
    and reason); table ``spelled`` gets each spelling's national number or why not."""
    odd = arrow_table(con.sql("SELECT m FROM spell WHERE nat IS NULL"))
    values = pd.Series(odd["m"].to_pylist(), dtype=object)
    national, reason = national_numbers(values)
    why = reason.astype(object).where(reason.notna(), None).tolist()
    fixes = pa.table(
        {
            "m": odd["m"],
            "nat2": pa.array(np.where(national >= 0, national, 0), pa.int64(),
                             mask=national < 0),
            "why": pa.array(why, pa.string()),
        }
    )
    con.register("fixes", fixes)
    con.execute("""
        CREATE TEMP TABLE spelled AS
        SELECT s.*, coalesce(s.nat, f.nat2) AS national, f.why
        FROM spell s LEFT JOIN fixes f ON s.m IS NOT DISTINCT FROM f.m
    """)
    con.execute("CREATE TEMP TABLE invalid AS SELECT m, why FROM spelled WHERE national IS NULL")
    con.unregister("fixes")


def _status_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows read, rows per rejection reason and rows outside the window (duplicates not
    yet moved out)."""
    counts: dict[str, int] = {}
    (rows_in, no_tx) = con.execute(
        "SELECT coalesce(sum(n), 0), coalesce(sum(n_notx), 0) FROM spell"
    ).fetchall()[0]
    counts["__rows__"] = int(rows_in)
    if no_tx:
        counts[STATUS_LABELS[1]] = int(no_tx)
    for why, n in con.execute(
        "SELECT coalesce(why, 'missing phone number'), sum(n - n_notx) FROM spelled "
        "WHERE national IS NULL GROUP BY 1"
    ).fetchall():
        if n:
            counts[f"{INVALID_MSISDN}: {why}"] = int(n)
    for status, n in con.execute(
        "SELECT s, count(*) FROM (SELECT unnest(bad) AS s FROM spelled "
        "WHERE national IS NOT NULL AND bad IS NOT NULL) GROUP BY s"
    ).fetchall():
        label = STATUS_LABELS[int(status)]
        counts[label] = counts.get(label, 0) + int(n)
    (outside,) = con.execute(
        "SELECT coalesce(sum(n_out), 0) FROM spelled WHERE national IS NOT NULL"
    ).fetchall()[0]
    counts["__outside__"] = int(outside)
    return counts


def _last_scan(
    con: duckdb.DuckDBPyConnection, source: Source, sink: RejectedSink | None
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Stream the rejected rows to ``sink`` (or collect them) and return the candidate
    duplicate rows (rn, tx, m, status, kobo, t_us, rejected), all in input order."""
    originals = ", ".join(f"o.o_{i}" for i in range(len(source.columns)))
    tx = sql_text(f"o.o_{source.columns.index(_column(source, 'transaction_id'))}")
    scan = f"""
        SELECT p.*, {tx} AS tx, {originals}
        FROM ({originals_sql(source)}) o JOIN picked p ON o.rn = p.rn
        ORDER BY p.rn
    """  # noqa: S608
    names = [c.strip() for c in source.columns]
    renames = {f"o_{i}": name for i, name in enumerate(names)}
    collected: list[pd.DataFrame] = []
    dups: list[pd.DataFrame] = []
    for batch in _batches(con.sql(scan)):
        frame = batch.to_pandas(types_mapper={pa.string(): STRING}.get)
        status = frame["status"].to_numpy()
        bad_number = frame["bad_number"].to_numpy(bool)
        rejected_mask = ((status >= 1) & (status <= 7)) | bad_number
        if rejected_mask.any():
            part = frame.loc[rejected_mask, list(renames)].rename(columns=renames)
            labels = np.array(STATUS_LABELS, dtype=object)[np.clip(status[rejected_mask], 0, 7)]
            why = INVALID_MSISDN + ": " + frame.loc[rejected_mask, "why"].astype(str)
            part["reason"] = np.where(bad_number[rejected_mask], why.to_numpy(), labels)
            part = part.reset_index(drop=True)
            if sink is not None:
                sink(part)
            else:
                collected.append(part)
        cand = frame["cand"].to_numpy(bool)
        if cand.any():
            keep = frame.loc[cand, ["rn", "tx", "m", "status", "kobo", "t_us"]].copy()
            keep["rejected"] = rejected_mask[cand]
            dups.append(keep)
    rejected = None
    if sink is None:
        rejected = (
            pd.concat(collected, ignore_index=True)
            if collected
            else pd.DataFrame({c: pd.Series(dtype=STRING) for c in [*names, "reason"]})
        )
    columns = ["rn", "tx", "m", "status", "kobo", "t_us", "rejected"]
    candidates = pd.concat(dups, ignore_index=True) if dups else pd.DataFrame(columns=columns)
    return rejected, candidates


def _batches(relation: duckdb.DuckDBPyRelation) -> Iterator[pa.RecordBatch]:
    """A relation's rows in Arrow record batches (DuckDB 1.x and 2.x)."""
    fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    yield from fetch(1 << 16)


def _finish(
    people: pa.Table,
    counts: dict[str, int],
    candidates: pd.DataFrame,
    national_of: dict[str, int],
    rejected: pd.DataFrame | None,
    listed: BlacklistNumbers,
    config: PromotionConfig,
    draw_date: date,
    unit: int,
) -> EligibilityResult:
    """Move duplicates out, then blacklist, points and the summary (as apply_rules)."""
    national = np.asarray(people["national"], dtype=np.int64)
    n_in = np.asarray(people["n_in"], dtype=np.int64).copy()
    kobo_in = np.asarray(people["kobo_in"], dtype=np.int64).copy()
    pts_in = np.asarray(people["pts_in"], dtype=np.int64).copy()
    zero_in = np.asarray(people["zero_in"], dtype=np.int64).copy()
    duplicates, conflicts, outside_dups = 0, 0, 0
    dup_rows = _duplicate_rows(candidates, national_of)
    if dup_rows is not None:
        rows, conflicts = dup_rows
        duplicates = len(rows)
        inside = rows[rows["status"] == 0]
        outside_dups = int((rows["status"] == OUTSIDE).sum())
        where = np.searchsorted(national, inside["national"].to_numpy(np.int64))
        kobo = inside["kobo"].to_numpy(np.int64)
        np.subtract.at(n_in, where, 1)
        np.subtract.at(kobo_in, where, kobo)
        np.subtract.at(pts_in, where, kobo // unit)
        np.subtract.at(zero_in, where, (kobo < unit).astype(np.int64))
    banned = np.isin(national, listed.national)
    live = np.where(banned, 0, n_in)
    if config.points_mode == "summed":
        points = np.where(banned, 0, kobo_in // unit)
        under_rows = int(live[points < 1].sum())
    else:
        points = np.where(banned, 0, pts_in)
        under_rows = int(np.where(banned, 0, zero_in).sum())
    participants = participant_frame(national, points, config.entry_cap)
    rows_in = counts.pop("__rows__")
    outside = counts.pop("__outside__") - outside_dups
    rejected_counts = dict(sorted(counts.items()))
    blacklisted_rows = int(n_in[banned].sum())
    excluded = dict(zip(RULES, (duplicates, outside, blacklisted_rows, under_rows), strict=True))
    summary = EligibilitySummary(
        rows_in=rows_in,
        rows_counted=int(live.sum()) - under_rows,
        rows_excluded=excluded,
        rows_rejected=rejected_counts,
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
    if rejected is None:
        rejected = pd.DataFrame({c: pd.Series(dtype=object) for c in [*RECHARGE_COLUMNS, "reason"]})
    return EligibilityResult(participants, rejected, empty, summary)


def _duplicate_rows(
    candidates: pd.DataFrame, national_of: dict[str, int]
) -> tuple[pd.DataFrame, int] | None:
    """The later valid occurrences of an id among the candidate rows (input order), with
    their national number, and how many differ from the first occurrence."""
    valid = candidates[~candidates["rejected"].astype(bool)].sort_values("rn", kind="stable")
    if valid.empty:
        return None
    valid = valid.assign(national=valid["m"].map(national_of).astype(np.int64))
    later = valid["tx"].duplicated(keep="first").to_numpy()
    if not later.any():
        return None
    first = valid.drop_duplicates("tx", keep="first").set_index("tx")
    rows = valid[later]
    firsts = first.loc[rows["tx"]]
    differs = np.zeros(len(rows), dtype=bool)
    for column in ("national", "kobo", "t_us"):
        a = rows[column].to_numpy()
        b = firsts[column].to_numpy()
        differs |= ~((a == b) | (pd.isna(a) & pd.isna(b)))
    return rows, int(np.count_nonzero(differs))
