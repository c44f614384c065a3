"""Local files as a participant source: CSV or Parquet exports in, JSONL results out.

Recharge files are evaluated out of core by DuckDB (:mod:`drawkit.sources.local_engine`):
memory follows the number of subscribers, not rows. Files read whole (blacklists,
participants, recharges for a notebook) come back as text columns (phone numbers keep
their leading zeros) in Arrow-backed strings. Every problem with a file is an
:class:`InputError` naming the file. Published results go to
``results_dir/results.jsonl``, one event per line, each with the deterministic uuid a
Published results go to ``results_dir/results.jsonl``, one signed event per line, each
with the keyed uuid a PostHog publish would use, and the ledger heads published with them
to ``results_dir/ledger_heads.jsonl``; a repeated publish appends nothing new.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drawkit.config import PromotionConfig
from drawkit.contract import (
    DRAWKIT_DISTINCT_ID,
    RESULT_EVENTS,
    DrawOutcome,
    ResultEvent,
    ResultSigner,
    check_published,
    ledger_head_event,
    result_events,
)
from drawkit.eligibility import (
    RECHARGE_COLUMNS,
    BlacklistNumbers,
    EligibilityResult,
    apply_rules,
    arrow_table,
    check_participants,
    read_blacklist_numbers,
)
from drawkit.errors import DrawkitError, InputError
from drawkit.msisdn import e164_nationals, mask, mask_series, normalize, normalize_series
from drawkit.sources.base import PublishReport
from drawkit.sources.local_engine import (
    EngineSettings,
    RejectedSink,
    check_columns,
    check_empty_read,
    eligibility_from_file,
    file_error,
    open_source,
)
from drawkit.store import private_dir, write_private

STRING = pd.StringDtype("pyarrow")
T = TypeVar("T")
RESULTS_FILE = "results.jsonl"
HEADS_FILE = "ledger_heads.jsonl"
RESULT_COLUMNS = ("event", "uuid", "msisdn", "msisdn_masked", "tier", "role", "position", "ticket")
PathLike = str | os.PathLike[str]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # cells a spreadsheet would run as formulas


# ------------------------------------------------------------------------------ reading


def read_table(path: PathLike, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV or Parquet file whole, as text columns (Parquet keeps its types);
    errors name the file and what is wrong."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        table = _read_parquet(path, what, required)
    else:
        table = _read_csv(path, what, required)
    frame = _to_frame(table)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_csv(path: Path, what: str, required: tuple[str, ...]) -> pa.Table:
    """Every column as text (no type guessing: 0803... keeps its 0); empty cells missing;
    quoted newlines read; a line over 1 MiB, an unclosed quote or a ragged row refused."""
    con = duckdb.connect(config={"preserve_insertion_order": True})
    try:
        source = open_source(con, path, what, required)
        table = arrow_table(con.sql(f"SELECT * FROM {source.sql}"))  # noqa: S608
        if table.num_rows == 0:
            check_empty_read(con, source)
        return table
    except duckdb.Error as exc:
        raise file_error(exc, what, path) from None
    finally:
        con.close()


def _read_parquet(path: Path, what: str, required: tuple[str, ...]) -> pa.Table:
    """Columns keep their Parquet types; nested (list, struct, map) required columns and
    duplicate names are refused."""
    names = [str(n).strip() for n in _parquet(pq.read_schema, path, what).names]
    check_columns(path, what, names, required)  # before reading: pyarrow refuses repeats
    table = _parquet(pq.read_table, path, what)
    for name, column in zip(names, table.columns, strict=True):
        if pa.types.is_nested(column.type) and name in required:
            raise InputError(
                f"{what} file {path}: column {name} holds {column.type} values, not text or "
                "numbers: export it as a plain column"
            )
    return table


def _parquet(read: Callable[[Path], T], path: Path, what: str) -> T:
    """``read(path)``, with pyarrow's errors as an InputError naming the file."""
    try:
        return read(path)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise InputError(f"cannot read {what} file {path}: {_first_line(exc)}") from None


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas: text as Arrow-backed strings (never millions of Python objects),
    times keep their unit (year 9999 fits)."""
    columns = []
    for column in table.columns:
        if pa.types.is_large_string(column.type) or pa.types.is_string_view(column.type):
            column = column.cast(pa.string())
        columns.append(column)
    table = pa.table(columns, names=table.column_names)
    mapper = {pa.string(): STRING}.get
    return table.to_pandas(types_mapper=mapper, coerce_temporal_nanoseconds=False)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def read_recharges(path: PathLike) -> pd.DataFrame:
    """Recharges: columns transaction_id, msisdn, amount_ngn, timestamp (extra ones kept)."""
    return read_table(path, "recharges", RECHARGE_COLUMNS)


def read_blacklist(path: PathLike) -> pd.Series:
    """The ``msisdn`` column of a blacklist file (numbers in any spelling)."""
    return read_table(path, "blacklist", ("msisdn",))["msisdn"]


def read_participants(path: PathLike) -> pd.DataFrame:
    """A participants file: msisdn and entries (and points when present).

    Numbers are normalised to E.164 (a file drawkit wrote is already E.164 and takes one
    vectorised check); a bad number, a duplicate or an entry count that is not a
    positive integer is an :class:`InputError` naming the file, row and column.
    """
    frame = read_table(path, "participants", ("msisdn", "entries"))
    e164 = _e164_fast(frame["msisdn"])
    if e164 is None:  # not all E.164 already: normalise every spelling (the slow path)
        e164 = _normalised_numbers(frame["msisdn"], path)
        _refuse_duplicates(e164, path)
    columns = {"msisdn": e164.to_numpy(dtype=object)}
    for column in ("points", "entries"):
        if column in frame.columns:
            columns[column] = _positive_ints(frame[column], column, path)
    return pd.DataFrame(columns, copy=False)  # in this order already: no reordering copy


def _e164_fast(values: pd.Series) -> pd.Series | None:
    """The numbers when all are E.164 mobiles, sorted and unique (the file drawkit
    writes), checked in a few vectorised passes; else None."""
    if len(values) == 0:
        return pd.Series([], dtype=object)
    try:
        text = pa.array(values.array, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    national = e164_nationals(text)
    if national is None:
        return None
    lead = national // 1_000_000_000
    if not bool(np.all((lead >= 7) & (lead <= 9))):
        return None
    if len(national) > 1 and not bool(np.all(national[1:] > national[:-1])):
        return None  # unsorted or repeated: the slow path names the row
    return pd.Series(np.asarray(text.to_numpy(zero_copy_only=False), dtype=object))


def _normalised_numbers(values: pd.Series, path: PathLike) -> pd.Series:
    e164, reason = normalize_series(values)
    bad = reason.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"participants file {path}: row {row + 2} column msisdn: {reason.iloc[row]} "
            f"({mask(values.iloc[row])}); {int(bad.sum())} bad number(s) in all"
        )
    return pd.Series(e164.astype(object).to_numpy(), dtype=object)


def _refuse_duplicates(e164: pd.Series, path: PathLike) -> None:
    values = e164.to_numpy(dtype=object)
    if len(values) > 1 and bool(np.all(values[1:] > values[:-1])):
        return  # sorted strictly: no duplicate (the file drawkit writes)
    dup = e164.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(
            f"participants file {path}: row {row + 2}: {mask(e164.iloc[row])} is listed twice"
        )


def _positive_ints(values: pd.Series, column: str, path: PathLike) -> np.ndarray:
    text = pa.array(values.array, type=pa.string(), from_pandas=True) if len(values) else None
    if text is not None and pc.all(
        pc.fill_null(pc.match_substring_regex(text, r"^[1-9][0-9]{0,17}$"), False)
    ).as_py():
        return np.asarray(text.cast(pa.int64()), dtype=np.int64)  # the common case: one pass
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers < 1) | (numbers != np.floor(numbers))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"participants file {path}: row {row + 2} column {column}: "
            f"{str(values.iloc[row])[:20]!r} is not a positive whole number"
        )
    return numbers.astype(np.int64)


# ------------------------------------------------------------------------------ writing


def write_participants(
    participants: pd.DataFrame, rejected: pd.DataFrame, out_dir: PathLike
) -> dict[str, Path]:
    """Write participants.csv (full numbers) and rejected.csv (numbers masked, cells
    formula-escaped), both private (0600, atomic, through drawkit.store).

    The participants file is the draw's input and needs full numbers; the rejected file
    is for fixing the data, found again by transaction_id.
    """
    out = private_dir(out_dir)
    participants_path = write_participants_csv(out / "participants.csv", participants)
    rejected_path = write_private(out / "rejected.csv", lambda h: write_rejected_rows(h, rejected))
    return {"participants": participants_path, "rejected": rejected_path}


def write_participants_csv(path: Path, participants: pd.DataFrame) -> Path:
    """Check ``participants`` against the contract, then write them to ``path`` (private)
    with Arrow's CSV writer, nothing quoted (E.164 numbers and integers need no quotes):
    the bytes of pandas' ``to_csv``, several times faster."""
    check_participants(participants)
    table = pa.Table.from_pandas(participants, preserve_index=False)
    options = pacsv.WriteOptions(include_header=False, batch_size=1 << 16, quoting_style="none")

    def rows(handle: IO[str]) -> None:
        handle.write(",".join(table.column_names) + "\n")
        handle.flush()
        pacsv.write_csv(table, handle.buffer, options)

    return write_private(path, rows)


