"""docs/eligibility-rules.md on the PostHog path: the same rules as HogQL and as Python.

PostHog holds the recharges, so the rules run there as HogQL (pushed down), and in
Python for the few values HogQL cannot decide exactly (numbers written with exponents or
more than 15 digits, distinct ids that are not E.164). Both halves follow one grammar:

* **Amounts** are read as the raw JSON text of the property (``JSONExtractRaw``), never
  through PostHog's typed ``properties.x`` (a Numeric property is read through
  ``toFloat``, which turns text into NULL). A JSON string is trimmed and must be a plain
  decimal; a JSON number is its shortest round-trip decimal. Kobo are computed from the
  digits (no float): kobo = floor(amount × 100).
* **Transaction ids** are text trimmed of Unicode white space and zero-width characters;
  case is kept.
* **Numbers**: a distinct id written exactly as a valid E.164 mobile number is decided in
  HogQL by libphonenumber's own mobile pattern; every other spelling is normalised once
  in Python by :mod:`drawkit.msisdn`.

HogQL text uses only functions present in every PostHog since 2023 (no ``toFloatOrNull``,
no ``toDecimal``): tests parse every query with PostHog's own parser and check each
function against PostHog's function table.
"""

from __future__ import annotations

import json
import math
import re
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from drawkit.eligibility import (
    AMOUNT_TOO_LARGE,
    MAX_AMOUNT_NGN,
    MISSING_AMOUNT,
    NON_NUMERIC_AMOUNT,
    NON_POSITIVE_AMOUNT,
)
from drawkit.msisdn import _mobile_pattern

# Unicode white space (str.isspace) and the zero-width characters U+200B-U+200D, U+2060,
# U+FEFF, as code point ranges: one list for the HogQL (RE2) and the Python pattern.
_TRIM_RANGES = (
    (0x09, 0x0D), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
    (0x2000, 0x200D), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x2060),
    (0x3000, 0x3000), (0xFEFF, 0xFEFF),
)  # fmt: skip
TRIM_RE2 = "[" + "".join(f"\\x{{{lo:04X}}}-\\x{{{hi:04X}}}" for lo, hi in _TRIM_RANGES) + "]"
_TRIM_PY = "[" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in _TRIM_RANGES) + "]"
_TRIM = re.compile(f"^{_TRIM_PY}+|{_TRIM_PY}+$")

# A plain decimal: optional sign, digits, optionally a point and more digits (".5" too).
PLAIN_DECIMAL = r"^[+-]?(?:[0-9]+|[0-9]*\.[0-9]+)$"
_PLAIN = re.compile(PLAIN_DECIMAL)
# A JSON number HogQL decides from its digits: no exponent, at most 15 characters (so at
# most 15 significant digits: its shortest round-trip decimal is itself).
FAST_JSON_NUMBER = r"^-?[0-9]+(?:\.[0-9]+)?$"
FAST_JSON_MAX_LENGTH = 15
MAX_KOBO = MAX_AMOUNT_NGN * 100


def trim(text: str) -> str:
    """``text`` without surrounding Unicode white space or zero-width characters."""
    return _TRIM.sub("", text)


def e164_pattern() -> str:
    """RE2 pattern of a valid Nigerian mobile number written exactly in E.164."""
    return f"^\\+234(?:{_mobile_pattern().pattern})$"


def classify_amount_text(text: str | None) -> tuple[str | None, int]:
    """(rejection reason or None, kobo) of an amount written as text."""
    if text is None:
        return MISSING_AMOUNT, 0
    cleaned = trim(str(text))
    if not cleaned:
        return MISSING_AMOUNT, 0
    if not _PLAIN.match(cleaned):
        return NON_NUMERIC_AMOUNT, 0
    return _classify_decimal(Decimal(cleaned))


def classify_json_amount(raw: str | None) -> tuple[str | None, int]:
    """(rejection reason or None, kobo) of an amount given as raw JSON text.

    A JSON string is text (:func:`classify_amount_text`); a JSON number is its shortest
    round-trip decimal (an integer exactly); NaN, infinities, booleans, objects and
    lists are ``non_numeric_amount``; absent or null is ``missing_amount``.
    """
    if raw is None or raw.strip() in ("", "null"):
        return MISSING_AMOUNT, 0
    try:
        value = json.loads(raw)
    except ValueError:
        return NON_NUMERIC_AMOUNT, 0
    if isinstance(value, str):
        return classify_amount_text(value)
    if value is None:
        return MISSING_AMOUNT, 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return NON_NUMERIC_AMOUNT, 0
    if isinstance(value, float):
        if not math.isfinite(value):
            return NON_NUMERIC_AMOUNT, 0
        return _classify_decimal(Decimal(repr(value)))
    return _classify_decimal(Decimal(value))


def _classify_decimal(amount: Decimal) -> tuple[str | None, int]:
    try:
        if amount <= 0:
            return NON_POSITIVE_AMOUNT, 0
        if amount > MAX_AMOUNT_NGN:
            return AMOUNT_TOO_LARGE, 0
        return None, int((amount * 100).to_integral_value(rounding=ROUND_FLOOR))
    except InvalidOperation:
        return NON_NUMERIC_AMOUNT, 0


def plain_json_number(raw: str) -> str | None:
    """A JSON number's raw text as plain decimal text without exponent (what the local
    rules read for a numeric column), or None when it is not a finite number."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    return format(exact, "f")


def is_fast_json_number(raw: str) -> bool:
    """True when HogQL decides this raw JSON value itself (see FAST_JSON_NUMBER)."""
    return len(raw) <= FAST_JSON_MAX_LENGTH and re.match(FAST_JSON_NUMBER, raw) is not None
