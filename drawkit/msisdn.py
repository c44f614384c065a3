"""Nigerian mobile numbers (MSISDNs): normalise to E.164, validate, mask.

Validation uses libphonenumber's own metadata for Nigeria (via the ``phonenumbers``
package): the scalar path calls ``phonenumbers`` directly; the vectorised path used on
millions of rows applies the same metadata's mobile number pattern to the national
number, so both paths accept exactly the same numbers (tests check they agree).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from drawkit.errors import InvalidMsisdnError

COUNTRY_CODE = "234"
E164_LENGTH = 14  # "+234" and a 10-digit national number
REGION = "NG"

# Separators people type inside numbers: spaces, dashes, dots, slashes, brackets.
_SEPARATORS = re.compile(r"[\s\-./()\u00a0]")


@lru_cache(maxsize=1)
def _mobile_pattern() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(REGION)
    return re.compile(f"(?:{metadata.mobile.national_number_pattern})")


@lru_cache(maxsize=1)
def mobile_prefixes() -> dict[str, str]:
    """The leading digits of Nigerian mobile numbers, from libphonenumber's metadata:
    {first three national digits: the fourth digits allowed after them}."""
    pattern = _mobile_pattern()
    found: dict[str, str] = {}
    for head in range(1000, 10000):
        if pattern.fullmatch(f"{head}000000") or pattern.fullmatch(f"{head}999999"):
            key = str(head)[:3]
            found[key] = found.get(key, "") + str(head)[3]
    return found


def mobile_prefix_regex(separator: str = "") -> str:
    """A regex for the first four national digits of a mobile number (from the metadata),
    with ``separator`` allowed before the fourth: used by log redaction and the leak scan."""
    parts = []
    for head, fourth in sorted(mobile_prefixes().items()):
        tail = r"\d" if fourth == "0123456789" else f"[{fourth}]"
        parts.append(f"{head}{separator}{tail}")
    return "(?:" + "|".join(parts) + ")"


# A number a spreadsheet saved as a float, written out as text: "2348031234567.0".
_FLOAT_TEXT = re.compile(r"^(\+?\d+)\.0+$")
# Zero-width characters removed anywhere in a number; prefixes a spreadsheet or a phone
# export adds: an Excel text apostrophe, tel:.
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_TEXT_PREFIX = re.compile(r"^(?:'|tel:)+", re.IGNORECASE)


def _clean(text: str) -> str:
    """NFKC (full-width digits and ＋), zero-width characters out, a leading ' or tel: off."""
    text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)).strip()
    return _TEXT_PREFIX.sub("", text).strip()


def _national_number(text: str) -> str | None:
    """Strip a written number down to its 10-digit national number, or None."""
    compact = _SEPARATORS.sub("", _FLOAT_TEXT.sub(r"\1", _clean(text)))
    if compact.startswith("+"):
        compact = compact[1:]
        if not compact.startswith(COUNTRY_CODE):
            return None  # another country's number
        compact = compact[len(COUNTRY_CODE) :]
    elif compact.startswith("00" + COUNTRY_CODE):
        compact = compact[2 + len(COUNTRY_CODE) :]
    elif compact.startswith(COUNTRY_CODE) and len(compact) in (13, 14):
        compact = compact[len(COUNTRY_CODE) :]
    if compact.startswith("0") and len(compact) == 11:
        compact = compact[1:]  # national trunk prefix; also fixes the common 2340... slip
    if len(compact) != 10 or not (compact.isascii() and compact.isdigit()):
        return None
    return compact


def normalize(value: object) -> str:
    """Return ``value`` as an E.164 Nigerian mobile number (``+2348031234567``).

    Accepts ``08031234567``, ``8031234567``, ``2348031234567``, ``+234 803 123 4567``,
    ``+2348031234567``, the same with dashes, dots, slashes or brackets, a spreadsheet
    float (``2348031234567.0``), an Excel text prefix (``'0803...``), ``tel:``, zero-width
    characters and full-width digits (docs/eligibility-rules.md, *Numbers*). Raises
    :class:`~drawkit.errors.InvalidMsisdnError` (with the value masked) otherwise.
    """
    reason = invalid_reason(value)
    if reason:
        raise InvalidMsisdnError(f"{reason}: {mask(value)}")
    national = _national_number(_as_text(value) or "")
    assert national is not None  # invalid_reason accepted it
    return f"+{COUNTRY_CODE}{national}"


