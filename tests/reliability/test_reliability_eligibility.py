"""Bad recharge rows through the eligibility rules: every row accounted for, nothing lost.

Rows mix valid numbers in odd spellings with junk numbers, amounts of every shape
(huge, negative, non-numeric, with commas or the naira sign), naive, aware, future and
unreadable timestamps, blank and duplicate transaction ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_support import E164, nationals, spellings

from drawkit.config import PromotionConfig
from drawkit.eligibility import RULES, apply_rules

pytestmark = pytest.mark.reliability

DRAW_DATE = date(2026, 11, 24)
WAT = timedelta(hours=1)
CUTOFF = datetime(2026, 11, 24, tzinfo=UTC) - WAT  # 00:00 Africa/Lagos
START = CUTOFF - timedelta(days=1)
REASONS = (
    "missing_transaction_id",
    "invalid_msisdn",
    "missing_amount",
    "non_numeric_amount",
    "non_positive_amount",
    "amount_too_large",
    "missing_timestamp",
    "unreadable_timestamp",
)
CONFIGS = {
    "per_recharge": PromotionConfig(),
    "summed": PromotionConfig(points_mode="summed"),
    "capped": PromotionConfig(entry_cap=7, naira_per_point=50),
}


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy, share: int = 3) -> st.SearchStrategy:
    """``good`` about ``share`` times as often as ``bad``."""
    return st.sampled_from([True] * share + [False]).flatmap(lambda ok: good if ok else bad)


bad_numbers = st.one_of(
    st.sampled_from(["", "  ", "N/A", "+44 20 7946 0958", "0803123456", "080312345678", "abc"]),
    st.text(alphabet="0123456789+- ", max_size=9),
    st.none(),
)
odd_amounts = st.one_of(
    st.integers(-1_000, 10**9),
    st.floats(min_value=-1e6, max_value=1e12),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.integers(0, 10**6).map(str),
    st.decimals(0, 10**6, places=2).map(str),
    st.sampled_from(["1,000", "₦500", "500 NGN", "abc", "", " ", "NaN", "inf", "-0", "1e3", "0"]),
    st.sampled_from(["1e30", "99999999999999999999", "9.3e16", 1e20, 2**63]),
    st.none(),
    st.booleans(),
)
amounts = mostly(st.integers(50, 20_000), odd_amounts, share=1)
moments = mostly(
    st.datetimes(min_value=datetime(2026, 11, 22, 22), max_value=datetime(2026, 11, 24, 2)),
    st.datetimes(min_value=datetime(2026, 11, 20), max_value=datetime(2026, 11, 27))
    | st.sampled_from([datetime(1970, 1, 1), datetime(2099, 1, 1), datetime(2026, 11, 23, 23)]),
)


@st.composite
def timestamps(draw: st.DrawFn) -> object:
    when = draw(moments)
    form = draw(mostly(st.integers(0, 4), st.integers(5, 7)))
    if form == 0:
        return when.isoformat()  # naive: read in Africa/Lagos
    if form == 1:
        return when.replace(tzinfo=UTC).isoformat()
    if form == 2:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 3:
        return when.strftime("%Y-%m-%d %H:%M:%S+0100")
    if form == 4:
        return when.date().isoformat()
    if form == 5:
        return draw(
            st.sampled_from(["", " ", "yesterday", "2026-02-30T00:00:00", "2026-11-23T25:00"])
        )
    if form == 6:
        return draw(st.text(max_size=12))
    return None


@st.composite
def rows(draw: st.DrawFn) -> dict:
    number = draw(mostly(nationals.flatmap(spellings), bad_numbers, share=2))
    ids = st.integers(0, 99).map(lambda i: f"tx{i}")
    junk_ids = st.one_of(st.sampled_from(["t1", "t1", "", " "]), st.text(max_size=6), st.none())
    tx = draw(mostly(ids, junk_ids))
    return {
        "transaction_id": tx,
        "msisdn": number,
        "amount_ngn": draw(amounts),
        "timestamp": draw(timestamps()),
    }


CASES = {"frames": 0, "rows": 0, "rejected": 0, "excluded": 0, "counted": 0, "clean": 0}


def check_accounting(frame: pd.DataFrame, config: PromotionConfig) -> None:
    """The invariants every result must keep, whatever the input."""
    result = apply_rules(frame, config, DRAW_DATE)
    summary, rejected, excluded = result.summary, result.rejected, result.excluded
    assert summary.rows_in == len(frame)
    assert summary.accounted
    assert len(rejected) + len(excluded) + summary.rows_counted == len(frame)
    assert sum(summary.rows_rejected.values()) == len(rejected)
    assert sum(summary.rows_excluded.values()) == len(excluded)
    assert not set(rejected.index) & set(excluded.index)
    assert set(rejected.index) | set(excluded.index) <= set(frame.index)
    assert all(isinstance(r, str) and r.startswith(REASONS) for r in rejected["reason"])
    assert set(excluded["rule"]) <= set(RULES)
    people = result.participants
    assert list(people.columns[:3]) == ["msisdn", "points", "entries"]
    assert people["msisdn"].is_unique and people["msisdn"].is_monotonic_increasing
    assert all(E164.match(m) for m in people["msisdn"])
    assert (people["points"] >= 1).all()
    cap = config.entry_cap
    expected = people["points"].clip(upper=cap) if cap else people["points"]
    assert (people["entries"] == expected).all()
    assert summary.total_points == int(people["points"].sum())
    CASES["frames"] += 1
    CASES["rows"] += len(frame)
    CASES["rejected"] += len(rejected)
    CASES["excluded"] += len(excluded)
    CASES["counted"] += summary.rows_counted


@settings(max_examples=400)
@given(st.lists(rows(), max_size=40), st.sampled_from(sorted(CONFIGS)), st.booleans())
def test_random_rows_are_each_counted_excluded_or_rejected(data, config_name, as_text) -> None:  # noqa: ANN001
    frame = pd.DataFrame(data, columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])
    if as_text:  # as a CSV reader with dtype=str gives them (None stays missing)
        frame = frame.map(lambda v: v if v is None else str(v))
    check_accounting(frame, CONFIGS[config_name])


@st.composite
def clean_and_junk(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, int], set[int]]:
    """Clean rows inside the window with unique ids, plus junk rows that must be rejected
    (reusing the clean rows' ids, which a rejected row must not claim)."""
    people = draw(st.lists(nationals, min_size=1, max_size=6, unique=True))
    out, expected = [], {}
    for i in range(draw(st.integers(1, 25))):
        national = draw(st.sampled_from(people))
        amount = draw(st.integers(1, 20_000))
        offset = draw(st.integers(0, 24 * 3600 - 1))
        when = START + timedelta(seconds=offset)
        stamp = draw(
            st.sampled_from(
                [
                    when.isoformat(),
                    when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    (when + WAT).replace(tzinfo=None).isoformat(),  # naive, Lagos time
                ]
            )
        )
        spelled = draw(spellings(national))
        out.append(
            ("clean", f"tx{i}", spelled, draw(st.sampled_from([amount, str(amount)])), stamp)
        )
        if amount >= 100:
            key = "+234" + national
            expected[key] = expected.get(key, 0) + amount // 100
    clean = len(out)
    for _ in range(draw(st.integers(0, 15))):
        tx = f"tx{draw(st.integers(0, clean - 1))}"
        broken = draw(st.sampled_from(["number", "amount", "timestamp", "id"]))
        row = list(out[draw(st.integers(0, clean - 1))])
        row[0], row[1] = "junk", tx
        if broken == "number":
            row[2] = draw(bad_numbers)
        elif broken == "amount":
            row[3] = draw(st.sampled_from(["abc", "", None, "-5", "0", "1,000", "₦100"]))
        elif broken == "timestamp":
            row[4] = draw(st.sampled_from(["", None, "yesterday", "2026-13-01T00:00:00"]))
        else:
            row[1] = draw(st.sampled_from(["", "  ", None]))
        out.append(tuple(row))
    order = draw(st.permutations(range(len(out))))
    frame = pd.DataFrame(
        [out[i][1:] for i in order], columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"]
    )
    junk = {pos for pos, i in enumerate(order) if out[i][0] == "junk"}
    return frame, expected, junk


@settings(max_examples=300)
@given(clean_and_junk())
def test_clean_rows_earn_exactly_their_points_and_junk_rows_are_rejected(case) -> None:  # noqa: ANN001
    frame, expected, junk = case
    result = apply_rules(frame, PromotionConfig(), DRAW_DATE)
    assert set(result.rejected.index) == junk
    assert set(result.excluded["rule"]) <= {"under_1_point"}
    got = dict(zip(result.participants["msisdn"], result.participants["points"], strict=True))
    assert got == expected
    CASES["clean"] += len(frame)


def test_naive_timestamps_are_read_in_the_promotion_timezone(reliability) -> None:  # noqa: ANN001
    """The same instants written naive (Lagos), with +01:00, and in UTC give one result."""
    moments = [START - timedelta(seconds=1), START, CUTOFF - timedelta(seconds=1), CUTOFF]
    forms = {
        "naive": lambda t: (t + WAT).replace(tzinfo=None).isoformat(),
        "offset": lambda t: t.astimezone(CUTOFF.tzinfo).isoformat().replace("+00:00", "Z"),
        "lagos": lambda t: (t + WAT).replace(tzinfo=None).isoformat() + "+01:00",
    }
    counted = {}
    for name, form in forms.items():
        frame = pd.DataFrame(
            {
                "transaction_id": [f"t{i}" for i in range(len(moments))],
                "msisdn": "08031234567",
                "amount_ngn": 100,
                "timestamp": [form(t) for t in moments],
            }
        )
        result = apply_rules(frame, PromotionConfig(), DRAW_DATE)
        counted[name] = sorted(set(frame.index) - set(result.excluded.index))
    assert counted["naive"] == counted["offset"] == counted["lagos"] == [1, 2]
    reliability.add(
        "bad input: recharges",
        "window edges (1 s before start, start, 1 s before cutoff, cutoff) written naive, "
        "in UTC and with +01:00",
        len(moments) * len(forms),
        "naive read as Africa/Lagos; start inside, cutoff outside, in every spelling",
    )


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("1e30", "non_numeric_amount"),  # text with an exponent is not a plain decimal
        ("99999999999999999999", "amount_too_large"),
        (1e20, "amount_too_large"),
    ],
)
def test_huge_amount_is_rejected_not_wrapped(amount: object, reason: str) -> None:
    frame = pd.DataFrame(
        {
            "transaction_id": ["t1"],
            "msisdn": ["08031234567"],
            "amount_ngn": [amount],
            "timestamp": ["2026-11-23T12:00:00"],
        }
    )
    result = apply_rules(frame, PromotionConfig(), DRAW_DATE)
    assert list(result.rejected["reason"]) == [reason]
    assert len(result.participants) == 0


