"""The eligibility rules: recharges in, participants with points and entries out.

The rules are written down in docs/eligibility-rules.md; this module is their one
implementation of the value grammar (amounts and timestamps: DuckDB SQL expressions,
evaluated once per distinct value, here and by the out-of-core file engine in
:mod:`drawkit.sources.local_engine`; ids trimmed of :data:`TRIM_CHARS`) and the in-memory
row logic over a recharge table with the columns ``transaction_id``, ``msisdn``,
``amount_ngn`` and ``timestamp`` (raw strings as read from a file, or typed). Every input
row ends in exactly one place:

* **rejected** (the row is invalid), with a ``reason``: ``missing_transaction_id``,
  ``invalid_msisdn: <why>``, ``missing_amount``, ``non_numeric_amount``,
  ``non_positive_amount``, ``amount_too_large`` (over ₦1,000,000,000),
  ``missing_timestamp``, ``unreadable_timestamp``
  (the first that applies, in this order);
* **excluded** by a named ``rule`` (checked in this order): ``duplicate_transaction``,
  ``outside_window``, ``blacklisted``, ``under_1_point``;
* **counted**: the row earns points for an eligible participant.

Decisions made exact here:

* The window is ``[start, cutoff)``: the cutoff is the draw date at ``cutoff_time`` in the
  promotion timezone; daily windows start 24 hours earlier, cumulative ones at
  ``start_date`` at ``cutoff_time``. A recharge at the cutoff instant is outside.
  Timestamps are ISO 8601 (docs/eligibility-rules.md, *Timestamps*); one without an
  offset is read in the promotion timezone, one with an offset (or ``Z``) is converted.
  Times are compared in whole microseconds (finer digits are cut, never rounded).
* Duplicates: transaction ids are trimmed (case kept). Among valid rows, the first
  occurrence of an id (in input order) owns it and goes on through the rules; every later
  row with the same id is excluded as ``duplicate_transaction``, whatever its content. A
  later row whose number, amount or timestamp differs from the first is also counted in
  ``summary.duplicate_conflicts`` (a rejected row never claims an id).
* Points: amounts are exact decimals turned into kobo by floor (no float). ``per_recharge``:
  each recharge earns ``kobo // (naira_per_point * 100)`` points, and a recharge that earns
  0 points is excluded as ``under_1_point``. ``summed``: a participant's window total is
  divided once; all rows of a participant whose total earns 0 points are excluded as
  ``under_1_point``. Entries are points, capped at ``entry_cap`` when set.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drawkit.config import FIRST_DRAW_DATE, LAST_DRAW_DATE, PromotionConfig, check_draw_date
from drawkit.errors import ConfigError, InputError
from drawkit.msisdn import e164_strings, mask, national_numbers

logger = logging.getLogger("drawkit.eligibility")

RECHARGE_COLUMNS = ("transaction_id", "msisdn", "amount_ngn", "timestamp")
PARTICIPANT_COLUMNS = ("msisdn", "points", "entries")

# Exclusion rules (valid rows that do not count), in the order they are applied.
DUPLICATE = "duplicate_transaction"
OUTSIDE_WINDOW = "outside_window"
BLACKLISTED = "blacklisted"
UNDER_ONE_POINT = "under_1_point"
RULES = (DUPLICATE, OUTSIDE_WINDOW, BLACKLISTED, UNDER_ONE_POINT)

# Rejection reasons (invalid rows), in the order they are checked.
MISSING_TRANSACTION_ID = "missing_transaction_id"
INVALID_MSISDN = "invalid_msisdn"
MISSING_AMOUNT = "missing_amount"
NON_NUMERIC_AMOUNT = "non_numeric_amount"
NON_POSITIVE_AMOUNT = "non_positive_amount"
AMOUNT_TOO_LARGE = "amount_too_large"  # over MAX_AMOUNT_NGN: a unit or typing error
MAX_AMOUNT_NGN = 1_000_000_000
MISSING_TIMESTAMP = "missing_timestamp"
UNREADABLE_TIMESTAMP = "unreadable_timestamp"
# Participant-level exclusion of the points path (a number that is not a mobile number).
INVALID = "invalid_msisdn"

# Row status codes shared with the streaming engine: 0 = valid; then the rejection
# reasons other than invalid_msisdn, in precedence order (invalid_msisdn comes after 1).
STATUS_LABELS = (
    None,
    MISSING_TRANSACTION_ID,
    MISSING_AMOUNT,
    NON_NUMERIC_AMOUNT,
    NON_POSITIVE_AMOUNT,
    AMOUNT_TOO_LARGE,
    MISSING_TIMESTAMP,
    UNREADABLE_TIMESTAMP,
)

# Draw dates drawkit accepts (a typo such as 9999 or 0001 is refused, never computed).
MIN_DRAW_DATE, MAX_DRAW_DATE = FIRST_DRAW_DATE, LAST_DRAW_DATE  # one range: drawkit.config

# Trimmed from both ends of ids, amounts and timestamps: Unicode white space (str.isspace)
# and the zero-width characters U+200B-U+200D, U+2060, U+FEFF.
TRIM_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
    + "\u200b\u200c\u200d\u2060\ufeff"
)
_MISSING = np.iinfo(np.int64).min  # "no time" marker in microsecond arrays
Checks = list[tuple[str, np.ndarray]]  # (rejection reason, row mask)


# ------------------------------------------------------------------------------ window


@dataclass(frozen=True)
class DrawWindow:
    """The entry window ``[start, cutoff)`` of a draw, in UTC (start None = unbounded)."""

    start: datetime | None
    cutoff: datetime

    def to_dict(self) -> dict[str, str | None]:
        """ISO 8601 UTC strings."""
        start = self.start.isoformat() if self.start is not None else None
        return {"start": start, "cutoff": self.cutoff.isoformat()}

    def contains(self, when: datetime) -> bool:
        """True when the aware instant ``when`` is inside the window."""
        after_start = self.start is None or when >= self.start
        return after_start and when < self.cutoff


def draw_window(config: PromotionConfig, draw_date: date) -> DrawWindow:
    """The window of the draw on ``draw_date``: see the module docstring."""
    day = as_date(draw_date)
    cutoff = datetime.combine(day, config.cutoff_time, tzinfo=config.tz)
    if config.window == "daily":
        start: datetime | None = cutoff - timedelta(days=1)
    elif config.start_date is not None:
        start = datetime.combine(config.start_date, config.cutoff_time, tzinfo=config.tz)
    else:
        start = None
    return DrawWindow(start.astimezone(UTC) if start is not None else None, cutoff.astimezone(UTC))


def as_date(value: date | str) -> date:
    """A draw date from a date, a datetime (its date) or an ISO string (YYYY-MM-DD),
    between 2000-01-01 and 2199-12-31; anything else is an :class:`InputError`."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise InputError(f"draw date must be YYYY-MM-DD, got {str(value)[:40]!r}") from exc
    try:
        return check_draw_date(day)
    except ConfigError as exc:
        raise InputError(str(exc)) from None


