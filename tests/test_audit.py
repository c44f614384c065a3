"""Fairness statistics: Monte Carlo, bands, chi-square, KS, Lorenz, history, reconciliation."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from drawkit import audit
from drawkit.config import PromotionConfig
from drawkit.contract import ResultEvent, result_events
from drawkit.draw import Ledger, canonical_cohort, run_draw, select, verify_record
from drawkit.draw.rng import drbg_for_seed
from drawkit.errors import InputError
from drawkit.msisdn import mask

SEED = bytes(range(32))
BEACON = bytes.fromhex("ab" * 32)
ROUND = 1000  # a round of the conftest's offline test chain


def cohort_frame(n: int = 300, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    entries = np.minimum(rng.geometric(0.15, n), 80).astype(np.int64)
    return pd.DataFrame({"msisdn": [f"+23480{i:08d}" for i in range(n)], "entries": entries})


@pytest.fixture()
def drawn(tmp_path, signed_rounds):
    participants = cohort_frame()
    record = signed_rounds.commit_and_draw(
        participants, PromotionConfig(), date(2026, 11, 24), tmp_path, ROUND
    )
    return record, participants, Ledger(tmp_path)


def published_events(record, signer) -> list[ResultEvent]:
    """The draw's result as a source holds it after a publish: signed by the draw's key."""
    return result_events(record.to_outcome(), signer)


def test_band_labels_and_index() -> None:
    assert audit.band_labels() == ["1", "2–4", "5–9", "10–49", "50+"]
    got = audit.band_index(np.array([1, 2, 4, 5, 9, 10, 49, 50, 10_000]))
    assert got.tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_simulations_are_the_engine_with_derived_seeds() -> None:
    entries = np.array([5, 1, 3, 8, 2, 9, 4], dtype=np.int64)
    sim = audit.simulate(entries, 3, SEED, n=20)
    for s in (0, 7, 19):
        picks = select(entries, 3, drbg_for_seed(audit.simulation_seed(SEED, s)))
        assert sim.indices[s].tolist() == [p.index for p in picks]
    again = audit.simulate(entries, 3, SEED, n=20)
    assert np.array_equal(sim.indices, again.indices)
    other = audit.simulate(entries, 3, bytes(32), n=20)
    assert not np.array_equal(sim.indices, other.indices)
    # picks within a simulated draw are distinct people
    assert all(len(set(row)) == 3 for row in sim.indices.tolist())


def test_monte_carlo_expectation_matches_exact_single_pick_odds() -> None:
    entries = np.array([1] * 40 + [3] * 20 + [7] * 10 + [60] * 2, dtype=np.int64)
    sim = audit.simulate(entries, 1, SEED, n=3000)
    shares = np.bincount(audit.band_index(entries), weights=entries, minlength=5) / entries.sum()
    expected = sim.band_counts().mean(axis=0)
    sd = np.sqrt(shares * (1 - shares) / sim.n)
    assert np.all(np.abs(expected - shares) < 4 * sd + 1e-9), (expected, shares)


def test_wins_by_band_counts_the_record(drawn) -> None:
    record, participants, _ = drawn
    cohort = audit.cohort_as_drawn(record, participants)
    sim = audit.simulate_record(record, cohort, n=200)
    observed = audit.observed_indices(record, cohort)
    assert [str(cohort.msisdns[i]) for i in observed] == [w.msisdn for w in record.winners]
    table = audit.wins_by_band(cohort, observed, sim)
    assert table["observed"].sum() == len(record.winners)
    assert table["expected"].sum() == pytest.approx(len(record.winners))
    assert table["tickets"].sum() == record.total_entries
    assert table["participants"].sum() == record.participants
    assert (table["low"] <= table["expected"]).all() and (table["expected"] <= table["high"]).all()
    chi = audit.chi_square(table, sim)
    assert 0 < chi.pvalue <= 1 and chi.simulations == 200


def test_chi_square_flags_a_rigged_draw() -> None:
    entries = np.array([1] * 200 + [20] * 100, dtype=np.int64)
    cohort = canonical_cohort(
        pd.DataFrame({"msisdn": [f"+23481{i:08d}" for i in range(300)], "entries": entries})
    )
    sim = audit.simulate(cohort.entries, 15, SEED, n=300)
    # rigged: every pick went to a one-entry participant although they hold 9% of tickets
    rigged = np.flatnonzero(cohort.entries == 1)[:15]
    table = audit.wins_by_band(cohort, rigged, sim)
    chi = audit.chi_square(table, sim)
    assert chi.pvalue < 0.01
    fair = audit.wins_by_band(cohort, sim.indices[0], audit.simulate(cohort.entries, 15, SEED, 300))
    assert audit.chi_square(fair, sim).pvalue > 0.01


def test_statistical_checks_call_unusual_draws_unusual_and_fail_only_beyond_chance(
    drawn,
) -> None:
    """p below 0.01 (1 fair draw in 100) is said, not failed; below 1e-6 fails. The
    chi-square's fitted gamma tail reaches below the Monte Carlo floor 1/(n + 1)."""
    record, _, _ = drawn
    entries = np.array([1] * 200 + [20] * 100, dtype=np.int64)
    cohort = canonical_cohort(
        pd.DataFrame({"msisdn": [f"+23481{i:08d}" for i in range(300)], "entries": entries})
    )
    sim = audit.simulate(cohort.entries, 15, SEED, n=300)
    rigged = audit.chi_square(
        audit.wins_by_band(cohort, np.flatnonzero(cohort.entries == 1)[:15], sim), sim)
    assert rigged.pvalue >= 1 / 301 and rigged.tail < 1e-6
    fair = audit.chi_square(audit.wins_by_band(cohort, sim.indices[0], sim), sim)
    assert fair.tail > 0.01
    grid = (np.arange(200) + 0.5) / 200

    def checks(chi, u):  # noqa: ANN001, ANN202
        found = audit.fairness_checks(record, chi=chi, ks=audit.ks_uniform(u))
        return {c.name: c for c in found}

    unusual = checks(fair, grid * 0.86)["Winning tickets uniform"]  # p about 5e-4
    assert unusual.passed and "UNUSUAL" in unusual.detail and "1 fair draw in 100" in unusual.detail
    usual = checks(fair, grid)
    assert all(usual[n].passed and "UNUSUAL" not in usual[n].detail
               for n in ("Wins follow entries", "Winning tickets uniform"))
    beyond = checks(rigged, grid / 10)
    assert not beyond["Wins follow entries"].passed
    assert not beyond["Winning tickets uniform"].passed
    assert "far beyond what chance" in beyond["Winning tickets uniform"].detail