def test_eligibility_fuzz_figures(reliability) -> None:  # noqa: ANN001
    assert CASES["frames"] and CASES["clean"] and CASES["rejected"] and CASES["counted"]
    reliability.add(
        "bad input: recharges",
        f"{CASES['frames']} random recharge tables (typed and all-text; 3 configs): odd and "
        "bad numbers, amounts huge/negative/non-numeric/'1,000'/'₦500'/NaN/inf/bool, "
        "naive/aware/future/1970/unreadable timestamps, blank and duplicate ids",
        CASES["rows"],
        f"no exception; rows_in == counted ({CASES['counted']}) + excluded "
        f"({CASES['excluded']}) + rejected ({CASES['rejected']}); every rejected row has a "
        "reason, every excluded row a rule; participants E.164, unique, sorted, entries capped",
    )
    reliability.add(
        "bad input: recharges",
        "clean rows (numbers in odd spellings, aware/naive stamps) mixed with junk rows that "
        "reuse their transaction ids",
        CASES["clean"],
        "junk rows rejected exactly, never claim an id; clean rows earn exactly sum(amount // 100)",
    )


ENGINE = {"tables": 0, "rows": 0}


@settings(max_examples=60, deadline=None)
@given(st.lists(rows(), max_size=30), st.sampled_from(sorted(CONFIGS)), st.booleans())
def test_file_engine_and_in_memory_rules_agree(  # noqa: ANN001
    tmp_path_factory, data, config_name, parquet
) -> None:
    """The same hostile rows through apply_rules and through the DuckDB file engine give the
    same participants, the same summary and the same rejected rows in the same order."""
    from drawkit.sources.local import read_recharges
    from drawkit.sources.local_engine import eligibility_from_file

    frame = pd.DataFrame(data, columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])
    frame = frame.map(lambda v: None if v is None else str(v))
    folder = tmp_path_factory.mktemp("engine")
    path = folder / ("r.parquet" if parquet else "r.csv")
    if parquet:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    config = CONFIGS[config_name]
    blacklist = pd.Series(["0701 000 0000", "'08031234567", "not a number"])
    memory = apply_rules(read_recharges(path), config, DRAW_DATE, blacklist)
    streamed = eligibility_from_file(path, config, DRAW_DATE, blacklist)
    pd.testing.assert_frame_equal(memory.participants, streamed.participants)
    assert memory.summary.to_dict() == streamed.summary.to_dict()
    assert list(memory.rejected["reason"]) == list(streamed.rejected["reason"])
    ENGINE["tables"] += 1
    ENGINE["rows"] += len(frame)


def test_engine_agreement_figures(reliability) -> None:  # noqa: ANN001
    assert ENGINE["tables"]
    reliability.add(
        "bad input: recharges",
        f"{ENGINE['tables']} random hostile recharge tables written as CSV or Parquet, through "
        "apply_rules (in memory) and the DuckDB file engine",
        ENGINE["rows"],
        "same participants, same summary (every count), same rejected rows in the same order",
    )