# ------------------------------------------------------------------------------ result


@dataclass(frozen=True)
class EligibilitySummary:
    """Counts of what happened to every input row and participant."""

    rows_in: int
    rows_counted: int
    rows_excluded: dict[str, int]
    rows_rejected: dict[str, int]
    participants: int
    total_points: int
    total_entries: int
    participants_excluded: dict[str, int]
    window: DrawWindow
    duplicate_conflicts: int = 0
    draw_date: date | None = None
    points_mode: str = "per_recharge"
    entry_cap: int | None = None
    blacklist_unreadable: int = 0  # blacklist entries that are not a number (not used)

    @property
    def accounted(self) -> bool:
        """True when counted + excluded + rejected rows add up to the rows read."""
        total = self.rows_counted + sum(self.rows_excluded.values())
        return total + sum(self.rows_rejected.values()) == self.rows_in

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (dates and the window as ISO strings)."""
        return {
            "draw_date": self.draw_date.isoformat() if self.draw_date else None,
            "window": self.window.to_dict(),
            "points_mode": self.points_mode,
            "entry_cap": self.entry_cap,
            "rows_in": self.rows_in,
            "rows_counted": self.rows_counted,
            "rows_excluded": dict(self.rows_excluded),
            "rows_rejected": dict(self.rows_rejected),
            "duplicate_conflicts": self.duplicate_conflicts,
            "participants": self.participants,
            "total_points": self.total_points,
            "total_entries": self.total_entries,
            "participants_excluded": dict(self.participants_excluded),
            "blacklist_unreadable": self.blacklist_unreadable,
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def format(self) -> str:
        """A short human summary for the terminal and the cohort report."""
        w = self.window
        start = "promotion start" if w.start is None else _stamp(w.start)
        excluded = sum(self.rows_excluded.values())
        rejected = sum(self.rows_rejected.values())
        width = max([26, *map(len, self.rows_excluded), *map(len, self.rows_rejected)])
        lines = [
            f"Draw date {self.draw_date or '-'}: window {start} to {_stamp(w.cutoff)} "
            f"({self.points_mode} points"
            + (f", cap {self.entry_cap} entries)" if self.entry_cap else ")"),
            f"rows read      {self.rows_in:>12,}",
            f"  counted      {self.rows_counted:>12,}",
            f"  excluded     {excluded:>12,}",
            *[f"    {k:<{width}} {v:>10,}" for k, v in self.rows_excluded.items()],
            f"  rejected     {rejected:>12,}",
            *[f"    {k:<{width}} {v:>10,}" for k, v in sorted(self.rows_rejected.items())],
            f"participants   {self.participants:>12,}",
            f"  points       {self.total_points:>12,}",
            f"  entries      {self.total_entries:>12,}",
            *[f"  excluded as {k}: {v:,}" for k, v in self.participants_excluded.items()],
        ]
        if self.duplicate_conflicts:
            lines.append(
                f"warning: {self.duplicate_conflicts:,} duplicate transaction id(s) with "
                "different content (the first occurrence was kept)"
            )
        if self.blacklist_unreadable:
            lines.append(
                f"warning: {self.blacklist_unreadable:,} blacklist entr(y/ies) are not a phone "
                "number and were not applied (fix the blacklist file)"
            )
        return "\n".join(lines)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class EligibilityResult:
    """Participants (msisdn, points, entries; sorted by msisdn) and the accounting."""

    participants: pd.DataFrame
    rejected: pd.DataFrame
    excluded: pd.DataFrame
    summary: EligibilitySummary = field(repr=False)


# ------------------------------------------------------------------------------ rules


def apply_rules(
    recharges: pd.DataFrame,
    config: PromotionConfig,
    draw_date: date,
    blacklist: Iterable[object] | pd.Series | None = None,
) -> EligibilityResult:
    """Apply the eligibility rules of ``config`` to ``recharges`` for ``draw_date``.

    ``blacklist`` holds numbers in any spelling (entries that are not a number are counted
    in ``summary.blacklist_unreadable``). Raises :class:`InputError` when a required column
    is missing or the date is out of range; bad values never raise, they are rejected row
    by row.
    """
    _require_columns(recharges, RECHARGE_COLUMNS, "recharges")
    draw_date = as_date(draw_date)
    window = draw_window(config, draw_date)
    n = len(recharges)
    tx_codes, tx_missing = _transaction_codes(recharges["transaction_id"])
    person, persons, msisdn_bad = _person_codes(recharges["msisdn"])
    kobo, amount_bad = _amount_kobo(recharges["amount_ngn"])
    ts_us, ts_bad = _timestamps_us(recharges["timestamp"], config)

    # The first reason that applies wins: checks are listed in precedence order.
    labels: list[object] = [None]
    reject = np.zeros(n, dtype=np.int16)
    checks = [(MISSING_TRANSACTION_ID, tx_missing), *msisdn_bad, *amount_bad, *ts_bad]
    for label, bad in checks:
        labels.append(label)
        reject[bad & (reject == 0)] = len(labels) - 1
    valid = reject == 0

    rule = np.zeros(n, dtype=np.int8)  # 0 = counted, i+1 = RULES[i]
    valid_pos = np.flatnonzero(valid)
    first_of, dup_pos = _duplicates(tx_codes, valid_pos)
    rule[dup_pos] = 1
    conflicts = _conflicts(dup_pos, first_of[tx_codes[dup_pos]], person, kobo, ts_us)

    live = valid & (rule == 0)
    inside = window_mask(ts_us, window)
    rule[live & ~inside] = 2
    live &= inside

    listed = read_blacklist_numbers(blacklist)
    banned = np.isin(persons, listed.national)
    row_banned = live & np.append(banned, False)[person]  # person -1 -> False
    rule[row_banned] = 3
    live &= ~row_banned

    points, no_points_rows, persons_with_rows = _points(person, kobo, live, config, len(persons))
    rule[no_points_rows] = 4
    live &= ~no_points_rows

    participants = participant_frame(persons, points, config.entry_cap)
    rejected = _rows_with(recharges, ~valid, "reason", np.array(labels, dtype=object)[reject])
    excluded_mask = valid & (rule > 0)
    labels = np.array(["", *RULES], dtype=object)
    excluded = _rows_with(recharges, excluded_mask, "rule", labels[rule])

    blacklisted_people = int(
        np.count_nonzero(np.bincount(person[row_banned], minlength=len(persons)))
    )
    under_people = int(np.count_nonzero(persons_with_rows & (points < 1)))
    summary = EligibilitySummary(
        rows_in=n,
        rows_counted=int(np.count_nonzero(live)),
        rows_excluded=dict(zip(RULES, map(int, np.bincount(rule, minlength=5)[1:]), strict=True)),
        rows_rejected=rejected["reason"].value_counts().sort_index().astype(int).to_dict(),
        participants=len(participants),
        total_points=int(participants["points"].sum()),
        total_entries=int(participants["entries"].sum()),
        participants_excluded={BLACKLISTED: blacklisted_people, UNDER_ONE_POINT: under_people},
        window=window,
        duplicate_conflicts=conflicts,
        draw_date=draw_date,
        points_mode=config.points_mode,
        entry_cap=config.entry_cap,
        blacklist_unreadable=listed.unreadable,
    )
    assert summary.accounted, "eligibility lost rows"  # an invariant, not an input check
    return EligibilityResult(participants, rejected, excluded, summary)


def participants_from_points(
    points: pd.DataFrame,
    config: PromotionConfig,
    blacklist: Iterable[object] | pd.Series | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Participants from points already summed elsewhere (e.g. by HogQL in PostHog).

    ``points`` has columns msisdn (any spelling) and points. Numbers that are the same
    subscriber are added up; invalid numbers, blacklisted numbers and totals under one
    point are left out and counted in the returned dict; entries are capped.
    """
    _require_columns(points, ("msisdn", "points"), "points")
    person, persons, reason = _person_codes(points["msisdn"])
    values = pd.to_numeric(points["points"], errors="coerce").fillna(0).to_numpy(np.float64)
    values = np.floor(np.clip(values, 0, None))
    ok = person >= 0
    banned = np.isin(persons, read_blacklist_numbers(blacklist).national)
    totals = np.bincount(person[ok], weights=values[ok], minlength=len(persons))
    totals = totals.astype(np.int64)
    keep_ban = ~banned
    excluded = {
        INVALID: int(np.count_nonzero(~ok)),
        BLACKLISTED: int(np.count_nonzero(banned)),
        UNDER_ONE_POINT: int(np.count_nonzero(keep_ban & (totals < 1))),
    }
    totals = np.where(banned, 0, totals)
    return participant_frame(persons, totals, config.entry_cap), excluded