def test_ks_uniform_has_power() -> None:
    grid = (np.arange(200) + 0.5) / 200
    assert audit.ks_uniform(grid).pvalue > 0.9
    assert audit.ks_uniform(grid / 10).pvalue < 1e-6
    assert audit.ks_uniform([]).n == 0


def test_ticket_positions_and_ecdf(drawn) -> None:
    record, _, _ = drawn
    frame = audit.ticket_positions([record])
    assert len(frame) == len(record.winners)
    assert ((frame["u"] > 0) & (frame["u"] < 1)).all()
    first = record.winners[0]
    assert frame["u"].iloc[0] == pytest.approx((first.ticket + 0.5) / first.total_tickets_at_pick)
    points = audit.ecdf(frame["u"])
    assert points["u"].is_monotonic_increasing and points["ecdf"].iloc[-1] == 1.0


def test_lorenz_is_diagonal_when_wins_follow_tickets() -> None:
    entries = np.array([4, 1, 2, 3], dtype=np.int64)
    fair = audit.lorenz(entries, entries * 10)
    assert np.allclose(fair["ticket_share"], fair["win_share"])
    skewed = audit.lorenz(entries, np.array([0, 5, 0, 0]))  # all wins to the smallest
    assert skewed["win_share"].iloc[1] == 1.0 and skewed["ticket_share"].iloc[1] == 0.1


def test_daily_history_from_the_ledger(tmp_path) -> None:
    for day, n in ((25, 120), (24, 100)):
        run_draw(
            cohort_frame(n, seed=day),
            PromotionConfig(),
            date(2026, 11, day),
            ledger_dir=tmp_path,
            beacon=BEACON,
        )
    history = audit.daily_history(Ledger(tmp_path))
    assert history["draw_date"].dt.day.tolist() == [24, 25]
    assert history["entrants"].tolist() == [100, 120]
    assert history["winners"].tolist() == [11, 11] and history["reserves"].tolist() == [6, 6]
    assert audit.daily_history(Ledger(tmp_path), promotion="other").empty


