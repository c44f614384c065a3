"""Local files as a participant source: CSV or Parquet exports in, JSONL results out.

Files are read as text (phone numbers keep their leading zeros) into Arrow-backed string
columns, so tens of millions of rows fit in memory; the eligibility rules do the rest.
Published results go to ``results_dir/results.jsonl``, one signed event per line, each
with the keyed uuid a PostHog publish would use, and the ledger heads published with them
to ``results_dir/ledger_heads.jsonl``; a repeated publish appends nothing new.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from drawkit.config import PromotionConfig
from drawkit.contract import (
    DRAW_WINNER,
    DRAWKIT_DISTINCT_ID,
    DrawOutcome,
    ResultEvent,
    ResultSigner,
    check_published,
    ledger_head_event,
    result_events,
)
from drawkit.eligibility import (
    RECHARGE_COLUMNS,
    EligibilityResult,
    apply_rules,
    check_participants,
)
from drawkit.errors import DrawkitError, InputError
from drawkit.msisdn import mask, mask_series, normalize, normalize_series
from drawkit.sources.base import PublishReport
from drawkit.store import private_dir, write_private

STRING = pd.StringDtype("pyarrow")
RESULTS_FILE = "results.jsonl"
HEADS_FILE = "ledger_heads.jsonl"
RESULT_COLUMNS = ("event", "uuid", "msisdn", "msisdn_masked", "tier", "role", "position", "ticket")
PathLike = str | os.PathLike[str]


# ------------------------------------------------------------------------------ reading


def read_table(path: PathLike, what: str, required: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV or Parquet file as text columns; errors name the file and the column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file {path} does not exist")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes and suffixes[-1] in (".parquet", ".pq"):
            frame = _read_parquet(path)
        else:
            frame = _read_csv(path)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} file {path} is not UTF-8 text ({exc.reason}): save it as UTF-8 CSV"
        ) from exc
    except (pa.ArrowInvalid, ValueError, OSError) as exc:
        if "utf8" in str(exc).lower().replace("-", ""):
            raise InputError(f"{what} file {path} is not UTF-8 text: save it as UTF-8 CSV") from exc
        raise InputError(f"cannot read {what} file {path}: {_first_line(exc)}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(frame.columns) or "none"
        raise InputError(
            f"{what} file {path} lacks column(s) {', '.join(missing)} (found: {found})"
        )
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    """Every column as text (no type guessing: 0803... keeps its 0); empty cells missing."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )
    table = pacsv.read_csv(path, convert_options=convert)
    return table.to_pandas(types_mapper={pa.string(): STRING}.get)


def _read_parquet(path: Path) -> pd.DataFrame:
    """Text columns as Arrow-backed strings (never millions of Python objects)."""
    table = pq.read_table(path)
    mapping = {pa.string(): STRING, pa.large_string(): STRING}
    return table.to_pandas(types_mapper=mapping.get)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def read_recharges(path: PathLike) -> pd.DataFrame:
    """Recharges: columns transaction_id, msisdn, amount_ngn, timestamp (extra ones kept)."""
    return read_table(path, "recharges", RECHARGE_COLUMNS)


def read_blacklist(path: PathLike) -> pd.Series:
    """The ``msisdn`` column of a blacklist file (numbers in any spelling)."""
    return read_table(path, "blacklist", ("msisdn",))["msisdn"]


def read_participants(path: PathLike) -> pd.DataFrame:
    """A participants file: msisdn and entries (and points when present).

    Numbers are normalised to E.164; a bad number, a duplicate or an entry count that is
    not a positive integer is an :class:`InputError` naming the file, row and column.
    """
    frame = read_table(path, "participants", ("msisdn", "entries"))
    e164, reason = normalize_series(frame["msisdn"])
    bad = reason.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"participants file {path}: row {row + 2} column msisdn: {reason.iloc[row]} "
            f"({mask(frame['msisdn'].iloc[row])}); {int(bad.sum())} bad number(s) in all"
        )
    dup = e164.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InputError(
            f"participants file {path}: row {row + 2}: {mask(e164.iloc[row])} is listed twice"
        )
    out = pd.DataFrame({"msisdn": e164.astype(object).to_numpy()})
    for column in ("points", "entries"):
        if column in frame.columns:
            out[column] = _positive_ints(frame[column], column, path)
    return out[[c for c in ("msisdn", "points", "entries") if c in out.columns]]


