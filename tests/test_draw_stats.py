"""Statistical behaviour of the selection at fixed seeds (deterministic, so never flaky).

Each pick must be a ticket drawn uniformly among the tickets still in play, so first
prizes are won in proportion to entries, and inclusion in the first k picks follows the
exact successive-sampling probabilities.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
from scipy import stats

from drawkit.draw import select
from drawkit.draw.rng import drbg_for_seed


def seeded(label: str, i: int):
    return drbg_for_seed(hashlib.sha256(f"{label}/{i}".encode()).digest())


def first_prize_counts(entries: np.ndarray, draws: int, label: str) -> np.ndarray:
    counts = np.zeros(len(entries), dtype=np.int64)
    for i in range(draws):
        counts[select(entries, 1, seeded(label, i))[0].index] += 1
    return counts


def test_first_prize_wins_are_proportional_to_entries() -> None:
    entries = np.arange(1, 21, dtype=np.int64)  # W = 210
    draws = 4000
    counts = first_prize_counts(entries, draws, "chi")
    expected = draws * entries / entries.sum()
    result = stats.chisquare(counts, expected)
    assert result.pvalue > 0.001, (result, counts)
    # the same test has power: the counts are far from what equal weights would give
    assert stats.chisquare(counts, np.full(20, draws / 20)).pvalue < 1e-12


def exact_inclusion(entries: list[int], picks: int) -> tuple[np.ndarray, dict]:
    """P(i among the first ``picks``) and P(ordered prefix) by enumerating sequences."""
    n = len(entries)
    inclusion = np.zeros(n)
    ordered: dict[tuple[int, ...], float] = {}
    for sequence in itertools.permutations(range(n), picks):
        p, left = 1.0, float(sum(entries))
        for i in sequence:
            p *= entries[i] / left
            left -= entries[i]
        ordered[sequence] = p
        inclusion[list(sequence)] += p
    return inclusion, ordered


def test_inclusion_matches_exact_successive_sampling() -> None:
    entries = [1, 2, 3, 5, 9]
    picks, draws = 3, 12000
    inclusion, ordered = exact_inclusion(entries, picks)
    assert inclusion.sum() == pytest.approx(picks)
    seen = np.zeros(len(entries))
    pairs: dict[tuple[int, int], int] = {}
    array = np.array(entries, dtype=np.int64)
    for i in range(draws):
        chosen = [p.index for p in select(array, picks, seeded("incl", i))]
        seen[chosen] += 1
        pairs[tuple(chosen[:2])] = pairs.get(tuple(chosen[:2]), 0) + 1
    frequency = seen / draws
    tolerance = 4 * np.sqrt(inclusion * (1 - inclusion) / draws)
    assert np.all(np.abs(frequency - inclusion) <= tolerance), (frequency, inclusion)
    # the heavy participant is included less often than picks * w / W suggests
    assert inclusion[-1] < picks * entries[-1] / sum(entries)
    # ordered first-two picks against their exact probabilities
    keys = sorted({s[:2] for s in ordered})
    exact = np.array([sum(p for s, p in ordered.items() if s[:2] == k) for k in keys])
    observed = np.array([pairs.get(k, 0) for k in keys])
    assert stats.chisquare(observed, exact * draws).pvalue > 0.001


def test_winning_tickets_are_uniform_among_tickets_in_play() -> None:
    entries = np.random.default_rng(5).integers(1, 10**6, 300)
    positions = []
    for i in range(300):
        for pick in select(entries, 5, seeded("ks", i)):
            positions.append((pick.ticket + 0.5) / pick.total_tickets)
    assert stats.kstest(positions, "uniform").pvalue > 0.001