def write_rejected_rows(handle: IO[str], rejected: pd.DataFrame, header: bool = True) -> None:
    """Rejected rows as CSV text: numbers masked, cells a spreadsheet would run as a
    formula (starting =, +, -, @, tab, CR) prefixed with an apostrophe."""
    shown = safe_rejected(rejected)
    shown.to_csv(handle, index=False, header=header, lineterminator="\n")


def safe_rejected(rejected: pd.DataFrame) -> pd.DataFrame:
    """A copy of rejected rows fit to share with the data team: msisdn masked, every cell
    formula-escaped."""
    shown = rejected.copy()
    if "msisdn" in shown.columns:
        shown["msisdn"] = mask_series(shown["msisdn"].astype(object))
    for column in shown.columns:
        shown[column] = _escape_formulas(shown[column])
    return shown


def _escape_formulas(values: pd.Series) -> pd.Series:
    text = values.astype(object).where(values.notna(), None)
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    safe = np.array(
        ["'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in uniques],
        dtype=object,
    )
    return pd.Series(np.append(safe, None)[codes], index=values.index, dtype=object)


def _empty_rejected(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in [*columns, "reason"]})


class RejectedWriter:
    """A sink for the engine's rejected rows: writes them, masked and formula-escaped, to
    an open text handle as they come (header once)."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.rows = 0

    def __call__(self, rows: pd.DataFrame) -> None:
        write_rejected_rows(self.handle, rows, header=self.rows == 0)
        self.rows += len(rows)


# ------------------------------------------------------------------------------ source


class LocalDataSource:
    """A DrawDataSource over local recharge and blacklist files (or DataFrames).

    A recharge *file* is evaluated out of core by DuckDB (its ``excluded`` rows are
    counted, not listed); a DataFrame goes through :func:`drawkit.eligibility.apply_rules`.
    Both follow docs/eligibility-rules.md and give the same participants and summary.
    """

    def __init__(
        self,
        recharges: PathLike | pd.DataFrame,
        blacklist: PathLike | pd.Series | None = None,
        config: PromotionConfig | None = None,
        results_dir: PathLike | None = None,
        engine: EngineSettings | None = None,
    ) -> None:
        self._recharges_in = recharges
        self._blacklist_in = blacklist
        self.config = config or PromotionConfig()
        self.results_dir = Path(results_dir) if results_dir is not None else None
        self.engine = engine or EngineSettings()
        self._recharges: pd.DataFrame | None = None
        self._blacklist: BlacklistNumbers | None = None
        self._results: dict[date, EligibilityResult] = {}

    def __repr__(self) -> str:
        source = (
            "<DataFrame>"
            if isinstance(self._recharges_in, pd.DataFrame)
            else str(self._recharges_in)
        )
        return f"LocalDataSource(recharges={source}, results_dir={self.results_dir})"

    @property
    def recharges(self) -> pd.DataFrame:
        """The recharge rows (read whole on first use: for small files and notebooks)."""
        if self._recharges is None:
            if isinstance(self._recharges_in, pd.DataFrame):
                self._recharges = self._recharges_in
            else:
                self._recharges = read_recharges(self._recharges_in)
        return self._recharges

    @property
    def blacklist(self) -> BlacklistNumbers | None:
        """The blacklisted numbers (read on first use; unreadable entries counted), or None."""
        if self._blacklist is None and self._blacklist_in is not None:
            values = self._blacklist_in
            if not isinstance(values, pd.Series):
                values = read_blacklist(values)
            self._blacklist = read_blacklist_numbers(values)
        return self._blacklist

    def get_eligible_participants(self, draw_date: date) -> EligibilityResult:
        """Apply the eligibility rules for ``draw_date`` (cached per date)."""
        if draw_date not in self._results:
            self._results[draw_date] = self._evaluate(draw_date, None)
        return self._results[draw_date]

    def _evaluate(self, draw_date: date, sink: RejectedSink | None) -> EligibilityResult:
        if isinstance(self._recharges_in, pd.DataFrame):
            result = apply_rules(self._recharges_in, self.config, draw_date, self.blacklist)
            if sink is not None:
                sink(result.rejected)
            return result
        return eligibility_from_file(
            self._recharges_in, self.config, draw_date, self.blacklist,
            rejected_sink=sink, settings=self.engine,
        )

    def write_cohort(self, draw_date: date, out_dir: PathLike) -> tuple[EligibilityResult, dict]:
        """Apply the rules and write participants.csv and rejected.csv into ``out_dir``
        (both private); rejected rows are streamed to the file as the engine finds them
        (masked, formula-escaped), never held in memory. Returns the result (its
        ``rejected`` frame empty) and the paths."""
        out = Path(out_dir)
        holder: dict[str, EligibilityResult] = {}

        def rows(handle: IO[str]) -> None:
            writer = RejectedWriter(handle)
            holder["result"] = self._evaluate(draw_date, writer)
            if writer.rows == 0:
                write_rejected_rows(handle, _empty_rejected(self._columns()))

        rejected_path = write_private(out / "rejected.csv", rows)
        result = holder["result"]
        participants_path = write_participants_csv(out / "participants.csv", result.participants)
        return result, {"participants": participants_path, "rejected": rejected_path}

    def _columns(self) -> list[str]:
        if isinstance(self._recharges_in, pd.DataFrame):
            return [str(c) for c in self._recharges_in.columns]
        return list(RECHARGE_COLUMNS)

    def get_participant_entries(self, msisdn: str, draw_date: date) -> int:
        """Entries of one subscriber (any spelling) in the draw of ``draw_date``."""
        e164 = normalize(msisdn)
        participants = self.get_eligible_participants(draw_date).participants
        found = participants.loc[participants["msisdn"] == e164, "entries"]
        return int(found.iloc[0]) if len(found) else 0

    # -------------------------------------------------------------------- results

    def _results_path(self) -> Path:
        if self.results_dir is None:
            raise DrawkitError(
                "this local source has no results directory: pass results_dir "
                "(drawkit publish --results-dir DIR)"
            )
        return self.results_dir / RESULTS_FILE

    def record_draw_result(self, result: DrawOutcome, signer: ResultSigner) -> PublishReport:
        """Append the draw's signed events (result, then its ledger events) to
        results.jsonl (and its ledger head to
        ledger_heads.jsonl), skipping those already there exactly as signed; any other
        line of the draw is reported as forged."""
        path = self._results_path()
        heads_path = path.with_name(HEADS_FILE)
        events = result_events(result, signer)
        head = ledger_head_event(result, signer)
        with _locked(path):
            published = self.get_published_events(result.draw_id)
            check = check_published([*events, *([head] if head else [])], published,
                                    signer.public_key)
            new = [e for e in events if e.uuid not in check.recorded]
            _append_lines(path, new)
            head_sent = head is not None and head.uuid not in check.recorded
            if head_sent:
                _append_lines(heads_path, [head])
        return PublishReport(result.draw_id, sent=len(new), already_recorded=len(events) - len(new),
                             forged=check.forged, head=result.ledger_head, head_sent=head_sent)

    def get_published_events(self, draw_id: str) -> list[ResultEvent]:
        """Every line of ``draw_id`` in results.jsonl and ledger_heads.jsonl, as events."""
        path = self._results_path()
        lines = [*_read_events(path), *_read_events(path.with_name(HEADS_FILE))]
        return [_event_of(line) for line in lines
                if isinstance(line, dict) and line.get("draw_id") == draw_id]

    def get_published_results(self, draw_id: str) -> pd.DataFrame:
        """Recorded events of ``draw_id``: event, uuid, msisdn (E.164; '' for the summary),
        msisdn_masked, tier, role, position, ticket, in draw order."""
        path = self._results_path()
        rows = [e for e in _read_events(path) if isinstance(e, dict)
                and e.get("draw_id") == draw_id and e.get("event") in RESULT_EVENTS]
        rows.sort(key=lambda e: int(e.get("draw_order", 0)))
        frame = pd.DataFrame(
            {
                "event": [str(e.get("event", "")) for e in rows],
                "uuid": [str(e.get("uuid", "")) for e in rows],
                "msisdn": [str(e.get("msisdn") or "") for e in rows],
                "msisdn_masked": [mask(e["msisdn"]) if e.get("msisdn") else "" for e in rows],
                "tier": [str(e.get("tier") or "") for e in rows],
                "role": [str(e.get("role") or "") for e in rows],
                "position": pd.array([int(e.get("position", 0)) for e in rows], dtype=np.int64),
                "ticket": pd.array([e.get("ticket") for e in rows], dtype="Int64"),
            },
            columns=list(RESULT_COLUMNS),
        )
        return frame


def draw_events(events: list[ResultEvent]) -> list[dict[str, Any]]:
    """Signed events as results.jsonl lines: event, uuid, the winner's full number
    (``msisdn``, private file) and the contract's properties."""
    return [
        {
            "event": e.event,
            "uuid": e.uuid,
            **({"msisdn": e.distinct_id} if e.distinct_id != DRAWKIT_DISTINCT_ID else {}),
            **e.properties,
        }
        for e in events
    ]


def _event_of(line: dict[str, Any]) -> ResultEvent:
    """A results line back as the event it records."""
    event = str(line.get("event", ""))
    properties = {k: v for k, v in line.items() if k not in ("event", "uuid", "msisdn")}
    distinct_id = str(line["msisdn"]) if "msisdn" in line else DRAWKIT_DISTINCT_ID
    return ResultEvent(event, distinct_id, str(line.get("uuid", "")), properties)


def _append_lines(path: Path, events: list[ResultEvent]) -> None:
    """Append events as lines, durably (a torn last line of a crash is cut first)."""
    if not events:
        return
    _drop_torn_tail(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(e, sort_keys=True) + "\n" for e in draw_events(events)))
        handle.flush()
        os.fsync(handle.fileno())


def _read_events(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                if not line.endswith("\n"):
                    continue  # a torn last line from a crash: its events get re-sent
                raise InputError(f"{path} line {number} is not valid JSON") from exc


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left without its newline by a crash (its events are re-sent)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        data = handle.read()
        if not data.endswith(b"\n"):
            handle.truncate(data.rfind(b"\n") + 1)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