def empty_participants() -> pd.DataFrame:
    """A participants frame with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "msisdn": pd.Series([], dtype=object),
            "points": pd.Series([], dtype=np.int64),
            "entries": pd.Series([], dtype=np.int64),
        }
    )


# ------------------------------------------------------------------------------ contract

E164_PATTERN = r"^\+234[789][0-9]{9}$"


class ParticipantsContract:
    """The participants contract: columns msisdn, points, entries in that order; msisdn
    E.164 Nigerian mobile, unique and sorted ascending; points and entries int64 >= 1.
    Checked in one vectorised pass (no copy of the frame)."""

    def failures(self, frame: pd.DataFrame) -> list[tuple[str, str, int]]:
        """(column, check, failing rows) for every failed check; empty when it holds."""
        if list(frame.columns) != list(PARTICIPANT_COLUMNS):
            found = ", ".join(map(str, frame.columns)) or "none"
            return [("columns", f"exactly msisdn, points, entries (found {found})", 1)]
        failed: list[tuple[str, str, int]] = []
        try:
            numbers = pa.array(frame["msisdn"], type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            numbers = None
            failed.append(("msisdn", "dtype('str')", len(frame)))
        if numbers is not None:
            shaped = pc.fill_null(pc.match_substring_regex(numbers, E164_PATTERN), False)
            bad = len(frame) - pc.sum(shaped).as_py() if len(frame) else 0
            if bad:
                failed.append(("msisdn", f"str_matches('{E164_PATTERN}')", bad))
            if len(numbers) > 1:
                after = pc.fill_null(pc.greater(numbers[1:], numbers[:-1]), False)
                if not pc.all(after).as_py():
                    same = pc.sum(pc.fill_null(pc.equal(numbers[1:], numbers[:-1]), False))
                    distinct = pc.count_distinct(numbers).as_py()
                    if distinct < len(numbers):
                        failed.append(("msisdn", "field_uniqueness", len(numbers) - distinct))
                    if same.as_py() < len(numbers) - 1:
                        failed.append(("DataFrameSchema", "sorted", 1))
        for column in ("points", "entries"):
            values = frame[column]
            if values.dtype != np.int64:
                failed.append((column, f"dtype('int64') (found {values.dtype})", len(values)))
                continue
            low = int(np.count_nonzero(values.to_numpy() < 1))
            if low:
                failed.append((column, "greater_than_or_equal_to(1)", low))
        return failed

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` unchanged when it holds the contract; else :func:`check_participants`'
        InputError."""
        check_participants(frame)
        return frame


