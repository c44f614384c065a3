"""The eligibility rules: recharges in, participants with points and entries out.

Pure, vectorised pandas/numpy over a recharge table with the columns ``transaction_id``,
``msisdn``, ``amount_ngn`` and ``timestamp`` (raw strings as read from a file, or typed).
Every input row ends in exactly one place:

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
  Timestamps are ISO 8601; one without an offset is read in the promotion timezone, one
  with an offset (or ``Z``) is converted. Future timestamps are simply outside the window.
* Duplicates: among valid rows, the first occurrence of a transaction id (in input order)
  owns it and goes on through the rules; every later row with the same id is excluded as
  ``duplicate_transaction``, whatever its content. A later row whose number, amount or
  timestamp differs from the first is also counted in ``summary.duplicate_conflicts`` so
  the cohort report shows it (a rejected row never claims an id).
* Points: amounts are handled in kobo (integers). ``per_recharge``: each recharge earns
  ``amount // naira_per_point`` points, and a recharge that earns 0 points is excluded as
  ``under_1_point``. ``summed``: a participant's window total is divided once; all rows of a
  participant whose total earns 0 points are excluded as ``under_1_point``. Entries are
  points, capped at ``entry_cap`` when the promotion sets one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drawkit.config import PromotionConfig
from drawkit.errors import InputError
from drawkit.msisdn import e164_strings, national_numbers

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

_AWARE_SUFFIX = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_NS_MISSING = np.iinfo(np.int64).min
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
    """A draw date from a date, a datetime (its date) or an ISO string (YYYY-MM-DD)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"draw date must be YYYY-MM-DD, got {value!r}") from exc


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

    ``blacklist`` holds numbers in any spelling. Raises :class:`InputError` when a required
    column is missing; bad values never raise, they are rejected row by row.
    """
    _require_columns(recharges, RECHARGE_COLUMNS, "recharges")
    draw_date = as_date(draw_date)
    window = draw_window(config, draw_date)
    n = len(recharges)
    tx_codes, tx_missing = _transaction_codes(recharges["transaction_id"])
    person, persons, msisdn_bad = _person_codes(recharges["msisdn"])
    kobo, amount_bad = _amount_kobo(recharges["amount_ngn"])
    ts_ns, ts_bad = _timestamps_ns(recharges["timestamp"], config)

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
    conflicts = _conflicts(dup_pos, first_of[tx_codes[dup_pos]], person, kobo, ts_ns)

    live = valid & (rule == 0)
    start_ns = _ns(window.start) if window.start is not None else np.iinfo(np.int64).min
    inside = (ts_ns >= start_ns) & (ts_ns < _ns(window.cutoff))
    rule[live & ~inside] = 2
    live &= inside

    banned = _blacklisted_persons(persons, blacklist)
    row_banned = live & np.append(banned, False)[person]  # person -1 -> False
    rule[row_banned] = 3
    live &= ~row_banned

    points, no_points_rows, persons_with_rows = _points(person, kobo, live, config, len(persons))
    rule[no_points_rows] = 4
    live &= ~no_points_rows

    participants = _participant_frame(persons, points, config.entry_cap)
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
    banned = _blacklisted_persons(persons, blacklist)
    totals = np.bincount(person[ok], weights=values[ok], minlength=len(persons))
    totals = totals.astype(np.int64)
    keep_ban = ~banned
    excluded = {
        INVALID: int(np.count_nonzero(~ok)),
        BLACKLISTED: int(np.count_nonzero(banned)),
        UNDER_ONE_POINT: int(np.count_nonzero(keep_ban & (totals < 1))),
    }
    totals = np.where(banned, 0, totals)
    return _participant_frame(persons, totals, config.entry_cap), excluded


def empty_participants() -> pd.DataFrame:
    """A participants frame with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "msisdn": pd.Series([], dtype=object),
            "points": pd.Series([], dtype=np.int64),
            "entries": pd.Series([], dtype=np.int64),
        }
    )


def participants_schema():  # -> pandera.pandas.DataFrameSchema
    """The pandera schema of a participants frame (E.164, unique, at least 1 entry)."""
    import pandera.pandas as pdr

    return pdr.DataFrameSchema(
        {
            "msisdn": pdr.Column(str, pdr.Check.str_matches(r"^\+234[789]\d{9}$"), unique=True),
            "points": pdr.Column(np.int64, pdr.Check.ge(1)),
            "entries": pdr.Column(np.int64, pdr.Check.ge(1)),
        },
        checks=pdr.Check(lambda frame: frame["msisdn"].is_monotonic_increasing, error="sorted"),
        strict=True,
        ordered=True,
    )