def invalid_reason(value: object) -> str | None:
    """Why ``value`` is not a Nigerian mobile number, or None when it is one."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "missing phone number"
    text = _as_text(value)  # spreadsheets turn numbers into floats
    if not text:
        return "missing phone number"
    national = _national_number(text)
    if national is None:
        return "not a Nigerian phone number"
    try:
        parsed = phonenumbers.parse(f"+{COUNTRY_CODE}{national}", None)
    except phonenumbers.NumberParseException:
        return "not a Nigerian phone number"
    if not phonenumbers.is_valid_number_for_region(parsed, REGION):
        return "not a valid Nigerian number"
    if phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return "not a Nigerian mobile number"
    return None


def is_valid(value: object) -> bool:
    """True when ``value`` is a Nigerian mobile number in any accepted spelling."""
    return invalid_reason(value) is None


def normalize_series(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`normalize` for a column of any dtype.

    Returns ``(e164, reason)``: ``e164`` holds the E.164 string or ``<NA>``; ``reason``
    holds why a value was rejected, or ``<NA>`` when it was accepted. Work is done once
    per distinct value, so a column of millions of rows with a few hundred thousand
    subscribers costs a few hundred thousand checks.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    national, unique_reason = national_numbers(pd.Series(uniques))
    unique_e164 = e164_strings(national)
    e164_table = np.append(np.where(national >= 0, unique_e164, None), None)
    reason_table = np.append(unique_reason.to_numpy(dtype=object), "missing phone number")
    e164 = pd.Series(e164_table[codes], index=values.index, dtype="string")
    reason = pd.Series(reason_table[codes], index=values.index, dtype="string")
    return e164, reason


def e164_strings(national: np.ndarray) -> np.ndarray:
    """E.164 strings (object array) for 10-digit national numbers (int64, zero-padded to
    10 digits; -1 gives '')."""
    digits = pc.utf8_lpad(pa.array(np.where(national >= 0, national, 0)).cast(pa.string()), 10, "0")
    e164 = pc.binary_join_element_wise("+" + COUNTRY_CODE, digits, "")
    return np.where(national >= 0, np.asarray(e164.to_numpy(zero_copy_only=False)), "")


# The same rules as _national_number in RE2 syntax, for pyarrow's vectorised string kernels.
_SEPARATORS_RE2 = r"[\s\-./()\x{00A0}]"
_NATIONAL_RE2 = r"^(?:\+234|00234|234)?0?(?P<national>\d{10})$"


def e164_nationals(text: pa.Array) -> np.ndarray | None:
    """The national numbers (int64) when every value of ``text`` is "+234" and 10 ASCII
    digits, else None: a few vectorised checks (lengths, the prefix, an integer cast that
    refuses non-digits), for columns that should be E.164 already."""
    if text.null_count or not pc.all(pc.equal(pc.binary_length(text), E164_LENGTH)).as_py():
        return None
    if not pc.all(pc.starts_with(text, "+234")).as_py():
        return None
    try:
        national = np.asarray(pc.utf8_slice_codeunits(text, 4).cast(pa.int64()), dtype=np.int64)
    except (pa.ArrowInvalid, OverflowError):
        return None
    return national if len(national) == 0 or int(national.min()) >= 0 else None


def national_numbers(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Per value: the 10-digit national mobile number as int64 (-1 when invalid), and why
    a value was rejected (``<NA>`` when accepted). Call it on distinct values.

    Integers compare and sort like the E.164 strings they stand for (all have 10 digits),
    so large columns can group and sort on them instead of on strings.
    """
    values = values.reset_index(drop=True)
    text = _arrow_text(values)
    compact = pc.replace_substring_regex(text, pattern=_SEPARATORS_RE2, replacement="")
    national = pc.struct_field(pc.extract_regex(compact, pattern=_NATIONAL_RE2), [0])
    mobile = pc.match_substring_regex(national, pattern=f"^(?:{_mobile_pattern().pattern})$")
    valid = np.asarray(pc.fill_null(mobile, False), dtype=bool)
    numbers = np.asarray(pc.fill_null(national.cast(pa.int64()), -1), dtype=np.int64)
    numbers = np.where(valid, numbers, -1)
    reason = pd.Series(pd.NA, index=values.index, dtype="string")
    slow = np.flatnonzero(~valid)
    if len(slow):
        # Rejections (and odd spellings) take the exact scalar path for a precise reason.
        slow_values = values.iloc[slow].astype(object)
        slow_reason = slow_values.map(invalid_reason)
        accepted = slow_reason.isna().to_numpy()
        if accepted.any():
            e164 = slow_values[accepted].map(normalize)
            numbers[slow[accepted]] = e164.str[len(COUNTRY_CODE) + 1 :].astype(np.int64)
        reason.iloc[slow] = slow_reason.where(~accepted, pd.NA).to_numpy()
    return numbers, reason