def participants_schema() -> ParticipantsContract:
    """The participants contract (E.164, unique, sorted, at least 1 point and entry)."""
    return ParticipantsContract()


def check_participants(participants: pd.DataFrame) -> None:
    """Check a participants frame against the contract before it leaves drawkit (the
    draw's input file); an InputError names the failed checks, never a number."""
    failed = ParticipantsContract().failures(participants)
    if failed:
        places = sum(count for _, _, count in failed)
        named = "; ".join(f"{column}: {check}" for column, check, _ in failed)
        raise InputError(f"participants break the contract in {places:,} place(s): {named}")


# ------------------------------------------------------------------------------ value grammar
# DuckDB SQL: one implementation of the id, amount and timestamp rules. The in-memory path
# evaluates it once per distinct value; the streaming file engine once per row.

A_OK, A_MISSING, A_NON_NUMERIC, A_NON_POSITIVE, A_TOO_LARGE = range(5)  # amount status
_AMOUNT_LABELS = (None, MISSING_AMOUNT, NON_NUMERIC_AMOUNT, NON_POSITIVE_AMOUNT, AMOUNT_TOO_LARGE)
TIME_OK, TIME_MISSING, TIME_UNREADABLE = range(3)
DECIMAL_RE2 = r"[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
TIMESTAMP_RE2 = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"(?:[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?)?"
)


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_text(column: str) -> str:
    """The trimmed text of ``column`` (any type), NULL when missing or blank. The set trim
    runs only on values that start or end with a space or a character outside printable
    ASCII (a test of two code points: a GLOB on the last one costs twice the scan, and
    the slice ``[-1:]`` twice the index ``[-1]``), which is rare."""
    text = f"CAST({column} AS VARCHAR)"
    printable = "BETWEEN 33 AND 126"  # '!' to '~'
    edge = f"unicode({text}) NOT {printable} OR unicode({text}[-1]) NOT {printable}"
    return (
        f"nullif(CASE WHEN {edge} THEN trim({text}, {sql_literal(TRIM_CHARS)}) "
        f"ELSE {text} END, '')"
    )


