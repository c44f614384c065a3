"""Upload preparation (pure parts): timestamps, uuids, rows that cannot become events."""

from __future__ import annotations

import pandas as pd
import pytest

from drawkit.config import PromotionConfig
from drawkit.contract import recharge_uuid
from drawkit.eligibility import parse_timestamps
from drawkit.posthog.upload import _prepare, amount_value, upload_uuid


def test_timestamps_without_offset_are_read_in_the_promotion_timezone():
    values = pd.Series(
        ["2026-11-26T23:30:00", "2026-11-26T23:30:00+00:00", "2026-11-26T23:30:00Z", "soon", None]
    )
    out = parse_timestamps(values, PromotionConfig())
    assert out[0] == pd.Timestamp("2026-11-26T22:30:00Z")
    assert out[1] == out[2] == pd.Timestamp("2026-11-26T23:30:00Z")
    assert out[3:].isna().all()


def test_recharge_uuid_is_stable_per_transaction():
    assert recharge_uuid("T1") == recharge_uuid("T1") != recharge_uuid("T2")


def test_prepare_counts_every_row_it_cannot_send():
    recharges = pd.DataFrame(
        {
            "transaction_id": ["a", "b", "c", None, "e"],
            "msisdn": ["0803 123 4567", "12345", "+2348031234567", "08031234567", "8031234567"],
            "amount_ngn": ["100", "200", "abc", "300", "-5"],
            "timestamp": ["2026-11-26T10:00:00", "2026-11-26T10:00:00", "2026-11-26T10:00:00",
                          "2026-11-26T10:00:00", "not a time"],
        }
    )
    frame, skipped, not_sent = _prepare(recharges, PromotionConfig())
    assert skipped == {
        "invalid_msisdn": 1, "missing_transaction_id": 1, "unreadable_timestamp": 1,
    }
    assert list(frame["transaction_id"]) == ["a", "c"]
    assert set(frame["msisdn"]) == {"+2348031234567"}
    assert len(frame) + sum(skipped.values()) == len(recharges)
    # the rows not sent are listed with the local rules' reasons, by transaction id
    assert not_sent[["transaction_id", "reason"]].to_dict("records") == [
        {"transaction_id": "b", "reason": "invalid_msisdn: not a Nigerian phone number"},
        {"transaction_id": None, "reason": "missing_transaction_id"},
        {"transaction_id": "e", "reason": "unreadable_timestamp"},
    ]


@pytest.mark.parametrize(
    ("written", "sent"),
    [("500", 500), ("500.50", 500.5), (" 100 ", 100), ("99.9999", 99.9999), ("0100", 100),
     ("1e3", "1e3"), ("inf", "inf"), ("NaN", "NaN"), ("1,000", "1,000"), ("", ""),
     ("12345678901234567890", "12345678901234567890"), (250, 250), (2.5, 2.5),
     (float("inf"), "inf"), (None, None)],
)
def test_amounts_are_sent_as_written_unless_a_number_holds_them_exactly(written, sent):
    value = amount_value(written)
    assert value == sent and type(value) is type(sent)


def test_a_repeated_transaction_keeps_its_own_uuid_and_a_reload_the_same_ones():
    recharges = pd.DataFrame({
        "transaction_id": ["T1", "T1", "T2", "T1"], "msisdn": ["08031234567"] * 4,
        "amount_ngn": ["100"] * 4, "timestamp": ["2026-11-26T10:00:00"] * 4,
    })
    frame, _, _ = _prepare(recharges, PromotionConfig())
    uuids = [upload_uuid(t, o) for t, o in zip(frame["transaction_id"], frame["occurrence"],
                                                strict=True)]
    assert uuids[0] == recharge_uuid("T1") and len(set(uuids)) == 4
    again, _, _ = _prepare(recharges, PromotionConfig())
    assert uuids == [upload_uuid(t, o) for t, o in zip(again["transaction_id"],
                                                       again["occurrence"], strict=True)]
