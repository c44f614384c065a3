"""The canonical cohort: participants sorted by E.164 number, and its SHA-256 digest.

The digest is what the operator publishes before the randomness exists: SHA-256 over the
UTF-8 lines ``msisdn,entries\\n`` in canonical order (see docs/draw-spec.md, 'Cohort').
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from drawkit.errors import EmptyCohortError, InputError
from drawkit.msisdn import mask

E164_LENGTH = 14  # "+234" and a 10-digit national number
INT64_MAX = (1 << 63) - 1
_CHUNK = 1 << 18
_DIGITS = 19  # an int64 has at most 19 decimal digits
_POWERS_OF_TEN = np.array([10**k for k in range(_DIGITS)], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Cohort:
    """Participants in canonical order with their entries and the cohort digest."""

    msisdns: np.ndarray  # str, sorted ascending
    entries: np.ndarray  # int64, aligned with msisdns
    digest: str  # hex SHA-256 of the canonical list
    total_entries: int

    def __len__(self) -> int:
        return len(self.msisdns)

    def to_frame(self) -> pd.DataFrame:
        """The cohort as a DataFrame (msisdn, entries) in canonical order."""
        return pd.DataFrame({"msisdn": self.msisdns, "entries": self.entries})


def canonical_cohort(participants: pd.DataFrame) -> Cohort:
    """Check, sort and digest a participants table (columns ``msisdn``, ``entries``).

    Raises :class:`EmptyCohortError` for no rows and :class:`InputError` naming the
    first bad row (masked) for a number not in E.164, a duplicate number, or entries
    that are missing, fractional, zero or negative.
    """
    for column in ("msisdn", "entries"):
        if column not in participants.columns:
            raise InputError(f"participants table has no '{column}' column")
    if len(participants) == 0:
        raise EmptyCohortError("the cohort is empty: no eligible participant to draw from")
    msisdns = participants["msisdn"].to_numpy(dtype=object)
    raw = _e164_bytes(msisdns)
    entries = _entries_array(participants["entries"], msisdns)
    if not bool(np.all(raw[1:] > raw[:-1])):
        order = np.argsort(raw, kind="stable")
        raw, msisdns, entries = raw[order], msisdns[order], entries[order]
        _reject_duplicates(raw)
    total = _exact_total(entries)
    return Cohort(msisdns, entries, digest_of(raw, entries), total)


def cohort_digest(participants: pd.DataFrame) -> str:
    """The hex SHA-256 digest of the canonical cohort of ``participants``."""
    return canonical_cohort(participants).digest


def canonical_lines(cohort: Cohort) -> bytes:
    """The exact bytes the digest covers (small cohorts: tests, vectors, auditors)."""
    pairs = zip(cohort.msisdns, cohort.entries, strict=True)
    return "".join(f"{m},{int(e)}\n" for m, e in pairs).encode("utf-8")


def _e164_bytes(msisdns: np.ndarray) -> np.ndarray:
    """Fixed-width ASCII copy of the numbers; an error names the first non-E.164 one."""
    try:
        raw = msisdns.astype(f"S{E164_LENGTH + 1}")
    except (UnicodeEncodeError, ValueError, TypeError):
        raw = None
    if raw is not None:
        grid = raw.view(np.uint8).reshape(len(raw), E164_LENGTH + 1)
        digits = grid[:, 1:E164_LENGTH]
        ok = (
            (grid[:, 0] == ord("+"))
            & (grid[:, 1] == ord("2"))
            & (grid[:, 2] == ord("3"))
            & (grid[:, 3] == ord("4"))
            & np.all((digits >= ord("0")) & (digits <= ord("9")), axis=1)
            & (grid[:, E164_LENGTH] == 0)
        )
        if bool(ok.all()) and pd.api.types.infer_dtype(msisdns, skipna=False) == "string":
            return raw.astype(f"S{E164_LENGTH}")
        bad = int(np.flatnonzero(~ok)[0])
    else:
        bad = next(i for i, m in enumerate(msisdns) if not _looks_e164(m))
    raise InputError(
        f"participants row {bad}: msisdn {mask(msisdns[bad])} is not an E.164 Nigerian "
        "number (+234 and 10 digits); normalise numbers with drawkit.msisdn first"
    )


def _looks_e164(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == E164_LENGTH
        and value.startswith("+234")
        and value[1:].isascii()
        and value[1:].isdigit()
    )


def _entries_array(column: pd.Series, msisdns: np.ndarray) -> np.ndarray:
    """Entries as int64; an error names the first missing, fractional or non-positive one."""
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna().to_numpy()
    if not bad.any() and not pd.api.types.is_integer_dtype(values.dtype):
        as_float = values.to_numpy(dtype=np.float64)
        bad = (as_float != np.floor(as_float)) | (np.abs(as_float) > 2**53)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"participants row {i} ({mask(msisdns[i])}): entries {column.iloc[i]!r} is not a "
            "whole number"
        )
    entries = values.to_numpy(dtype=np.int64)
    non_positive = entries <= 0
    if non_positive.any():
        i = int(np.flatnonzero(non_positive)[0])
        raise InputError(
            f"participants row {i} ({mask(msisdns[i])}): entries must be at least 1, got "
            f"{int(entries[i])}"
        )
    return entries


def _reject_duplicates(sorted_raw: np.ndarray) -> None:
    same = sorted_raw[1:] == sorted_raw[:-1]
    if same.any():
        i = int(np.flatnonzero(same)[0])
        count = int(same.sum())
        number = sorted_raw[i].decode("ascii")
        raise InputError(
            f"duplicate msisdn {mask(number)} in the cohort ({count} duplicate row(s) in all): "
            "each participant must appear once with their total entries"
        )


def _exact_total(entries: np.ndarray) -> int:
    """Total entries as an exact integer; it must fit in int64 (ticket numbers do)."""
    if int(entries.max()) <= INT64_MAX // len(entries):
        return int(entries.sum(dtype=np.int64))
    total = sum(int(chunk.sum(dtype=object)) for chunk in np.array_split(entries, 64))
    if total > INT64_MAX:
        raise InputError(f"total entries {total} exceed 2**63 - 1; the cohort is too large")
    return total


def digest_of(raw: np.ndarray, entries: np.ndarray) -> str:
    """SHA-256 over ``msisdn,entries\\n`` lines, built in vectorised chunks."""
    sha = hashlib.sha256()
    for start in range(0, len(raw), _CHUNK):
        sha.update(_lines_chunk(raw[start : start + _CHUNK], entries[start : start + _CHUNK]))
    return sha.hexdigest()


def _lines_chunk(raw: np.ndarray, entries: np.ndarray) -> bytes:
    """Bytes of ``msisdn,entries\\n`` for a chunk, without a Python loop per row."""
    n = len(raw)
    width = E164_LENGTH + 1 + _DIGITS + 1
    grid = np.zeros((n, width), dtype=np.uint8)
    grid[:, :E164_LENGTH] = raw.view(np.uint8).reshape(n, E164_LENGTH)
    grid[:, E164_LENGTH] = ord(",")
    values = entries.astype(np.int64).copy()
    digits = np.zeros((n, _DIGITS), dtype=np.uint8)
    for column in range(_DIGITS - 1, -1, -1):
        digits[:, column] = values % 10
        values //= 10
    # keep the digits from the first non-zero one (entries are >= 1, so one exists)
    length = np.searchsorted(_POWERS_OF_TEN, entries, side="right")
    keep_digit = np.arange(_DIGITS)[None, :] >= (_DIGITS - length)[:, None]
    grid[:, E164_LENGTH + 1 : E164_LENGTH + 1 + _DIGITS] = digits + ord("0")
    grid[:, -1] = ord("\n")
    keep = np.ones((n, width), dtype=bool)
    keep[:, E164_LENGTH + 1 : E164_LENGTH + 1 + _DIGITS] = keep_digit
    return grid[keep].tobytes()