def sql_number_text(column: str) -> str:
    """A DOUBLE column as amount text (mirror of :func:`number_text`): NaN is missing."""
    return (
        f"CASE WHEN {column} IS NULL OR isnan({column}) THEN NULL "
        f"WHEN isinf({column}) THEN 'inf' WHEN {column} > {MAX_AMOUNT_NGN} THEN '1000000001' "
        f"WHEN {column} <= 0 THEN '0' WHEN {column} < 0.01 THEN '0.001' "
        f"ELSE CAST({column} AS VARCHAR) END"
    )


Layer = list[tuple[str, str]]  # (alias, SQL expression); may use the aliases of earlier layers


def layered(source: str, base: str, layers: list[Layer]) -> str:
    """``SELECT {base} FROM {source}`` with each layer's columns added by an outer SELECT
    (so every expression is evaluated once per row)."""
    query = f"SELECT {base} FROM {source}"
    for layer in layers:
        columns = ", ".join(f"{expr} AS {alias}" for alias, expr in layer)
        query = f"SELECT *, {columns} FROM ({query})"  # noqa: S608 - constants only
    return query


def amount_layers(text: str) -> list[Layer]:
    """Columns a_st (A_* status) and kobo (floor(amount x 100) when a_st = A_OK, else NULL)
    for the trimmed amount text column ``text``."""
    return [
        [
            ("a_ok", f"regexp_full_match({text}, {sql_literal(DECIMAL_RE2)})"),
            ("a_whole", f"split_part(ltrim({text}, '+-'), '.', 1)"),
            ("a_frac", f"split_part({text}, '.', 2)"),
        ],
        [
            (
                "a_st",
                f"(CASE WHEN {text} IS NULL THEN {A_MISSING} "
                f"WHEN NOT a_ok THEN {A_NON_NUMERIC} "
                f"WHEN starts_with({text}, '-') OR NOT regexp_matches({text}, '[1-9]') "
                f"THEN {A_NON_POSITIVE} "
                f"WHEN TRY_CAST(a_whole AS DOUBLE) > {MAX_AMOUNT_NGN} "
                f"OR (TRY_CAST(a_whole AS DOUBLE) = {MAX_AMOUNT_NGN} "
                f"AND regexp_matches(a_frac, '[1-9]')) THEN {A_TOO_LARGE} ELSE {A_OK} END)",
            )
        ],
        [
            (
                "kobo",
                f"(CASE WHEN a_st = {A_OK} THEN "
                "CAST(coalesce(nullif(a_whole, ''), '0') AS BIGINT) * 100 "
                "+ CAST(rpad(left(a_frac, 2), 2, '0') AS BIGINT) END)",
            )
        ],
    ]


