"""The canonical cohort: participants sorted by E.164 number, and its SHA-256 digest.

The digest is what the operator publishes before the randomness exists: SHA-256 over the
UTF-8 lines ``msisdn,entries\\n`` in canonical order (see docs/draw-spec.md, 'Cohort').
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drawkit.errors import EmptyCohortError, InputError
from drawkit.msisdn import E164_LENGTH, e164_nationals, e164_strings, mask

INT64_MAX = (1 << 63) - 1
_CHUNK = 1 << 20  # lines hashed per Arrow buffer
_E164_RE2 = r"^\+234[0-9]{10}$"


@dataclass(frozen=True, eq=False)
class Cohort:
    """Participants in canonical order with their entries and the cohort digest."""

    national: np.ndarray  # int64, the 10 digits after +234, sorted ascending
    entries: np.ndarray  # int64, aligned with national
    digest: str  # hex SHA-256 of the canonical list
    total_entries: int

    def __len__(self) -> int:
        return len(self.national)

    @cached_property
    def msisdns(self) -> np.ndarray:
        """The E.164 numbers (str), sorted ascending: built on first use (a draw needs
        only its winners' numbers, :meth:`msisdn`)."""
        return e164_strings(self.national)

    def msisdn(self, index: int) -> str:
        """The E.164 number at canonical position ``index``."""
        return f"+234{int(self.national[index]):010d}"

    def to_frame(self) -> pd.DataFrame:
        """The cohort as a DataFrame (msisdn, entries) in canonical order."""
        return pd.DataFrame({"msisdn": self.msisdns, "entries": self.entries})


def canonical_cohort(participants: pd.DataFrame) -> Cohort:
    """Check, sort and digest a participants table (columns ``msisdn``, ``entries``).

    Raises :class:`EmptyCohortError` for no rows and :class:`InputError` naming the
    first bad row (masked) for a number not in E.164, a duplicate number, or entries
    that are missing, fractional, zero or negative. Vectorised: the numbers are checked
    and compared as Arrow strings, sorted by their 10-digit national part (int64), and
    the digested lines are built by Arrow and hashed in chunks.
    """
    for column in ("msisdn", "entries"):
        if column not in participants.columns:
            raise InputError(f"participants table has no '{column}' column")
    if len(participants) == 0:
        raise EmptyCohortError("the cohort is empty: no eligible participant to draw from")
    column = participants["msisdn"]
    national = _national_numbers(column)
    entries = _entries_array(participants["entries"], column)
    if len(national) > 1 and not bool(np.all(national[1:] > national[:-1])):
        order = np.argsort(national, kind="stable")  # fixed width: sorts like the strings
        national, entries = national[order], entries[order]
        _reject_duplicates(national)
    total = _exact_total(entries)
    return Cohort(national, entries, _digest_national(national, entries), total)


def cohort_digest(participants: pd.DataFrame) -> str:
    """The hex SHA-256 digest of the canonical cohort of ``participants``."""
    return canonical_cohort(participants).digest


def canonical_lines(cohort: Cohort) -> bytes:
    """The exact bytes the digest covers (small cohorts: tests, vectors, auditors)."""
    pairs = zip(cohort.msisdns, cohort.entries, strict=True)
    return "".join(f"{m},{int(e)}\n" for m, e in pairs).encode("utf-8")


def _national_numbers(column: pd.Series) -> np.ndarray:
    """The 10 digits after +234 as int64 (they sort like the E.164 strings: fixed width);
    an error names the first number that is not "+234" and 10 ASCII digits."""
    try:
        text = pa.array(column.array, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = None
    if text is not None:
        national = e164_nationals(text)
        if national is not None:
            return national
        ok = pc.fill_null(pc.match_substring_regex(text, _E164_RE2), False)
        bad = int(np.flatnonzero(~np.asarray(ok, dtype=bool))[0])
    else:
        bad = next(i for i, m in enumerate(column) if not _looks_e164(m))
    raise InputError(
        f"participants row {bad}: msisdn {mask(column.iloc[bad])} is not an E.164 Nigerian "
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


def _entries_array(column: pd.Series, msisdns: pd.Series) -> np.ndarray:
    """Entries as int64; an error names the first missing, fractional or non-positive one."""
    if column.dtype == np.int64:
        entries = column.to_numpy()
    else:
        values = pd.to_numeric(column, errors="coerce")
        bad = values.isna().to_numpy()
        if not bad.any() and not pd.api.types.is_integer_dtype(values.dtype):
            as_float = values.to_numpy(dtype=np.float64)
            bad = (as_float != np.floor(as_float)) | (np.abs(as_float) > 2**53)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"participants row {i} ({mask(msisdns.iloc[i])}): entries {column.iloc[i]!r} "
                "is not a whole number"
            )
        entries = values.to_numpy(dtype=np.int64)
    non_positive = entries <= 0
    if non_positive.any():
        i = int(np.flatnonzero(non_positive)[0])
        raise InputError(
            f"participants row {i} ({mask(msisdns.iloc[i])}): entries must be at least 1, got "
            f"{int(entries[i])}"
        )
    return entries


def _reject_duplicates(sorted_national: np.ndarray) -> None:
    same = sorted_national[1:] == sorted_national[:-1]
    if same.any():
        i = int(np.flatnonzero(same)[0])
        count = int(same.sum())
        number = f"+234{int(sorted_national[i]):010d}"
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


def digest_of(national: np.ndarray, entries: np.ndarray) -> str:
    """SHA-256 over ``msisdn,entries\\n`` lines (canonical order already applied) from the
    10-digit national numbers (int64) and the entries."""
    return _digest_national(national, entries)


def _digest_national(national: np.ndarray, entries: np.ndarray) -> str:
    """SHA-256 of the lines, built by Arrow in chunks: each chunk's lines are one
    contiguous buffer, handed to hashlib without a copy per row."""
    sha = hashlib.sha256()
    for start in range(0, len(national), _CHUNK):
        digits = pa.array(national[start : start + _CHUNK]).cast(pa.string())
        digits = pc.utf8_lpad(digits, 10, "0")
        counts = pa.array(entries[start : start + _CHUNK]).cast(pa.string())
        lines = pc.binary_join_element_wise("+234", digits, ",", counts, "\n", "")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[
            lines.offset : lines.offset + len(lines) + 1
        ]
        sha.update(memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])])
    return sha.hexdigest()