def check_participants(participants: pd.DataFrame) -> None:
    """Check a participants frame against :func:`participants_schema` before it leaves
    drawkit (the draw's input file); an InputError names the failed checks, never a number."""
    from pandera.errors import SchemaErrors

    try:
        participants_schema().validate(participants, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        failed = cases[["column", "check"]].astype(str).drop_duplicates()
        named = "; ".join(f"{column}: {check}" for column, check in failed.itertuples(index=False))
        raise InputError(
            f"participants break the contract in {len(cases):,} place(s): {named}"
        ) from None


# ------------------------------------------------------------------------------ columns


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} lack column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, frame.columns)) or 'none'})"
        )


def _transaction_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer code per distinct transaction id, and a mask of missing or blank ids."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    blank = _blank_strings(uniques)
    missing = codes < 0
    if blank.any():
        missing |= np.append(blank, False)[codes]
    return codes, missing


def _blank_strings(values: Any) -> np.ndarray:
    """True for values that are empty or whitespace-only strings."""
    try:
        arr = pa.array(values, type=pa.string(), from_pandas=True)
        blank = pc.match_substring_regex(arr, r"^\s*$")  # no trimmed copy of every id
        return np.asarray(pc.fill_null(blank, False), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.array([isinstance(v, str) and not v.strip() for v in values], dtype=bool)


def _person_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray, Checks]:
    """Per row a participant code (-1 when invalid); per code the national number (int64,
    which sorts like E.164); the rejection masks. Numbers are checked once per spelling."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
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
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        missing = np.isnan(values)
        non_numeric = np.isinf(values)
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        text = pd.Series(uniques, dtype=object).map(_amount_text)
        parsed = pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        blank = np.append(text.isna().to_numpy(), True)
        values = np.append(parsed, np.nan)[codes]
        missing = blank[codes]
        non_numeric = ~missing & ~np.isfinite(values)
    non_positive = np.isfinite(values) & (values <= 0)
    too_large = np.isfinite(values) & (values > MAX_AMOUNT_NGN)
    good = ~(missing | non_numeric | non_positive | too_large)
    kobo = np.zeros(len(values), dtype=np.int64)
    kobo[good] = np.round(values[good] * 100).astype(np.int64)
    checks = [
        (MISSING_AMOUNT, missing),
        (NON_NUMERIC_AMOUNT, non_numeric),
        (NON_POSITIVE_AMOUNT, non_positive),
        (AMOUNT_TOO_LARGE, too_large),
    ]
    return kobo, checks


def _amount_text(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return "not a number"
    text = str(value).strip()
    return text or None


def parse_timestamps(values: pd.Series, config: PromotionConfig) -> pd.Series:
    """Timestamps as UTC (tz-aware) by the rules :func:`apply_rules` uses: ISO 8601, naive
    values read in the promotion timezone; NaT where missing or unreadable."""
    ns, _ = _timestamps_ns(values, config)
    stamps = pd.to_datetime(ns.view("datetime64[ns]")).tz_localize("UTC")
    return pd.Series(stamps, index=values.index)


def _timestamps_ns(column: pd.Series, config: PromotionConfig) -> tuple[np.ndarray, Checks]:
    """UTC nanoseconds per row (naive values read in the promotion timezone), rejections."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        parsed = column.dt.tz_convert("UTC")
        missing = parsed.isna().to_numpy()
        unreadable = np.zeros(len(column), dtype=bool)
    elif pd.api.types.is_datetime64_dtype(column):
        missing = column.isna().to_numpy()
        parsed = column.dt.tz_localize(config.tz, ambiguous="NaT", nonexistent="NaT")
        unreadable = parsed.isna().to_numpy() & ~missing
    else:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        u_ns, u_missing = _parse_unique_timestamps(uniques, config)
        ns = np.append(u_ns, _NS_MISSING)[codes]
        missing = np.append(u_missing, True)[codes]
        unreadable = (ns == _NS_MISSING) & ~missing
        return ns, [(MISSING_TIMESTAMP, missing), (UNREADABLE_TIMESTAMP, unreadable)]
    ns = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    ns = ns.to_numpy().view(np.int64).copy()
    ns[missing | unreadable] = _NS_MISSING
    return ns, [(MISSING_TIMESTAMP, missing), (UNREADABLE_TIMESTAMP, unreadable)]