def timestamp_layers(text: str, timezone: str) -> list[Layer]:
    """Columns t_us (UTC microseconds, NULL when unreadable; naive times read in
    ``timezone``, the fraction cut to microseconds) and t_st (TIME_* status) for the
    trimmed timestamp text column ``text``."""
    return [
        [
            ("t_ok", f"regexp_full_match({text}, {sql_literal(TIMESTAMP_RE2)})"),
            ("t_aware", f"length({text}) > 10 AND regexp_matches(substr({text}, 11), '[Zz+-]')"),
        ],
        [
            (
                "t_us",
                f"(CASE WHEN NOT t_ok THEN NULL "
                f"WHEN t_aware THEN epoch_us(TRY_CAST(upper({text}) AS TIMESTAMPTZ)) "
                f"ELSE epoch_us(timezone({sql_literal(timezone)}, "
                f"TRY_CAST(upper({text}) AS TIMESTAMP))) END)",
            )
        ],
        [("t_st", sql_time_status(text, "t_us"))],
    ]


def sql_typed_timestamp_us(column: str, aware: bool, timezone: str) -> str:
    """UTC microseconds of a typed TIMESTAMP (naive: read in ``timezone``) or TIMESTAMPTZ."""
    if aware:
        return f"epoch_us(CAST({column} AS TIMESTAMPTZ))"
    return f"epoch_us(timezone({sql_literal(timezone)}, CAST({column} AS TIMESTAMP)))"


def sql_time_status(text: str, us: str) -> str:
    """TIME_* status from the trimmed text and its microseconds."""
    return (
        f"(CASE WHEN {text} IS NULL THEN {TIME_MISSING} "
        f"WHEN {us} IS NULL THEN {TIME_UNREADABLE} ELSE {TIME_OK} END)"
    )


_connections = threading.local()


def rules_connection() -> duckdb.DuckDBPyConnection:
    """This thread's small DuckDB connection for evaluating the value grammar."""
    con = getattr(_connections, "con", None)
    if con is None:
        con = duckdb.connect(config={"threads": 1})
        con.execute("SET TimeZone = 'UTC'")
        _connections.con = con
    return con


def _evaluate(table: pa.Table, query: str) -> pa.Table:
    """Run ``query`` (built from this module's constants) over ``table`` registered as
    ``v``; rows come back in the table's order."""
    con = rules_connection()
    con.register("v", table)
    try:
        return arrow_table(con.sql(query))
    finally:
        con.unregister("v")


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """A DuckDB relation's rows as an Arrow table (DuckDB 1.x and 2.x)."""
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()


def number_text(value: float) -> str | None:
    """A float amount as text: the shortest decimal that round-trips (mirror of
    :func:`sql_number_text`); NaN is missing."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf"
    if value > MAX_AMOUNT_NGN:
        return "1000000001"
    if value <= 0:
        return "0"
    if value < 0.01:
        return "0.001"
    return repr(float(value))


def amount_text(value: object) -> str | None:
    """Any amount value as the text the grammar reads (None when missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))  # not a number
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return number_text(float(value))
    if isinstance(value, Decimal):
        return None if value.is_nan() else format(value, "f")
    return str(value)


def amount_values(values: Iterable[object]) -> tuple[np.ndarray, np.ndarray]:
    """(status A_*, kobo) per value, by the SQL grammar."""
    texts = pa.array([amount_text(v) for v in values], type=pa.string())
    query = layered("v", f"{sql_text('a0')} AS a", amount_layers("a"))
    out = _evaluate(pa.table({"a0": texts}), query)
    kobo_values = np.asarray(pc.fill_null(out["kobo"], 0), dtype=np.int64)
    return np.asarray(out["a_st"], dtype=np.int8), kobo_values


