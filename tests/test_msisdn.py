"""MSISDN parsing: every accepted spelling gives E.164, rejections say why, masking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drawkit.errors import InvalidMsisdnError
from drawkit.msisdn import invalid_reason, is_valid, mask, mask_series, normalize, normalize_series

E164 = "+2348031234567"
SPELLINGS = [
    "08031234567",
    "8031234567",
    "2348031234567",
    "+234 803 123 4567",
    "+2348031234567",
    "0803-123-4567",
    "0803.123.4567",
    " 08031234567 ",
    "00234 803 123 4567",
    "+234 (0) 803 123 4567",
    "2348031234567.0",  # a spreadsheet float saved as text
    "08031234567.00",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_accepted_spellings_normalise_to_e164(spelling: str) -> None:
    assert normalize(spelling) == E164
    assert is_valid(spelling)


def test_numbers_read_as_integers_or_floats() -> None:
    assert normalize(8031234567) == E164
    assert normalize(2348031234567.0) == E164


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("+447911123456", "not a Nigerian phone number"),  # UK mobile
        ("+12025550123", "not a Nigerian phone number"),
        ("012345678", "not a Nigerian phone number"),  # Lagos landline, too short
        ("01234567890", "not a"),  # 11-digit fixed line
        ("hello", "not a Nigerian phone number"),
        ("0803123456", "not a"),
        ("080312345678", "not a Nigerian phone number"),
        ("", "missing phone number"),
        (None, "missing phone number"),
        (float("nan"), "missing phone number"),
    ],
)
def test_rejections_say_why(value: object, reason: str) -> None:
    assert (invalid_reason(value) or "").startswith(reason)
    with pytest.raises(InvalidMsisdnError):
        normalize(value)


def test_error_message_masks_the_number() -> None:
    with pytest.raises(InvalidMsisdnError) as info:
        normalize("+447911123456")
    assert "447911123456" not in str(info.value)


def test_mask() -> None:
    assert mask(E164) == "0803****567"
    assert mask("08031234567") == "0803****567"
    assert mask("+234 803 123 4567") == "0803****567"
    assert "7911123" not in mask("+447911123456")
    assert mask("abc") == "***"
    masked = mask_series(pd.Series([E164, None, "+2348051234569"]))
    assert list(masked) == ["0803****567", "", "0805****569"]


def test_normalize_series_matches_scalar_path_and_keeps_index() -> None:
    values = pd.Series(
        [*SPELLINGS, "+447911123456", None, np.nan, "", "12345", 8031234567],
        index=range(100, 100 + len(SPELLINGS) + 6),
        dtype=object,
    )
    e164, reason = normalize_series(values)
    assert list(e164.index) == list(values.index)
    for value, got, why in zip(values, e164, reason, strict=True):
        expected = invalid_reason(value)
        if expected is None:
            assert got == normalize(value) and pd.isna(why)
        else:
            assert pd.isna(got) and why == expected


def test_normalize_series_on_arrow_strings() -> None:
    values = pd.Series(["08031234567", None, "x", "+234 803 123 4567"], dtype="string[pyarrow]")
    e164, reason = normalize_series(values)
    assert list(e164.fillna("-")) == [E164, "-", "-", E164]
    assert list(reason.fillna("ok")) == [
        "ok",
        "missing phone number",
        "not a Nigerian phone number",
        "ok",
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789+ -().", max_size=18),
        st.from_regex(r"(\+234|234|0)?[789][01][0-9]{8}", fullmatch=True),
    )
)
def test_vectorised_and_scalar_paths_agree(value: str) -> None:
    e164, reason = normalize_series(pd.Series([value], dtype=object))
    expected = invalid_reason(value)
    assert (pd.isna(reason.iloc[0]) and expected is None) or reason.iloc[0] == expected
    if expected is None:
        assert e164.iloc[0] == normalize(value)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(alphabet="0123456789+ -().\uff10\uff11", max_size=16),
            st.from_regex(r"(\+?234|0|00234|2340)?[0-9]{9,11}", fullmatch=True),
        ),
        max_size=8,
    )
)
def test_mask_series_is_mask_of_each_value(values: list[str | None]) -> None:
    masked = mask_series(pd.Series(values, dtype=object)).tolist()
    assert masked == [mask(v) if v is not None else "" for v in values]


# ------------------------------------------------------------------ spreadsheet and phone exports


@pytest.mark.parametrize(
    "spelling",
    [
        "'08031234567",  # Excel text prefix
        "tel:+2348031234567",
        "TEL:08031234567",
        "0803\u200b123\u200b4567",  # zero-width spaces
        "\ufeff08031234567",  # a BOM glued to the first cell
        "\uff0b\uff12\uff13\uff14\uff18\uff10\uff13\uff11\uff12\uff13\uff14\uff15\uff16\uff17",
    ],
)
def test_export_spellings_normalise(spelling: str) -> None:
    assert normalize(spelling) == E164
    e164, reason = normalize_series(pd.Series([spelling]))
    assert e164.iloc[0] == E164 and pd.isna(reason.iloc[0])


@pytest.mark.parametrize(
    "value",
    ["2.34803E+12", "O8031234567", "08031234567;", "0803 123 4567 (staff)", "\u0660803123456"],
)
def test_lost_digits_letters_and_comments_are_not_numbers(value: str) -> None:
    assert invalid_reason(value) is not None
    assert "1234567" not in mask(value)


def test_mobile_prefixes_come_from_the_numbering_plan() -> None:
    import re

    import phonenumbers

    from drawkit.msisdn import mobile_prefix_regex, mobile_prefixes

    prefixes = mobile_prefixes()
    assert "720" in prefixes and "803" in prefixes and "916" in prefixes
    pattern = re.compile(mobile_prefix_regex())
    for national in ("7201234568", "8031234567", "9161234567", "7021234567"):
        parsed = phonenumbers.parse("+234" + national)
        mobile = phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
        assert bool(pattern.match(national)) == mobile, national