_ISO_RE2 = (
    r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?$"
)


def _parse_unique_timestamps(
    uniques: Any, config: PromotionConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Parse distinct timestamp values: aware ones converted, naive ones localised.

    Plain ISO 8601 goes through pyarrow's parser; anything else (or a group Arrow refuses)
    through pandas, which gives NaT for what it cannot read.
    """
    text = _arrow_text(uniques)
    missing = np.asarray(pc.is_null(text), dtype=bool)
    ns = np.full(len(text), _NS_MISSING, dtype=np.int64)
    aware = np.asarray(pc.fill_null(pc.match_substring_regex(text, _AWARE_SUFFIX), False))
    plain = np.asarray(pc.fill_null(pc.match_substring_regex(text, _ISO_RE2), False))
    groups = [
        (plain & aware, True, True),
        (plain & ~aware, False, True),
        (~plain & aware & ~missing, True, False),
        (~plain & ~aware & ~missing, False, False),
    ]
    for mask, is_aware, fast in groups:
        if mask.any():
            idx = np.flatnonzero(mask)
            values = text.take(pa.array(idx))
            parsed = _arrow_ns(values, is_aware, config) if fast else None
            if parsed is None:
                parsed = _pandas_ns(values, is_aware, config)
            ns[idx] = parsed
    return ns, missing


def _arrow_text(values: Any) -> pa.Array:
    """Distinct values as an Arrow string array, stripped; blanks become nulls."""
    try:
        text = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = pa.array([_timestamp_text(v) for v in values], type=pa.string())
    text = pc.utf8_trim_whitespace(text)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _arrow_ns(values: pa.Array, aware: bool, config: PromotionConfig) -> np.ndarray | None:
    """UTC nanoseconds by Arrow's ISO 8601 parser, or None when Arrow refuses the group."""
    try:
        if aware:
            parsed = values.cast(pa.timestamp("ns", "UTC"))
        else:
            local = values.cast(pa.timestamp("ns"))
            parsed = pc.assume_timezone(local, timezone=config.timezone)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return np.asarray(parsed.cast(pa.int64()).fill_null(_NS_MISSING), dtype=np.int64)


def _pandas_ns(values: pa.Array, aware: bool, config: PromotionConfig) -> np.ndarray:
    """UTC nanoseconds by pandas' ISO 8601 parser (NaT -> missing marker)."""
    series = pd.Series(values.to_pylist(), dtype=object)
    if aware:
        parsed = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(series, format="ISO8601", errors="coerce")
        parsed = parsed.dt.tz_localize(config.tz, ambiguous="NaT", nonexistent="NaT")
    parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
    out = parsed.to_numpy().view(np.int64).copy()
    out[parsed.isna().to_numpy()] = _NS_MISSING
    return out


def _timestamp_text(value: object) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _ns(when: datetime) -> int:
    return int(pd.Timestamp(when).tz_convert("UTC").value)


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


def _blacklisted_persons(
    persons: np.ndarray, blacklist: Iterable[object] | pd.Series | None
) -> np.ndarray:
    """True per participant (national number) on the blacklist, written in any spelling."""
    if blacklist is None or len(persons) == 0:
        return np.zeros(len(persons), dtype=bool)
    values = blacklist if isinstance(blacklist, pd.Series) else pd.Series(list(blacklist))
    _, uniques = pd.factorize(values)
    national, _ = national_numbers(pd.Series(uniques))
    return np.isin(persons, national[national >= 0])


def _points(
    person: np.ndarray, kobo: np.ndarray, live: np.ndarray, config: PromotionConfig, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points per participant, rows that earn none, and which participants had live rows."""
    unit = config.naira_per_point * 100  # kobo per point
    who = person[live]
    has_rows = np.bincount(who, minlength=size) > 0
    if config.points_mode == "summed":
        totals = np.bincount(who, weights=kobo[live], minlength=size)
        points = (totals // unit).astype(np.int64)
        zero_rows = live & (np.append(points, 0)[person] < 1)  # person -1 -> 0
    else:
        row_points = kobo // unit
        zero_rows = live & (row_points < 1)
        keep = live & ~zero_rows
        points = np.bincount(person[keep], weights=row_points[keep], minlength=size)
        points = points.astype(np.int64)
    return points, zero_rows, has_rows


def _participant_frame(persons: np.ndarray, points: np.ndarray, cap: int | None) -> pd.DataFrame:
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