def timestamp_text(value: object) -> str | None:
    """Any timestamp value as the text the grammar reads (None when missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def timestamp_values(values: Any, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """(status TIME_*, UTC microseconds or the missing marker) per value."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_any_dtype(values.dtype):
        aware = isinstance(values.dtype, pd.DatetimeTZDtype)
        stamps = pa.array(values, from_pandas=True)
        us = sql_typed_timestamp_us("t", aware, timezone)
        query = f"SELECT t IS NULL AS missing, {us} AS us FROM v"  # noqa: S608 - constants only
        out = _evaluate(pa.table({"t": stamps}), query)
        missing = np.asarray(out["missing"], dtype=bool)
        micros = np.asarray(pc.fill_null(out["us"], _MISSING), dtype=np.int64)
        status = np.where(missing, TIME_MISSING, np.where(micros == _MISSING, TIME_UNREADABLE, 0))
        return status.astype(np.int8), micros
    texts = pa.array([timestamp_text(v) for v in values], type=pa.string())
    query = layered("v", f"{sql_text('t0')} AS t", timestamp_layers("t", timezone))
    out = _evaluate(pa.table({"t0": texts}), query)
    micros = np.asarray(pc.fill_null(out["t_us"], _MISSING), dtype=np.int64)
    return np.asarray(out["t_st"], dtype=np.int8), micros


def transaction_text(value: object) -> str | None:
    """A transaction id trimmed (case kept); None when missing or blank."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip(TRIM_CHARS)
    return text or None


# ------------------------------------------------------------------------------ columns


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} lack column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, frame.columns)) or 'none'})"
        )


def _uniques(column: pd.Series) -> tuple[np.ndarray, Any]:
    """Codes per row (-1 for missing) and the distinct values."""
    return pd.factorize(column, use_na_sentinel=True)


def _transaction_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per distinct trimmed transaction id, and a mask of missing or blank ids."""
    codes, uniques = _uniques(column)
    trimmed = pd.Series([transaction_text(v) for v in uniques], dtype=object)
    same, _ = pd.factorize(trimmed, use_na_sentinel=True)
    row_codes = np.append(same, -1)[codes]
    return row_codes, row_codes < 0


def _person_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray, Checks]:
    """Per row a participant code (-1 when invalid); per code the national number (int64,
    which sorts like E.164); the rejection masks. Numbers are checked once per spelling."""
    codes, uniques = _uniques(column)
    national, reason = national_numbers(pd.Series(uniques))
    valid = national >= 0
    person_of_unique = np.full(len(national), -1, dtype=np.int64)
    found, persons = pd.factorize(national[valid])
    person_of_unique[valid] = found
    person = np.append(person_of_unique, -1)[codes]
    checks: Checks = []
    if (person < 0).any():
        reason_u = np.append(reason.fillna("").to_numpy(dtype=object), "missing phone number")
        row_reason_code, reason_names = pd.factorize(reason_u)
        for i, name in enumerate(reason_names):
            if name:
                checks.append((f"{INVALID_MSISDN}: {name}", (row_reason_code == i)[codes]))
    return person, np.asarray(persons, dtype=np.int64), checks


def _amount_kobo(column: pd.Series) -> tuple[np.ndarray, Checks]:
    """Amounts in kobo (int64; 0 where invalid) and the rejection masks."""
    codes, uniques = _uniques(column)
    status_u, kobo_u = amount_values(uniques)
    status = np.append(status_u, A_MISSING)[codes]
    kobo = np.append(kobo_u, 0)[codes]
    checks = [(label, status == code) for code, label in enumerate(_AMOUNT_LABELS) if code]
    return kobo, checks


