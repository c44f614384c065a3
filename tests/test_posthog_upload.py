"""Upload preparation (pure parts): timestamps, uuids, rows that cannot become events."""

from __future__ import annotations

import pandas as pd

from drawkit.config import PromotionConfig
from drawkit.contract import recharge_uuid
from drawkit.eligibility import parse_timestamps
from drawkit.posthog.upload import _prepare


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
    frame, skipped = _prepare(recharges, PromotionConfig())
    assert skipped == {
        "invalid_msisdn": 1, "missing_transaction_id": 1, "unreadable_timestamp": 1,
    }
    assert list(frame["transaction_id"]) == ["a", "c"]
    assert set(frame["msisdn"]) == {"+2348031234567"}
    assert len(frame) + sum(skipped.values()) == len(recharges)