def test_reconcile_finds_missing_changed_and_extra_events(drawn, result_signer) -> None:
    record, _, _ = drawn
    published = published_events(record, result_signer)
    assert audit.reconcile(record, published).ok
    table = audit.reconcile(record, published).table
    assert set(table["msisdn"]) - {""} == {mask(w.msisdn) for w in record.winners}
    changed = list(published)
    wrong = changed[3]  # the operator's key signed a wrong ticket: signed, but not the record
    wrong = ResultEvent(wrong.event, wrong.distinct_id, wrong.uuid,
                        {**wrong.properties, "ticket": int(wrong.properties["ticket"]) + 1})
    changed[3] = result_signer.sign(wrong)
    result = audit.reconcile(record, changed[:5] + changed[6:])
    assert not result.ok
    assert result.table["problem"].tolist().count("different ticket") == 1
    assert result.table["problem"].tolist().count("not published") == 1
    extra = [*published, ResultEvent("draw_winner", "", "x", {"draw_id": record.draw_id})]
    assert audit.reconcile(record, extra).unexpected == 1
    assert "unexpected" in audit.reconcile(record, extra).format()


def test_cohort_as_drawn_refuses_other_participants(drawn) -> None:
    record, participants, _ = drawn
    changed = participants.copy()
    changed.loc[0, "entries"] += 1
    with pytest.raises(InputError, match="cohort digest"):
        audit.cohort_as_drawn(record, changed)


def test_fairness_checks_pass_and_fail(drawn, tmp_path, result_signer) -> None:
    record, participants, ledger = drawn
    report = verify_record(record, participants, ledger=ledger, accept_test_chain=True)
    checks = audit.fairness_checks(
        record,
        verification=report,
        chain_ok=ledger.verify_chain().ok,
        reconciliation=audit.reconcile(record, published_events(record, result_signer)),
    )
    by_name = {c.name: c for c in checks}
    assert by_name["Record re-derives"].passed and by_name["Published results match"].passed
    assert by_name["Beacon authentic"].passed and by_name["One prize per person"].passed
    assert by_name["Beacon unknown when committed"].passed
    assert by_name["Cohort committed in advance"].passed
    # run_draw without a prior commit records the commitment at draw time
    hasty = run_draw(participants, PromotionConfig(), date(2026, 11, 24),
                     ledger_dir=tmp_path / "hasty", beacon=BEACON)
    hasty_checks = {c.name: c for c in audit.fairness_checks(hasty)}
    assert not hasty_checks["Cohort committed in advance"].passed
    assert not hasty_checks["Beacon authentic"].passed  # a raw value: nothing authenticates it
    # operator-chosen randomness never passes as fair, even when a verifier accepted it
    secret_only = run_draw(participants, PromotionConfig(), date(2026, 11, 24),
                           ledger_dir=tmp_path / "secret", secret=b"s" * 32)
    accepted = verify_record(secret_only, participants, accept_operator_randomness=True)
    fair = {c.name: c for c in audit.fairness_checks(secret_only, verification=accepted)}
    assert not fair["Public randomness"].passed
    twice = dataclasses.replace(
        record,
        winners=(
            record.winners[0],
            dataclasses.replace(record.winners[1], msisdn=record.winners[0].msisdn),
        ),
    )
    assert not {c.name: c for c in audit.fairness_checks(twice)}["One prize per person"].passed
    summary = audit.fairness_summary(checks)
    assert list(summary.columns) == ["check", "result", "detail"]
    assert set(summary["result"]) <= {"PASS", "FAIL"}


def test_beacon_must_be_published_between_commitment_and_draw(drawn, signed_rounds) -> None:
    record, _, _ = drawn
    committed = signed_rounds.committed_at(ROUND)
    chosen = ROUND

    def timing(round_number: int, drawn_at: datetime) -> audit.Check:
        commitment = dataclasses.replace(record.commitment, committed_at=committed.isoformat())
        timed = dataclasses.replace(
            record, commitment=commitment, beacon_round=round_number,
            created_at=drawn_at.isoformat(),
        )
        return {c.name: c for c in audit.fairness_checks(timed)}["Beacon unknown when committed"]

    later = signed_rounds.published(chosen) + timedelta(seconds=1)
    assert timing(chosen, later).passed
    early = timing(chosen - 41, later)  # published before the commitment
    assert not early.passed and "could be known" in early.detail
    hasty = timing(chosen, committed + timedelta(milliseconds=10))
    assert not hasty.passed and "before the round was published" in hasty.detail
    no_beacon = dataclasses.replace(record, beacon_round=None, beacon_value=None)
    names = {c.name for c in audit.fairness_checks(no_beacon)}
    assert "Beacon unknown when committed" not in names and "Public randomness" in names