def parse_timestamps(values: pd.Series, config: PromotionConfig) -> pd.Series:
    """Timestamps as UTC (tz-aware, nanoseconds) by the rules :func:`apply_rules` uses:
    ISO 8601, naive values read in the promotion timezone; NaT where missing, unreadable
    or beyond what nanoseconds hold (before 1677 or after 2262)."""
    us, _ = _timestamps_us(values, config)
    limit = np.iinfo(np.int64).max // 1000
    ns = np.where((us != _MISSING) & (np.abs(us) < limit), us * 1000, _MISSING)
    stamps = pd.to_datetime(ns.view("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(stamps, index=values.index)


def _timestamps_us(column: pd.Series, config: PromotionConfig) -> tuple[np.ndarray, Checks]:
    """UTC microseconds per row (naive values read in the promotion timezone), rejections."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        status, us = timestamp_values(column.reset_index(drop=True), config.timezone)
    else:
        codes, uniques = _uniques(column)
        status_u, us_u = timestamp_values(uniques, config.timezone)
        status = np.append(status_u, TIME_MISSING)[codes]
        us = np.append(us_u, _MISSING)[codes]
    checks = [
        (MISSING_TIMESTAMP, status == TIME_MISSING),
        (UNREADABLE_TIMESTAMP, status == TIME_UNREADABLE),
    ]
    return us, checks


def microseconds(when: datetime) -> int:
    """UTC microseconds since the epoch of an aware datetime."""
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def window_mask(us: np.ndarray, window: DrawWindow) -> np.ndarray:
    """True where the UTC microseconds fall in ``[start, cutoff)`` (the marker never)."""
    start = microseconds(window.start) if window.start is not None else _MISSING + 1
    return (us >= start) & (us < microseconds(window.cutoff))


# ------------------------------------------------------------------------------ blacklist


@dataclass(frozen=True)
class BlacklistNumbers:
    """A blacklist read: the national numbers (int64) and what could not be read."""

    national: np.ndarray
    unreadable: int = 0
    sample: tuple[str, ...] = ()  # masked


def read_blacklist_numbers(
    blacklist: Iterable[object] | pd.Series | BlacklistNumbers | None,
) -> BlacklistNumbers:
    """The numbers of a blacklist in any spelling; entries that are not a number (blank
    ones aside) are counted, logged with a masked sample, never silently dropped."""
    if blacklist is None:
        return BlacklistNumbers(np.zeros(0, dtype=np.int64))
    if isinstance(blacklist, BlacklistNumbers):
        return blacklist
    values = blacklist if isinstance(blacklist, pd.Series) else pd.Series(list(blacklist))
    codes, uniques = _uniques(values)
    national, reason = national_numbers(pd.Series(uniques))
    bad = (national < 0) & (reason.fillna("") != "missing phone number").to_numpy()
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    unreadable = int(counts[bad].sum())
    sample = tuple(mask(v) for v in pd.Series(uniques)[bad].head(3))
    if unreadable:
        logger.warning(
            "%d blacklist entr(y/ies) are not a phone number and are not applied (e.g. %s)",
            unreadable,
            ", ".join(sample),
        )
    return BlacklistNumbers(np.unique(national[national >= 0]), unreadable, sample)


# ------------------------------------------------------------------------------ rules


def _duplicates(codes: np.ndarray, valid_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of the first valid occurrence per id code, and the positions of later ones.

    ``np.minimum.at`` over the code range: no hash table, so less memory than duplicated().
    """
    size = int(codes.max()) + 1 if len(codes) else 0
    first_of = np.full(size, len(codes), dtype=np.int64)
    valid_codes = codes[valid_pos]
    np.minimum.at(first_of, valid_codes, valid_pos)
    later = first_of[valid_codes] != valid_pos
    return first_of, valid_pos[later]


def _conflicts(dup_pos: np.ndarray, first_pos: np.ndarray, *columns: np.ndarray) -> int:
    """How many duplicate rows differ from the first occurrence of their id."""
    differs = np.zeros(len(dup_pos), dtype=bool)
    for column in columns:
        differs |= column[dup_pos] != column[first_pos]
    return int(np.count_nonzero(differs))


def _points(
    person: np.ndarray, kobo: np.ndarray, live: np.ndarray, config: PromotionConfig, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points per participant, rows that earn none, and which participants had live rows."""
    unit = config.naira_per_point * 100  # kobo per point
    who = person[live]
    has_rows = np.bincount(who, minlength=size) > 0
    if config.points_mode == "summed":
        totals = np.zeros(size, dtype=np.int64)
        np.add.at(totals, who, kobo[live])  # exact integers (no float weights)
        points = totals // unit
        zero_rows = live & (np.append(points, 0)[person] < 1)  # person -1 -> 0
    else:
        row_points = kobo // unit
        zero_rows = live & (row_points < 1)
        keep = live & ~zero_rows
        points = np.zeros(size, dtype=np.int64)
        np.add.at(points, person[keep], row_points[keep])
    return points, zero_rows, has_rows


def participant_frame(persons: np.ndarray, points: np.ndarray, cap: int | None) -> pd.DataFrame:
    """Eligible participants (points >= 1) sorted by msisdn, entries capped."""
    keep = points >= 1
    if not keep.any():
        return empty_participants()
    national = persons[keep]
    order = np.argsort(national, kind="stable")  # 10-digit numbers sort like their E.164
    pts = points[keep].astype(np.int64)[order]
    entries = np.minimum(pts, cap) if cap is not None else pts
    msisdn = e164_strings(national[order]).astype(object)
    return pd.DataFrame({"msisdn": msisdn, "points": pts, "entries": entries})


def _rows_with(
    frame: pd.DataFrame, mask: np.ndarray, name: str, labels: np.ndarray
) -> pd.DataFrame:
    """The input rows under ``mask`` with a column ``name`` of labels."""
    pos = np.flatnonzero(mask)
    out = frame.iloc[pos].copy()
    out[name] = pd.Series(labels[pos], index=out.index, dtype=object)
    return out
