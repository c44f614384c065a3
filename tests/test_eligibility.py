"""Eligibility rules: window, points, duplicates, blacklist and full row accounting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drawkit.config import PromotionConfig
from drawkit.eligibility import (
    BLACKLISTED,
    DUPLICATE,
    OUTSIDE_WINDOW,
    RULES,
    UNDER_ONE_POINT,
    apply_rules,
    draw_window,
    participants_from_points,
    participants_schema,
)
from drawkit.errors import InputError

DRAW = date(2026, 11, 27)  # cutoff 2026-11-27 00:00 WAT = 2026-11-26 23:00 UTC
CONFIG = PromotionConfig()
A = "+2348031234567"
B = "+2348031234568"
C = "+2348051234569"


def frame(rows: list[tuple]) -> pd.DataFrame:
    """Recharge rows (transaction_id, msisdn, amount_ngn, timestamp) as raw strings."""
    return pd.DataFrame(rows, columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])


def entries_of(result) -> dict[str, int]:
    return dict(zip(result.participants["msisdn"], result.participants["entries"], strict=True))


def points_of(result) -> dict[str, int]:
    return dict(zip(result.participants["msisdn"], result.participants["points"], strict=True))


# ------------------------------------------------------------------ window


def test_daily_window_is_the_24_hours_before_midnight_lagos() -> None:
    window = draw_window(CONFIG, DRAW)
    assert window.cutoff == datetime(2026, 11, 26, 23, 0, tzinfo=UTC)
    assert window.start == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)


def test_draw_date_as_text() -> None:
    assert draw_window(CONFIG, "2026-11-27") == draw_window(CONFIG, DRAW)
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        draw_window(CONFIG, "27/11/2026")


def test_cumulative_window_starts_at_start_date_and_custom_cutoff_time() -> None:
    config = replace(
        CONFIG, window="cumulative", start_date=date(2026, 11, 1), cutoff_time=time(18, 30)
    )
    window = draw_window(config, DRAW)
    assert window.start == datetime(2026, 11, 1, 17, 30, tzinfo=UTC)
    assert window.cutoff == datetime(2026, 11, 27, 17, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timestamp", "inside"),
    [
        ("2026-11-26T23:59:59", True),  # naive = WAT, one second before the cutoff
        ("2026-11-27T00:00:00", False),  # the cutoff instant itself is outside
        ("2026-11-26T22:59:59Z", True),  # same instants written in UTC
        ("2026-11-26T23:00:00Z", False),
        ("2026-11-26T22:59:59+00:00", True),
        ("2026-11-27T00:00:00+01:00", False),
        ("2026-11-26 23:59:59.999", True),
        ("2026-11-26T00:00:00", True),  # the window start is inside
        ("2026-11-25T23:59:59", False),
        ("2026-11-25T22:59:59Z", False),
        ("2027-01-01T10:00:00Z", False),  # future: simply outside
    ],
)
def test_cutoff_either_side_in_wat_and_utc(timestamp: str, inside: bool) -> None:
    result = apply_rules(frame([("t1", "08031234567", "100", timestamp)]), CONFIG, DRAW)
    assert (result.summary.rows_counted == 1) is inside
    assert (result.summary.rows_excluded[OUTSIDE_WINDOW] == 1) is not inside


def test_typed_timestamps_naive_localised_and_aware_converted() -> None:
    naive = pd.to_datetime(["2026-11-26 23:59:59", "2026-11-27 00:00:00"])
    aware = pd.to_datetime(["2026-11-26 22:59:59", "2026-11-26 23:00:00"]).tz_localize("UTC")
    for stamps in (naive, aware):
        recharges = frame([("t1", A, 100, None), ("t2", B, 100, None)])
        recharges["timestamp"] = stamps
        result = apply_rules(recharges, CONFIG, DRAW)
        assert list(result.participants["msisdn"]) == [A]
        assert list(result.excluded["rule"]) == [OUTSIDE_WINDOW]


# ------------------------------------------------------------------ points


@pytest.mark.parametrize(("amount", "points"), [("99", 0), ("100", 1), ("250", 2), ("199.99", 1)])
def test_every_100_naira_is_one_point_rounded_down(amount: str, points: int) -> None:
    result = apply_rules(frame([("t1", A, amount, "2026-11-26T12:00:00")]), CONFIG, DRAW)
    assert points_of(result) == ({A: points} if points else {})
    if not points:
        assert list(result.excluded["rule"]) == [UNDER_ONE_POINT]
        assert result.summary.participants_excluded[UNDER_ONE_POINT] == 1


def test_per_recharge_versus_summed_points() -> None:
    rows = [
        ("t1", A, "60", "2026-11-26T08:00:00"),
        ("t2", A, "60", "2026-11-26T09:00:00"),
        ("t3", A, "250", "2026-11-26T10:00:00"),
        ("t4", B, "99", "2026-11-26T10:00:00"),
    ]
    per = apply_rules(frame(rows), CONFIG, DRAW)
    assert points_of(per) == {A: 2}
    assert per.summary.rows_counted == 1
    assert per.summary.rows_excluded[UNDER_ONE_POINT] == 3
    assert per.summary.participants_excluded[UNDER_ONE_POINT] == 1  # B

    summed = apply_rules(frame(rows), replace(CONFIG, points_mode="summed"), DRAW)
    assert points_of(summed) == {A: 3}  # 370 naira
    assert summed.summary.rows_counted == 3
    assert list(summed.excluded["transaction_id"]) == ["t4"]


def test_entry_cap_limits_entries_not_points() -> None:
    rows = [("t1", A, "5000", "2026-11-26T08:00:00"), ("t2", B, "300", "2026-11-26T08:00:00")]
    result = apply_rules(frame(rows), replace(CONFIG, entry_cap=10), DRAW)
    assert points_of(result) == {A: 50, B: 3}
    assert entries_of(result) == {A: 10, B: 3}
    assert result.summary.total_entries == 13


def test_numbers_in_any_spelling_are_one_participant() -> None:
    spellings = ["08031234567", "8031234567", "2348031234567", "+234 803 123 4567", A]
    rows = [(f"t{i}", m, "100", "2026-11-26T12:00:00") for i, m in enumerate(spellings)]
    result = apply_rules(frame(rows), CONFIG, DRAW)
    assert points_of(result) == {A: 5}


def test_naira_per_point_is_configurable() -> None:
    rows = [("t1", A, "250", "2026-11-26T12:00:00")]
    assert points_of(apply_rules(frame(rows), replace(CONFIG, naira_per_point=50), DRAW)) == {A: 5}


# ------------------------------------------------------------------ duplicates, blacklist


def test_duplicate_transaction_counts_once_first_occurrence_kept() -> None:
    rows = [
        ("t1", A, "100", "2026-11-26T08:00:00"),
        ("t1", A, "100", "2026-11-26T08:00:00"),  # exact copy
        ("t1", B, "900", "2026-11-26T09:00:00"),  # same id, different content
        ("t2", B, "200", "2026-11-26T09:00:00"),
    ]
    result = apply_rules(frame(rows), CONFIG, DRAW)
    assert points_of(result) == {A: 1, B: 2}
    assert list(result.excluded.index) == [1, 2]
    assert set(result.excluded["rule"]) == {DUPLICATE}
    assert result.summary.duplicate_conflicts == 1


def test_a_rejected_row_does_not_claim_a_transaction_id() -> None:
    rows = [("t1", "garbage", "100", "2026-11-26T08:00:00"), ("t1", A, "100", "2026-11-26T08:00")]
    result = apply_rules(frame(rows), CONFIG, DRAW)
    assert points_of(result) == {A: 1}
    assert list(result.rejected.index) == [0]


def test_duplicate_first_outside_window_claims_the_id() -> None:
    rows = [("t1", A, "100", "2026-11-20T08:00:00"), ("t1", A, "100", "2026-11-26T08:00")]
    result = apply_rules(frame(rows), CONFIG, DRAW)
    assert result.participants.empty
    assert list(result.excluded["rule"]) == [OUTSIDE_WINDOW, DUPLICATE]


@pytest.mark.parametrize(
    "listed", ["08031234567", "2348031234567", "+234 803 123 4567", "8031234567", A]
)
def test_blacklist_matches_any_number_format(listed: str) -> None:
    rows = [("t1", A, "500", "2026-11-26T08:00:00"), ("t2", B, "100", "2026-11-26T08:00:00")]
    result = apply_rules(frame(rows), CONFIG, DRAW, blacklist=pd.Series([listed, "junk"]))
    assert points_of(result) == {B: 1}
    assert list(result.excluded["rule"]) == [BLACKLISTED]
    assert result.summary.participants_excluded[BLACKLISTED] == 1


# ------------------------------------------------------------------ rejection


def test_invalid_rows_are_rejected_with_a_reason() -> None:
    rows = [
        ("", A, "100", "2026-11-26T08:00:00"),
        ("t2", "+447911123456", "100", "2026-11-26T08:00:00"),
        ("t3", "012345678", "100", "2026-11-26T08:00:00"),
        ("t4", A, "ten", "2026-11-26T08:00:00"),
        ("t5", A, "-100", "2026-11-26T08:00:00"),
        ("t6", A, "0", "2026-11-26T08:00:00"),
        ("t7", A, None, "2026-11-26T08:00:00"),
        ("t8", A, "100", None),
        ("t9", A, "100", "26/11/2026 08:00"),
        ("t10", None, "100", "2026-11-26T08:00:00"),
        ("t11", A, "1e300", "2026-11-26T08:00:00"),
        ("t12", A, "inf", "2026-11-26T08:00:00"),
    ]
    result = apply_rules(frame(rows), CONFIG, DRAW)
    reasons = list(result.rejected["reason"])
    assert reasons[0] == "missing_transaction_id"
    assert reasons[1].startswith("invalid_msisdn: ") and reasons[2].startswith("invalid_msisdn: ")
    assert reasons[3:9] == [
        "non_numeric_amount",
        "non_positive_amount",
        "non_positive_amount",
        "missing_amount",
        "missing_timestamp",
        "unreadable_timestamp",
    ]
    assert reasons[9] == "invalid_msisdn: missing phone number"
    # "1e300" has an exponent: not a plain decimal (docs/eligibility-rules.md, Amounts).
    assert reasons[10:] == ["non_numeric_amount", "non_numeric_amount"]
    assert result.participants.empty
    assert sum(result.summary.rows_rejected.values()) == len(rows)
    # Rejected rows keep their input columns unchanged.
    assert list(result.rejected.columns) == [*frame([]).columns, "reason"]


def test_empty_input() -> None:
    result = apply_rules(frame([]), CONFIG, DRAW)
    assert result.participants.empty
    assert list(result.participants.columns) == ["msisdn", "points", "entries"]
    assert result.summary.rows_in == 0 and result.summary.accounted
    assert result.summary.total_entries == 0


def test_all_invalid_input() -> None:
    rows = [(f"t{i}", "not a number", "x", "never") for i in range(5)]
    result = apply_rules(frame(rows), CONFIG, DRAW)
    assert result.participants.empty
    assert result.summary.rows_rejected == {"invalid_msisdn: not a Nigerian phone number": 5}
    assert result.excluded.empty


def test_missing_column_is_an_input_error_naming_it() -> None:
    with pytest.raises(InputError, match="amount_ngn"):
        apply_rules(frame([]).drop(columns=["amount_ngn"]), CONFIG, DRAW)


def test_numeric_columns_and_extra_columns() -> None:
    recharges = pd.DataFrame(
        {
            "transaction_id": [1, 2, 3],
            "msisdn": [8031234567, 2348031234568.0, np.nan],
            "amount_ngn": [250, np.nan, 100],
            "timestamp": ["2026-11-26T08:00:00"] * 3,
            "channel": ["ussd", "app", "app"],
        }
    )
    result = apply_rules(recharges, CONFIG, DRAW)
    assert points_of(result) == {A: 2}
    assert list(result.rejected["reason"]) == [
        "missing_amount",
        "invalid_msisdn: missing phone number",
    ]
    assert "channel" in result.rejected.columns


def test_summary_format_and_dict() -> None:
    rows = [("t1", A, "250", "2026-11-26T08:00:00"), ("t2", "bad", "100", "2026-11-26T08:00")]
    summary = apply_rules(frame(rows), CONFIG, DRAW).summary
    text = summary.format()
    assert "2026-11-25 23:00 UTC" in text and "invalid_msisdn" in text
    data = summary.to_dict()
    assert data["rows_in"] == 2 and data["total_points"] == 2
    assert data["window"]["cutoff"] == "2026-11-26T23:00:00+00:00"
    assert set(data["rows_excluded"]) == set(RULES)


def test_participants_satisfy_the_schema_and_are_sorted() -> None:
    rows = [(f"t{i}", f"0803123456{i}", "100", "2026-11-26T08:00:00") for i in range(9, -1, -1)]
    participants = apply_rules(frame(rows), CONFIG, DRAW).participants
    participants_schema().validate(participants)
    assert list(participants["msisdn"]) == sorted(participants["msisdn"])
    assert participants["points"].dtype == np.int64


# ------------------------------------------------------------------ points path


def test_participants_from_points_merges_spellings_and_applies_rules() -> None:
    points = pd.DataFrame({"msisdn": ["08031234567", A, B, C, "junk"], "points": [3, 2, 0, 700, 5]})
    participants, excluded = participants_from_points(
        points, replace(CONFIG, entry_cap=500), blacklist=["0805 123 4569"]
    )
    assert points_of_frame(participants) == {A: (5, 5)}
    assert excluded == {"invalid_msisdn": 1, BLACKLISTED: 1, UNDER_ONE_POINT: 1}
    capped, _ = participants_from_points(points.iloc[3:4], replace(CONFIG, entry_cap=500))
    assert points_of_frame(capped) == {C: (700, 500)}


def points_of_frame(participants: pd.DataFrame) -> dict[str, tuple[int, int]]:
    return {
        m: (p, e)
        for m, p, e in zip(
            participants["msisdn"], participants["points"], participants["entries"], strict=True
        )
    }


# ------------------------------------------------------------------ properties

NUMBERS = st.sampled_from(
    [
        "08031234567",
        "+2348031234567",
        "8051234569",
        "2348051234569",
        "0703 000 1111",
        "12345",
        "",
        None,
        "+447911123456",
        "09012345678",
    ]
)
AMOUNTS = st.one_of(
    st.sampled_from(["100", "99", "250", "0", "-5", "abc", "", None, "1e3", "100.5"]),
    st.integers(-1000, 100000).map(str),
)
STAMPS = st.one_of(
    st.sampled_from(
        [
            "2026-11-26T23:59:59",
            "2026-11-26T23:00:00Z",
            "2026-11-27T00:00:00",
            "garbage",
            "",
            None,
            "2026-11-26T12:00:00+01:00",
            "2030-01-01T00:00:00Z",
        ]
    ),
    st.datetimes(datetime(2026, 11, 24), datetime(2026, 11, 28)).map(lambda d: d.isoformat()),
)
ROWS = st.lists(
    st.tuples(st.sampled_from(["t1", "t2", "t3", "t4", "", " ", None]), NUMBERS, AMOUNTS, STAMPS),
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, summed=st.booleans(), cap=st.sampled_from([None, 1, 3]))
def test_every_row_is_accounted_for_exactly_once(rows, summed, cap) -> None:
    config = replace(CONFIG, points_mode="summed" if summed else "per_recharge", entry_cap=cap)
    recharges = frame(rows)
    result = apply_rules(recharges, config, DRAW, blacklist=["0703 000 1111"])
    s = result.summary
    assert s.rows_counted + sum(s.rows_excluded.values()) + sum(s.rows_rejected.values()) == len(
        rows
    )
    rejected, excluded = set(result.rejected.index), set(result.excluded.index)
    assert not rejected & excluded
    assert len(rejected) == len(result.rejected) and len(excluded) == len(result.excluded)
    assert len(rejected | excluded) + s.rows_counted == len(rows)
    assert (result.participants["points"] >= 1).all()
    assert (result.participants["entries"] >= 1).all()
    assert (result.participants["entries"] <= result.participants["points"]).all()
    if cap is not None:
        assert (result.participants["entries"] <= cap).all()
    assert s.total_entries == int(result.participants["entries"].sum())
    assert "+2347030001111" not in set(result.participants["msisdn"])


# ------------------------------------------------------------------ input edges (issue 16)


def test_blacklist_reads_every_export_spelling_and_counts_what_it_cannot() -> None:
    people = [f"080312345{i:02d}" for i in range(8)]
    rows = [(f"t{i}", m, "500", "2026-11-26T08:00:00") for i, m in enumerate(people)]
    listed = [
        "'08031234500",  # Excel text prefix
        "tel:+2348031234501",
        "0803\u200b1234502",  # zero-width space
        "\uff0b2348031234503",  # full-width plus
        "08031234504;",  # trailing ;
        "08031234505 (staff)",
        "2.34803E+12",  # a float that lost its digits
        "O8031234507",  # letter O
    ]
    result = apply_rules(frame(rows), CONFIG, DRAW, blacklist=pd.Series(listed))
    assert result.summary.rows_excluded[BLACKLISTED] == 4
    assert sorted(points_of(result)) == ["+2348031234504", "+2348031234505",
                                         "+2348031234506", "+2348031234507"]
    assert result.summary.blacklist_unreadable == 4
    assert "4 blacklist entr" in result.summary.format()
    assert result.summary.to_dict()["blacklist_unreadable"] == 4


def test_transaction_ids_are_trimmed_case_kept() -> None:
    rows = [
        ("T3", A, "100", "2026-11-26T08:00:00"),
        ("T3 ", A, "100", "2026-11-26T08:00:00"),
        (" T3", A, "100", "2026-11-26T08:00:00"),
        ("\u200bT3\u00a0", A, "100", "2026-11-26T08:00:00"),
        ("t3", A, "100", "2026-11-26T08:00:00"),
    ]
    result = apply_rules(frame(rows), CONFIG, DRAW)
    assert points_of(result) == {A: 2}  # T3 and t3
    assert result.summary.rows_excluded[DUPLICATE] == 3
    assert list(result.excluded.index) == [1, 2, 3]


@pytest.mark.parametrize("word", ["now", "today", "yesterday", "tomorrow", "epoch", "infinity"])
def test_timestamp_words_are_unreadable(word: str) -> None:
    result = apply_rules(frame([("t1", A, "100", word)]), CONFIG, DRAW)
    assert list(result.rejected["reason"]) == ["unreadable_timestamp"]


@pytest.mark.parametrize(
    ("stamp", "outcome"),
    [
        ("9999-12-31T23:59:59Z", OUTSIDE_WINDOW),
        ("0001-01-01T00:00:00", OUTSIDE_WINDOW),
        ("2262-04-12T00:00:00Z", OUTSIDE_WINDOW),  # past what nanoseconds hold
        ("2026-11-26T22:59:59.9999999Z", "counted"),  # cut to microseconds, never rounded up
        ("2026-11-26T22:59:59.999999999+00:00", "counted"),
        ("2026-11-26", "counted"),  # midnight in Lagos
        ("2026-11-26T12:00+0100", "counted"),
        ("2026-02-30T10:00:00", "unreadable_timestamp"),
        ("2026-11-26T24:00:00", "unreadable_timestamp"),
        ("2026-11-26 8:00", "unreadable_timestamp"),
        ("26/11/2026", "unreadable_timestamp"),
    ],
)
def test_timestamp_grammar(stamp: str, outcome: str) -> None:
    result = apply_rules(frame([("t1", A, "100", stamp)]), CONFIG, DRAW)
    if outcome == "counted":
        assert result.summary.rows_counted == 1
    elif outcome == OUTSIDE_WINDOW:
        assert result.summary.rows_excluded[OUTSIDE_WINDOW] == 1
    else:
        assert list(result.rejected["reason"]) == [outcome]


@pytest.mark.parametrize(
    ("amount", "outcome"),
    [
        ("99.9999", 0),  # floor, not rounding: 9,999 kobo
        ("199.999", 1),
        ("100.00", 1),
        (".5", 0),
        ("+250", 2),
        ("0001000", 10),
        ("1000000000", 10_000_000),
        ("1000000000.01", "amount_too_large"),
        ("1e3", "non_numeric_amount"),
        ("1,000", "non_numeric_amount"),
        ("500.", "non_numeric_amount"),
        ("\uff15\uff10\uff10", "non_numeric_amount"),  # full-width digits
        ("-0", "non_positive_amount"),
        ("0.00", "non_positive_amount"),
        (99.9999, 0),
        (199.99, 1),  # a float: its shortest decimal, 199.99
        (float("inf"), "non_numeric_amount"),
    ],
)
def test_amount_grammar(amount: object, outcome: object) -> None:
    rows = frame([("t1", A, amount, "2026-11-26T12:00:00")])
    result = apply_rules(rows, CONFIG, DRAW)
    if isinstance(outcome, int):
        assert points_of(result) == ({A: outcome} if outcome else {})
    else:
        assert list(result.rejected["reason"]) == [outcome]


@pytest.mark.parametrize("day", ["9999-01-01", "0001-01-01", "2263-01-01", "1999-12-31",
                                 "2200-01-01", date(2263, 1, 1)])
def test_draw_dates_out_of_range_are_refused(day) -> None:
    with pytest.raises(InputError, match="2000-01-01 .. 2199-12-31"):
        draw_window(CONFIG, day)
    with pytest.raises(InputError, match="outside"):
        apply_rules(frame([]), CONFIG, day)


def test_draw_dates_at_the_range_ends() -> None:
    assert draw_window(CONFIG, "2000-01-01").cutoff.year == 1999
    assert draw_window(CONFIG, "2199-12-31").cutoff.year == 2199


_EDGE_CHARS = st.sampled_from(
    [" ", "\t", "\u00a0", "\u200b", "\u3000", "\ufeff", "\u0301", "é", "x", "3", "-"]
)


@settings(max_examples=300, deadline=None)
@given(core=st.text(min_size=0, max_size=6), head=st.text(_EDGE_CHARS, max_size=3),
       tail=st.text(_EDGE_CHARS, max_size=3))
def test_sql_text_trims_like_transaction_text(core: str, head: str, tail: str) -> None:
    """The SQL trim (the local engine's, with its printable-ASCII shortcut) and the
    Python one (the in-memory rules') give the same id, or both none."""
    import duckdb

    from drawkit.eligibility import sql_text, transaction_text

    value = head + core + tail
    (got,) = duckdb.execute(f"SELECT {sql_text('$1::VARCHAR')}", [value]).fetchone()
    assert got == transaction_text(value)
