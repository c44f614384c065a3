"""Synthetic data: deterministic, realistic, with the promised share of bad rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drawkit.config import PromotionConfig
from drawkit.eligibility import BLACKLISTED, DUPLICATE, OUTSIDE_WINDOW, apply_rules
from drawkit.msisdn import normalize_series
from drawkit.sources.local import read_blacklist, read_recharges
from drawkit.synth import DENOMINATIONS, generate, write_synth

END = date(2026, 11, 27)


@pytest.fixture(scope="module")
def data():
    return generate(2000, 3, END, seed=7, bad_share=0.02, duplicate_share=0.01)


def test_same_seed_same_data_other_seed_other_data(data) -> None:
    again = generate(2000, 3, END, seed=7, bad_share=0.02, duplicate_share=0.01)
    pd.testing.assert_frame_equal(data.recharges, again.recharges)
    pd.testing.assert_series_equal(data.blacklist, again.blacklist)
    other = generate(2000, 3, END, seed=8)
    assert not data.recharges["msisdn"].head(50).equals(other.recharges["msisdn"].head(50))


def test_shape_and_people(data) -> None:
    rows = len(data.recharges)
    assert 0.7 * 2000 * 3 * 1.5 < rows < 1.3 * 2000 * 3 * 1.5
    assert list(data.recharges.columns) == [
        "transaction_id",
        "msisdn",
        "amount_ngn",
        "timestamp",
        "channel",
    ]
    persons = data.persons
    assert len(persons) == 2000 and persons["msisdn"].is_unique
    e164, reason = normalize_series(persons["msisdn"])
    assert reason.isna().all() and (e164 == persons["msisdn"]).all()
    assert 0 < persons["blacklisted"].sum() < 100


def test_numbers_in_assorted_spellings_all_belong_to_persons(data) -> None:
    raw = data.recharges["msisdn"].dropna()
    assert raw.str.startswith("0").mean() > 0.6
    assert raw.str.startswith("+234 ").any() and raw.str.startswith("234").any()
    e164, _ = normalize_series(raw)
    known = set(data.persons["msisdn"])
    assert set(e164.dropna()) <= known


def test_blacklist_matches_the_blacklisted_persons(data) -> None:
    e164, reason = normalize_series(data.blacklist)
    assert reason.isna().all()
    flagged = set(data.persons.loc[data.persons["blacklisted"], "msisdn"])
    assert set(e164) == flagged


def test_eligibility_over_synth_accounts_for_bad_rows(data) -> None:
    config = replace(PromotionConfig(), window="cumulative", start_date=date(2026, 11, 24))
    result = apply_rules(data.recharges, config, END, data.blacklist)
    s = result.summary
    rows = s.rows_in
    assert s.accounted
    rejected = sum(s.rows_rejected.values())
    assert 0.01 * rows < rejected < 0.03 * rows  # bad_share 2%
    assert 0.004 * rows < s.rows_excluded[DUPLICATE] < 0.02 * rows
    assert s.rows_excluded[OUTSIDE_WINDOW] > 0  # a few arrive after the cutoff
    assert s.rows_excluded[BLACKLISTED] > 0
    assert s.participants > 1000
    assert s.duplicate_conflicts == 0  # synthetic duplicates are exact copies
    assert set(result.rejected["reason"].str.split(":").str[0]) >= {
        "invalid_msisdn",
        "non_numeric_amount",
        "non_positive_amount",
        "unreadable_timestamp",
    }


def test_realistic_amounts_and_heavy_tail(data) -> None:
    amounts = pd.to_numeric(data.recharges["amount_ngn"], errors="coerce")
    valid = amounts[amounts > 0]
    assert set(valid.astype(int)) <= set(DENOMINATIONS.tolist())
    per_person = normalize_series(data.recharges["msisdn"])[0].value_counts()
    top = per_person.head(len(per_person) // 10).sum()
    assert top / per_person.sum() > 0.25  # the top 10% recharge far more than 10%


def test_timestamps_end_at_the_cutoff(data) -> None:
    window = apply_rules(data.recharges, PromotionConfig(), END).summary.window
    stamps = pd.to_datetime(
        data.recharges["timestamp"].str.replace(" ", "T").astype(object),
        format="ISO8601",
        errors="coerce",
        utc=True,
    ).dropna()
    assert stamps.max() < pd.Timestamp(window.cutoff) + pd.Timedelta(hours=2)
    assert stamps.min() >= pd.Timestamp(window.cutoff) - pd.Timedelta(days=3, hours=2)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_and_read_back(data, tmp_path: Path, fmt: str) -> None:
    paths = write_synth(data, tmp_path, fmt=fmt)
    assert paths["recharges"].name == f"recharges.{fmt}"
    recharges = read_recharges(paths["recharges"])
    blacklist = read_blacklist(paths["blacklist"])
    before = apply_rules(data.recharges, PromotionConfig(), END, data.blacklist)
    after = apply_rules(recharges, PromotionConfig(), END, blacklist)
    pd.testing.assert_frame_equal(before.participants, after.participants)
    assert before.summary.to_dict() == after.summary.to_dict()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        generate(0, 1, END, seed=1)
    with pytest.raises(ValueError):
        write_synth(generate(10, 1, END, seed=1), "/tmp", fmt="xlsx")


def test_scales_vectorised() -> None:
    import time

    start = time.perf_counter()
    big = generate(40_000, 5, END, seed=3)
    assert len(big.recharges) > 250_000
    assert time.perf_counter() - start < 20
    assert np.all(big.recharges["transaction_id"].notna())


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_streamed_synth_is_chunked_deterministic_and_unique(tmp_path: Path, fmt: str) -> None:
    from drawkit.sources.local import LocalDataSource
    from drawkit.synth import write_synth_stream

    first = write_synth_stream(900, 2, END, tmp_path / "a", seed=5, fmt=fmt, chunk_subscribers=400)
    again = write_synth_stream(900, 2, END, tmp_path / "b", seed=5, fmt=fmt, chunk_subscribers=400)
    assert first["recharges"].read_bytes() == again["recharges"].read_bytes()
    recharges = read_recharges(first["recharges"])
    assert 900 * 2 < len(recharges) < 900 * 2 * 2
    ids = recharges["transaction_id"]
    assert ids.str.startswith(("C0000-", "C0001-", "C0002-")).all()
    assert {i[:5] for i in ids} == {"C0000", "C0001", "C0002"}  # three chunks
    config = replace(PromotionConfig(), window="cumulative", start_date=date(2026, 11, 25))
    result = LocalDataSource(first["recharges"], first["blacklist"], config)
    summary = result.get_eligible_participants(END).summary
    assert summary.accounted and summary.rows_excluded[BLACKLISTED] > 0
    # ids repeat only as the synthetic duplicates (a copy whose twin was spoiled is not one)
    assert 0 < summary.rows_excluded[DUPLICATE] <= int(ids.duplicated().sum())
    assert summary.duplicate_conflicts == 0
