"""Phone numbers in every odd spelling: normalised alike, rejected with a reason, masked."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from reliability_support import E164, is_mobile, nationals, spellings

from drawkit.errors import InvalidMsisdnError
from drawkit.msisdn import invalid_reason, mask, normalize, normalize_series
from drawkit.redact import redact

pytestmark = pytest.mark.reliability

CASES = {"spellings": 0, "junk": 0, "rejected": 0, "series": 0, "masked": 0, "redacted": 0}


@settings(max_examples=1500)
@given(data=st.data(), national=nationals)
def test_every_spelling_of_a_valid_number_normalises_to_the_same_e164(data, national) -> None:  # noqa: ANN001
    spelled = data.draw(spellings(national), label="spelling")
    CASES["spellings"] += 1
    assert invalid_reason(spelled) is None, repr(spelled)
    assert normalize(spelled) == "+234" + national
    masked = mask(spelled)
    assert national not in masked and masked.count("*") >= 4
    CASES["masked"] += 1


junk = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789 +-().", max_size=18),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(),
    st.none(),
    st.booleans(),
    st.sampled_from(["", "   ", "N/A", "null", "+44 20 7946 0958", "0803123456", "080312345678"]),
    st.sampled_from(["2.34803E+12", "+234 803 123 456", "0203 123 4567", "+2348031234567x"]),
)


@settings(max_examples=2000)
@given(junk)
@example("numbe")  # the raw value is a substring of the reason's own words
def test_any_value_is_e164_or_rejected_with_a_reason_and_masked(value: object) -> None:
    CASES["junk"] += 1
    reason = invalid_reason(value)
    try:
        e164 = normalize(value)
    except InvalidMsisdnError as exc:
        CASES["rejected"] += 1
        assert reason and str(exc).startswith(reason)
        text = str(value).strip()
        assert str(exc).endswith(mask(value))
        if len(text) > 4 and mask(value) != text:
            shown = str(exc)[len(reason) :]
            assert text not in shown, "the error message shows the raw value"
        return
    assert reason is None
    assert E164.match(e164), e164
    assert is_mobile(e164[4:])


@settings(max_examples=300)
@given(st.lists(st.one_of(junk, nationals.map(lambda n: "0" + n)), min_size=1, max_size=30))
def test_vectorised_path_agrees_with_the_scalar_path(values: list) -> None:
    CASES["series"] += len(values)
    e164, reason = normalize_series(pd.Series(values, dtype=object))
    for value, got, why in zip(values, e164, reason, strict=True):
        expected = invalid_reason(value)
        if expected is None:
            assert got == normalize(value) and pd.isna(why), repr(value)
        else:
            assert pd.isna(got) and why == expected, (repr(value), why, expected)


@settings(max_examples=1000)
@given(
    data=st.data(),
    national=nationals,
    before=st.sampled_from(["winner ", "msisdn=", "call ", "[", "rejected row: ", ""]),
    after=st.sampled_from([" won", ";", "]", ", amount 500", ""]),
)
def test_redact_masks_a_number_inside_text(data, national, before, after) -> None:  # noqa: ANN001
    spelled = data.draw(spellings(national), label="spelling")
    assume(isinstance(spelled, str))
    line = redact(f"{before}{spelled.strip()}{after}")
    CASES["redacted"] += 1
    assert national not in re.sub(r"[\s\-./]", "", line), line


@pytest.mark.parametrize(
    "spelled",
    ["(0803) 123-4567", "0803  123  4567", "0803/123/4567", "23408031234567", "002348031234567"],
)
def test_redact_masks_a_number_written_with_brackets_odd_separators_or_2340(spelled: str) -> None:
    assert normalize(spelled) == "+2348031234567"
    line = redact(f"call {spelled} now")
    assert "1234567" not in re.sub(r"[\s\-./()]", "", line), line


def test_msisdn_fuzz_figures(reliability) -> None:  # noqa: ANN001
    assert CASES["spellings"] and CASES["junk"] and CASES["series"] and CASES["redacted"]
    reliability.add(
        "bad input: phone numbers",
        "valid mobile numbers (libphonenumber as oracle) in 11 spellings: spaces, dashes, "
        "dots, NBSP, tabs, +234/234/00234/no prefix, lost leading 0, float, int, "
        "(0803) brackets, +234 (0), 2340 slip",
        CASES["spellings"],
        "all normalise to the same E.164; mask() hides the middle digits",
    )
    reliability.add(
        "bad input: phone numbers",
        "random text, digits and punctuation, ints, floats (NaN/inf), None, bools, "
        "foreign and short/long numbers",
        CASES["junk"],
        f"E.164 (a real NG mobile) or InvalidMsisdnError with a reason ({CASES['rejected']} "
        "rejected); the message never shows the raw value",
    )
    reliability.add(
        "bad input: phone numbers",
        "normalize_series (vectorised) vs normalize (scalar) on mixed columns",
        CASES["series"],
        "same E.164 and same rejection reason for every value",
    )
    reliability.add(
        "security: masking",
        "redact() of log lines holding a number in any of the 11 spellings (brackets, "
        "slashes, doubled spaces, 00234, the 2340 slip included)",
        CASES["redacted"],
        "the 10-digit national number never survives",
    )