def _arrow_text(values: pd.Series) -> pa.Array:
    """Values as an Arrow string array, stripped; non-strings go through :func:`_as_text`."""
    try:
        text = pa.array(values.array, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        text = pa.array(values.map(_as_text).astype(object).tolist(), type=pa.string())
    return pc.utf8_trim_whitespace(text)


def _as_text(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def mask(value: object) -> str:
    """Mask a number for display: ``+2348031234567`` → ``0803****567``.

    Valid numbers are shown in national form with the four middle digits hidden; anything
    else keeps at most its first 2 and last 2 characters, so a bad value in an error
    message never leaks a full number.
    """
    text = _as_text(value) or ""
    national = _national_number(text) if text else None
    if national is not None:
        local = "0" + national
        return f"{local[:4]}****{local[-3:]}"
    if len(text) <= 4:
        return "*" * len(text)
    return f"{text[:2]}{'*' * (len(text) - 4)}{text[-2:]}"


# Spellings :func:`mask` reads as a national number without cleaning: +234, 234 or 0, then
# 10 ASCII digits and nothing else.
_PLAIN_RE2 = r"^(?:\+?234|0)(?P<national>[0-9]{10})$"


def mask_series(values: pd.Series) -> pd.Series:
    """Vectorised :func:`mask` (the same text for every value): plain spellings are
    masked by Arrow, the rest one distinct value at a time."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.append(_masks(np.asarray(uniques, dtype=object)), "")
    return pd.Series(table[codes], index=values.index, dtype="string")


def _masks(uniques: np.ndarray) -> np.ndarray:
    try:
        text = pa.array(uniques, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.array([mask(u) for u in uniques], dtype=object)
    national = pc.struct_field(pc.extract_regex(text, pattern=_PLAIN_RE2), [0])
    shown = pc.binary_join_element_wise(
        "0", pc.utf8_slice_codeunits(national, 0, 3), "****", pc.utf8_slice_codeunits(national, 7),
        "",
    )
    out = np.asarray(shown.to_numpy(zero_copy_only=False), dtype=object)
    for i in np.flatnonzero(pd.isna(out)):
        out[i] = mask(uniques[i])
    return out


def national_sql(column: str) -> str:
    """A DuckDB SQL expression: the 10-digit national number (BIGINT) of the text in
    ``column`` when it takes the common spellings (the vectorised fast path of
    :func:`national_numbers`, same RE2 patterns), else NULL; callers send the NULLs
    through :func:`national_numbers` for the exact answer and the reason."""
    compact = f"regexp_replace(trim({column}), '{_SEPARATORS_RE2}', '', 'g')"
    national = f"regexp_extract({compact}, '{_NATIONAL_RE2}', 1)"
    mobile = _mobile_pattern().pattern
    return (
        f"(CASE WHEN regexp_full_match({national}, '{mobile}') "
        f"THEN CAST({national} AS BIGINT) END)"
    )