def _positive_ints(values: pd.Series, column: str, path: PathLike) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers < 1) | (numbers != np.floor(numbers))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"participants file {path}: row {row + 2} column {column}: "
            f"{values.iloc[row]!r} is not a positive whole number"
        )
    return numbers.astype(np.int64)


# ------------------------------------------------------------------------------ writing


def write_participants(
    participants: pd.DataFrame, rejected: pd.DataFrame, out_dir: PathLike
) -> dict[str, Path]:
    """Write participants.csv (full numbers, owner-only) and rejected.csv (numbers masked).

    The participants file is the draw's input and needs full numbers; the rejected file is
    for fixing the data, found again by transaction_id, so its numbers are masked.
    """
    check_participants(participants)
    out = private_dir(out_dir)
    participants_path = write_private(
        out / "participants.csv", participants.to_csv(index=False, lineterminator="\n")
    )
    shown = rejected.copy()
    if "msisdn" in shown.columns:
        shown["msisdn"] = mask_series(shown["msisdn"].astype(object))
    rejected_path = write_private(out / "rejected.csv",
                                  shown.to_csv(index=False, lineterminator="\n"))
    return {"participants": participants_path, "rejected": rejected_path}


# ------------------------------------------------------------------------------ source


class LocalDataSource:
    """A DrawDataSource over local recharge and blacklist files (or DataFrames)."""

    def __init__(
        self,
        recharges: PathLike | pd.DataFrame,
        blacklist: PathLike | pd.Series | None = None,
        config: PromotionConfig | None = None,
        results_dir: PathLike | None = None,
    ) -> None:
        self._recharges_in = recharges
        self._blacklist_in = blacklist
        self.config = config or PromotionConfig()
        self.results_dir = Path(results_dir) if results_dir is not None else None
        self._recharges: pd.DataFrame | None = None
        self._blacklist: pd.Series | None = None
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
        """The recharge rows (read on first use)."""
        if self._recharges is None:
            if isinstance(self._recharges_in, pd.DataFrame):
                self._recharges = self._recharges_in
            else:
                self._recharges = read_recharges(self._recharges_in)
        return self._recharges

    @property
    def blacklist(self) -> pd.Series | None:
        """The blacklisted numbers (read on first use), or None."""
        if self._blacklist is None and self._blacklist_in is not None:
            if isinstance(self._blacklist_in, pd.Series):
                self._blacklist = self._blacklist_in
            else:
                self._blacklist = read_blacklist(self._blacklist_in)
        return self._blacklist

    def get_eligible_participants(self, draw_date: date) -> EligibilityResult:
        """Apply the eligibility rules for ``draw_date`` (cached per date)."""
        if draw_date not in self._results:
            self._results[draw_date] = apply_rules(
                self.recharges, self.config, draw_date, self.blacklist
            )
        return self._results[draw_date]

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
        """Append the draw's signed events to results.jsonl (and its ledger head to
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
        rows = [e for e in _read_events(path)
                if isinstance(e, dict) and e.get("draw_id") == draw_id]
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
            **({"msisdn": e.distinct_id} if e.event == DRAW_WINNER else {}),
            **e.properties,
        }
        for e in events
    ]


def _event_of(line: dict[str, Any]) -> ResultEvent:
    """A results line back as the event it records."""
    event = str(line.get("event", ""))
    properties = {k: v for k, v in line.items() if k not in ("event", "uuid", "msisdn")}
    distinct_id = str(line.get("msisdn") or "") if event == DRAW_WINNER else DRAWKIT_DISTINCT_ID
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
