"""Fairness statistics for auditing draws: pure functions, no plotting.

One draw proves little on its own, so the checks compare it with a Monte Carlo of many
draws on the same frozen cohort: the engine's own :func:`drawkit.draw.select` run with
seeds derived from the record's seed and the simulation index. Pearson's chi-square over
entry bands does not follow a chi-square law for draws without replacement (Genest,
Lockhart & Stephens), so its p-value comes from the same simulations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

from drawkit.contract import (
    DRAW_EVENT,
    DRAWKIT_DISTINCT_ID,
    LEDGER_HEAD,
    SIGNATURE,
    SIGNER,
    LedgerHead,
    ResultEvent,
    distinct_events,
    event_label,
    event_slot,
    result_payloads,
    verify_event,
)
from drawkit.draw import (
    Cohort,
    DrawRecord,
    Ledger,
    VerificationReport,
    canonical_cohort,
    published_events,
    select,
)
from drawkit.draw.rng import drbg_for_seed
from drawkit.draw.verify import protocol_findings
from drawkit.errors import InputError
from drawkit.msisdn import e164_nationals, mask

SIMULATION_TAG = b"drawkit-audit/1"
"""Domain tag hashed into every simulation seed, so simulations never reuse a draw seed."""

BAND_EDGES: tuple[int, ...] = (1, 2, 5, 10, 50)
"""Lower edges of the entry bands: 1, 2–4, 5–9, 10–49, 50+ entries."""

ALPHA = 0.01
"""Below this p-value a statistical check calls the draw unusual (about 1 fair draw in 100
is): a reason to look at the charts and previous days, not a failure."""

FAIL_BELOW = 1e-6
"""Below this p-value a statistical check fails: chance would give it about once in a
million fair draws, so one test of one draw no longer explains it."""


# ------------------------------------------------------------------ cohort and bands


def cohort_as_drawn(record: DrawRecord, participants: pd.DataFrame) -> Cohort:
    """The cohort exactly as drawn: ``participants`` minus the record's excluded recent
    winners, canonicalised. Raises InputError when its digest differs from the record's."""
    frame = participants
    if record.excluded_msisdns:
        frame = participants.loc[~participants["msisdn"].isin(list(record.excluded_msisdns))]
    cohort = canonical_cohort(frame)
    if cohort.digest != record.cohort_digest:
        raise InputError(
            f"participants give cohort digest {cohort.digest[:16]}…, but draw "
            f"{record.draw_id} was made on {record.cohort_digest[:16]}…: "
            "audit the participants file the draw used"
        )
    return cohort


def band_labels(edges: Sequence[int] = BAND_EDGES) -> list[str]:
    """Readable labels for entry bands, e.g. ``["1", "2–4", "5–9", "10–49", "50+"]``."""
    labels = []
    for low, high in zip(edges, [*edges[1:], None], strict=True):
        if high is None:
            labels.append(f"{low}+")
        elif high - 1 == low:
            labels.append(str(low))
        else:
            labels.append(f"{low}–{high - 1}")
    return labels


def band_index(entries: np.ndarray, edges: Sequence[int] = BAND_EDGES) -> np.ndarray:
    """The band (0-based) of each entry count."""
    return np.searchsorted(np.asarray(edges, dtype=np.int64), entries, side="right") - 1


# ------------------------------------------------------------------ Monte Carlo


@dataclass(frozen=True)
class Simulation:
    """Picks of ``n`` simulated draws on one cohort (``indices[s, j]``: canonical index of
    pick ``j`` in simulation ``s``)."""

    indices: np.ndarray  # (n, picks) int64
    entries: np.ndarray  # the cohort's entries
    edges: tuple[int, ...] = BAND_EDGES

    @property
    def n(self) -> int:
        """Number of simulated draws."""
        return int(self.indices.shape[0])

    @property
    def picks(self) -> int:
        """Picks (winners and reserves) per simulated draw."""
        return int(self.indices.shape[1])

    def band_counts(self) -> np.ndarray:
        """``(n, bands)`` picks per entry band in each simulated draw."""
        bands = band_index(self.entries[self.indices], self.edges)
        n_bands = len(self.edges)
        offsets = np.arange(self.n)[:, None] * n_bands
        flat = np.bincount((bands + offsets).ravel(), minlength=self.n * n_bands)
        return flat.reshape(self.n, n_bands)

    def win_counts(self) -> np.ndarray:
        """Picks per participant pooled over all simulations (length = cohort size)."""
        return np.bincount(self.indices.ravel(), minlength=len(self.entries))


def simulation_seed(seed: bytes, index: int) -> bytes:
    """Seed of simulation ``index``: SHA-256(tag ‖ draw seed ‖ index as 8 bytes)."""
    return hashlib.sha256(SIMULATION_TAG + seed + index.to_bytes(8, "big")).digest()


def simulate(
    entries: np.ndarray,
    picks: int,
    seed: bytes,
    n: int = 500,
    edges: Sequence[int] = BAND_EDGES,
) -> Simulation:
    """Run ``n`` draws of ``picks`` picks with the engine's selection on ``entries``.

    Each simulation uses HMAC_DRBG seeded with :func:`simulation_seed`, so the Monte Carlo
    is reproducible from the record alone. Cost: O(n · (cohort + picks · log cohort)).
    """
    entries = np.asarray(entries, dtype=np.int64)
    picks = min(picks, len(entries))
    indices = np.empty((n, picks), dtype=np.int64)
    for s in range(n):
        drawn = select(entries, picks, drbg_for_seed(simulation_seed(seed, s)))
        indices[s] = [p.index for p in drawn]
    return Simulation(indices, entries, tuple(edges))


def simulate_record(
    record: DrawRecord, cohort: Cohort, n: int = 500, edges: Sequence[int] = BAND_EDGES
) -> Simulation:
    """Monte Carlo of ``record``'s draw: as many picks as the record drew, same cohort."""
    return simulate(cohort.entries, len(record.winners), bytes.fromhex(record.seed), n, edges)


def observed_indices(record: DrawRecord, cohort: Cohort) -> np.ndarray:
    """Canonical indices of the record's picks (winners and reserves), in draw order."""
    wanted = e164_nationals(pa.array([w.msisdn for w in record.winners], pa.string()))
    if wanted is None:
        raise InputError("the record's winners are masked or not E.164: the audit needs the "
                         "private record")
    return np.searchsorted(cohort.national, wanted).astype(np.int64)


# ------------------------------------------------------------------ expected vs observed


def wins_by_band(
    cohort: Cohort, observed: np.ndarray, simulation: Simulation, level: float = 0.95
) -> pd.DataFrame:
    """Per entry band: participants, tickets, observed picks, Monte Carlo expected picks
    and the central ``level`` interval of simulated picks."""
    edges = simulation.edges
    bands = band_index(cohort.entries, edges)
    n_bands = len(edges)
    counts = simulation.band_counts()
    tail = (1 - level) / 2
    frame = pd.DataFrame(
        {
            "band": band_labels(edges),
            "participants": np.bincount(bands, minlength=n_bands),
            "tickets": np.bincount(bands, weights=cohort.entries, minlength=n_bands).astype(
                np.int64
            ),
            "observed": np.bincount(band_index(cohort.entries[observed], edges), minlength=n_bands),
            "expected": counts.mean(axis=0),
            "low": np.quantile(counts, tail, axis=0, method="lower"),
            "high": np.quantile(counts, 1 - tail, axis=0, method="higher"),
        }
    )
    frame["ticket_share"] = frame["tickets"] / max(int(frame["tickets"].sum()), 1)
    frame["inside"] = frame["observed"].between(frame["low"], frame["high"])
    return frame.loc[frame["participants"] > 0].reset_index(drop=True)


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's statistic over entry bands with its Monte Carlo p-value, and ``tail``:
    the statistic's tail under a gamma law fitted to the simulations' mean and variance
    (Satterthwaite), which reaches below the Monte Carlo floor of 1 / (simulations + 1)."""

    statistic: float
    pvalue: float
    simulations: int
    bands: int
    simulated: np.ndarray = field(repr=False)
    tail: float = float("nan")

    @property
    def fail_pvalue(self) -> float:
        """The p-value the check fails on: the fitted tail when there is one."""
        return self.pvalue if np.isnan(self.tail) else self.tail

    def format(self) -> str:
        """One line for a report."""
        tail = "" if np.isnan(self.tail) else f", fitted tail {self.tail:.1e}"
        return (
            f"chi-square {self.statistic:.2f} over {self.bands} entry bands; Monte Carlo "
            f"p-value {self.pvalue:.3f} ({self.simulations:,} simulated draws{tail})"
        )


def _pearson(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    keep = expected > 0
    return (((observed[..., keep] - expected[keep]) ** 2) / expected[keep]).sum(axis=-1)


def chi_square(band_table: pd.DataFrame, simulation: Simulation) -> ChiSquare:
    """Chi-square of observed vs expected picks per band; p = (1 + #sim ≥ obs) / (n + 1)."""
    counts = simulation.band_counts()
    keep = np.isin(band_labels(simulation.edges), band_table["band"])
    counts = counts[:, keep].astype(float)
    expected = band_table["expected"].to_numpy(dtype=float)
    observed = band_table["observed"].to_numpy(dtype=float)
    statistic = float(_pearson(observed, expected))
    simulated = _pearson(counts, expected)
    pvalue = float((1 + np.sum(simulated >= statistic - 1e-12)) / (simulation.n + 1))
    return ChiSquare(statistic, pvalue, simulation.n, int((expected > 0).sum()), simulated,
                     _gamma_tail(statistic, simulated))


def _gamma_tail(statistic: float, simulated: np.ndarray) -> float:
    """P(X >= statistic) for a gamma law with the simulations' mean and variance."""
    mean, variance = float(np.mean(simulated)), float(np.var(simulated, ddof=1))
    if not (np.isfinite(mean) and np.isfinite(variance)) or mean <= 0 or variance <= 0:
        return float("nan")
    return float(stats.gamma.sf(statistic, mean * mean / variance, scale=variance / mean))


# ------------------------------------------------------------------ ticket positions


def ticket_positions(records: Iterable[DrawRecord]) -> pd.DataFrame:
    """Every pick's winning ticket as a position in the tickets in play: ``u = (r + ½)/W``
    (uniform on (0, 1) for a fair draw)."""
    rows = [
        {
            "draw_id": rec.draw_id,
            "draw_date": rec.draw_date,
            "draw_order": w.draw_order,
            "ticket": w.ticket,
            "tickets_in_play": w.total_tickets_at_pick,
            "u": (w.ticket + 0.5) / w.total_tickets_at_pick,
        }
        for rec in records
        for w in rec.winners
    ]
    columns = ["draw_id", "draw_date", "draw_order", "ticket", "tickets_in_play", "u"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class KsResult:
    """Kolmogorov–Smirnov test of positions against the uniform distribution."""

    statistic: float
    pvalue: float
    n: int

    def format(self) -> str:
        """One line for a report."""
        return f"KS statistic {self.statistic:.3f}, p-value {self.pvalue:.3f} ({self.n} tickets)"


def ks_uniform(u: Sequence[float] | np.ndarray) -> KsResult:
    """Two-sided KS test of ``u`` against U(0, 1) (scipy.stats.kstest)."""
    values = np.asarray(u, dtype=float)
    if len(values) == 0:
        return KsResult(float("nan"), float("nan"), 0)
    result = stats.kstest(values, "uniform")
    return KsResult(float(result.statistic), float(result.pvalue), len(values))


def ecdf(u: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Empirical CDF points (sorted value, fraction at or below it)."""
    values = np.sort(np.asarray(u, dtype=float))
    return pd.DataFrame({"u": values, "ecdf": np.arange(1, len(values) + 1) / max(len(values), 1)})


# ------------------------------------------------------------------ Lorenz-style shares


def lorenz(entries: np.ndarray, wins: np.ndarray) -> pd.DataFrame:
    """Cumulative share of tickets and of wins, participants ordered by entries (fewest
    first). A fair draw keeps the wins curve close to the tickets diagonal."""
    entries = np.asarray(entries, dtype=np.int64)
    wins = np.asarray(wins, dtype=float)
    order = np.argsort(entries, kind="stable")
    tickets = np.cumsum(entries[order], dtype=np.float64)
    won = np.cumsum(wins[order])
    return pd.DataFrame(
        {
            "ticket_share": np.concatenate([[0.0], tickets / max(tickets[-1], 1.0)]),
            "win_share": np.concatenate([[0.0], won / max(won[-1], 1.0)]),
        }
    )


# ------------------------------------------------------------------ history


def daily_history(ledger: Ledger, promotion: str | None = None) -> pd.DataFrame:
    """One row per recorded draw: entrants, tickets, winners, reserves, exclusions."""
    rows = []
    for rec in ledger.records():
        if promotion is not None and rec.promotion != promotion:
            continue
        rows.append(
            {
                "draw_date": pd.Timestamp(rec.draw_date),
                "draw_id": rec.draw_id,
                "entrants": rec.participants,
                "tickets": rec.total_entries,
                "winners": sum(1 for w in rec.winners if w.role == "winner"),
                "reserves": sum(1 for w in rec.winners if w.role == "reserve"),
                "excluded": sum(rec.exclusions.values()),
            }
        )
    columns = ["draw_date", "draw_id", "entrants", "tickets", "winners", "reserves", "excluded"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("draw_date").reset_index(drop=True)


# ------------------------------------------------------------------ reconciliation


@dataclass(frozen=True)
class Reconciliation:
    """What was published compared with the record, one row per expected event; every
    published event's signature checked under the key the draw committed to."""

    table: pd.DataFrame  # masked numbers only
    unexpected: int  # published events of this draw that the record does not explain
    forged: tuple[str, ...] = ()  # published events whose signature fails, named
    heads: tuple[LedgerHead, ...] = ()  # ledger heads published (signed) with this draw
    missing_heads: tuple[LedgerHead, ...] = ()  # of those, heads the ledger no longer holds

    @property
    def ok(self) -> bool:
        """Every expected event is published, signed, with the record's values; nothing
        forged or extra; every published ledger head is still in the ledger."""
        return (bool(self.table["matches"].all()) and self.unexpected == 0
                and not self.forged and not self.missing_heads)

    def format(self) -> str:
        """One line for a report (forgeries named)."""
        missing = int((~self.table["published"]).sum())
        wrong = int((self.table["published"] & ~self.table["matches"]).sum())
        if self.ok:
            heads = f"; {len(self.heads)} published ledger head(s) in the ledger" if (
                self.heads) else ""
            return f"all {len(self.table)} published events match the record, signed{heads}"
        text = (
            f"{missing} event(s) missing, {wrong} differing from the record, "
            f"{self.unexpected} unexpected"
        )
        if self.forged:
            text += f"; {len(self.forged)} FORGED: " + "; ".join(self.forged)
        if self.missing_heads:
            gone = ", ".join(h.format() for h in self.missing_heads)
            text += (f"; published ledger head(s) no longer in the ledger (entries removed or "
                     f"rewritten): {gone}")
        return text


def reconcile(
    record: DrawRecord, published: Iterable[ResultEvent], *, ledger: Ledger | None = None
) -> Reconciliation:
    """Compare ``source.get_published_events(draw_id)`` with the record.

    Every published event's signature is checked under the result key the draw's
    commitment names: one that fails is a forgery, named, and fails the reconciliation.
    Signed events are matched to the record by what they are (summary, or tier, role and
    position) and compared field by field. With ``ledger``, the draw's ledger events
    (unreachable, promoted...) must be published too, and every signed ledger head
    published with the draw must still be an entry of it."""
    key = record.commitment.result_public_key
    signed: dict[tuple[object, ...], list[ResultEvent]] = {}
    forged = []
    for event in distinct_events(e for e in published
                                 if e.properties.get("draw_id") == record.draw_id):
        problem = verify_event(event, key)
        if problem is not None:
            forged.append(f"{event_label(event)}: {problem}")
        else:
            signed.setdefault(event_slot(event), []).append(event)
    rows, unexpected = [], len(forged)
    events = published_events(record, ledger.events(record.draw_id)) if ledger else ()
    for want in result_payloads(record.to_outcome(events=events)):
        found = signed.pop(event_slot(want), [])
        chosen = next((e for e in found if not _differences(e, want)), None)
        chosen = chosen or (found[0] if found else None)
        unexpected += len(found) - (chosen is not None)
        rows.append(_row(want, chosen))
    heads: list[LedgerHead] = []
    for slot, events in signed.items():
        if slot[0] == LEDGER_HEAD:
            heads += [_head(e) for e in events]
        else:
            unexpected += len(events)
    table = pd.DataFrame(rows).astype({"ticket": "Int64"})
    missing = _missing_heads(heads, ledger) if ledger is not None else []
    return Reconciliation(table, unexpected, tuple(forged), tuple(heads), tuple(missing))


_OWN = (SIGNATURE, SIGNER)


def _differences(found: ResultEvent, want: ResultEvent) -> list[str]:
    """Fields of a signed event that differ from the record's (names only)."""
    diffs = []
    if found.distinct_id != want.distinct_id:
        diffs.append("number")
    props = {k: v for k, v in found.properties.items() if not k.startswith("$") and k not in _OWN}
    for name in sorted(set(props) | set(want.properties)):
        if props.get(name) != want.properties.get(name):
            diffs.append(name)
    return diffs


def _row(want: ResultEvent, found: ResultEvent | None) -> dict[str, object]:
    p = want.properties
    person = want.distinct_id != DRAWKIT_DISTINCT_ID
    problem = "not published" + (": run drawkit publish" if want.event == DRAW_EVENT else "")
    if found is not None:
        diffs = _differences(found, want)
        order = [d for d in ("number", "ticket", "tier") if d in diffs] + diffs
        problem = f"different {order[0]}" if diffs else ""
    return {
        "event": f"{want.event} ({p['kind']})" if want.event == DRAW_EVENT else want.event,
        "draw_order": p["draw_order"],
        "tier": p.get("tier", ""),
        "role": p.get("role", ""),
        "position": p.get("position", 0),
        "msisdn": mask(want.distinct_id) if person else "",
        "ticket": p.get("ticket", pd.NA),
        "published": found is not None,
        "matches": found is not None and not problem,
        "problem": problem,
    }


def _head(event: ResultEvent) -> LedgerHead:
    p: dict[str, Any] = event.properties
    return LedgerHead(_as_int(p.get("ledger_sequence")) or 0, str(p.get("ledger_head")))


def _missing_heads(heads: Sequence[LedgerHead], ledger: Ledger) -> list[LedgerHead]:
    known = {e.get("record_hash"): e.get("sequence") for e in ledger.entries()}
    return [h for h in heads if known.get(h.record_hash) != h.sequence]


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ fairness summary


@dataclass(frozen=True)
class Check:
    """One fairness check: its name, whether it passed, and what it means in plain words."""

    name: str
    passed: bool
    detail: str


def fairness_checks(
    record: DrawRecord,
    *,
    verification: VerificationReport | None = None,
    chain_ok: bool | None = None,
    reconciliation: Reconciliation | None = None,
    chi: ChiSquare | None = None,
    ks: KsResult | None = None,
    alpha: float = ALPHA,
    fail_below: float = FAIL_BELOW,
) -> list[Check]:
    """The checks an auditor signs off, from the results computed elsewhere. The randomness
    protocol's checks (beacon authentic, unknown when committed, or operator-chosen
    randomness, which never passes as fair) come from the verification, or are computed
    here with nothing accepted when no verification is given."""
    checks = [_commitment_check(record)]
    findings = (
        verification.findings if verification is not None else protocol_findings(record)
    )
    checks += [Check(f.check, f.passed, f.detail) for f in findings]
    if record.beacon_value is None:  # operator-chosen randomness is never fair, accepted or not
        checks[-1] = Check(checks[-1].name, False, checks[-1].detail)
    checks.append(_distinct_check(record))
    checks.append(_tickets_check(record))
    if verification is not None:
        first = verification.first
        checks.append(
            Check(
                "Record re-derives",
                verification.rederives,
                "re-running the draw from its inputs gives the same seed and winners"
                if verification.rederives
                else f"re-running differs: {first.format() if first else 'see verification'}",
            )
        )
    if chain_ok is not None:
        checks.append(
            Check(
                "Ledger chain intact",
                chain_ok,
                "every ledger entry links to the hash of the one before"
                if chain_ok
                else "the ledger's hash chain is broken: an entry was changed or removed",
            )
        )
    if reconciliation is not None:
        checks.append(Check("Published results match", reconciliation.ok, reconciliation.format()))
    if chi is not None:
        checks.append(_statistical("Wins follow entries", chi.format(), chi.pvalue,
                                   chi.fail_pvalue, alpha, fail_below))
    if ks is not None and ks.n:
        checks.append(_statistical("Winning tickets uniform", ks.format(), ks.pvalue,
                                   ks.pvalue, alpha, fail_below))
    return checks


def _statistical(name: str, summary: str, pvalue: float, fail_pvalue: float, alpha: float,
                 fail_below: float) -> Check:
    """A statistical check: unusual below ``alpha`` (said, not failed), failed below
    ``fail_below``."""
    if fail_pvalue < fail_below:
        return Check(name, False, f"{summary}; p below {fail_below:g}: far beyond what chance "
                                  "gives a fair draw")
    if pvalue < alpha:
        return Check(name, True, f"{summary}; UNUSUAL (p below {alpha:g}, as in about 1 fair "
                                 f"draw in {round(1 / alpha)}): look at the charts and the "
                                 f"previous days; it fails below {fail_below:g}")
    return Check(name, True, f"{summary}; below {alpha:g} would be unusual, below "
                             f"{fail_below:g} it fails")


def _commitment_check(record: DrawRecord) -> Check:
    early = not record.commitment.made_at_draw
    digest_ok = record.commitment.cohort_digest == record.cohort_digest
    detail = (
        f"cohort digest committed at {record.commitment.committed_at}, before the draw"
        if early
        else "the commitment was made at draw time, not announced in advance"
    )
    if not digest_ok:
        detail = "the drawn cohort differs from the committed cohort"
    return Check("Cohort committed in advance", early and digest_ok, detail)


def _distinct_check(record: DrawRecord) -> Check:
    numbers = [w.msisdn for w in record.winners]
    distinct = len(set(numbers)) == len(numbers)
    return Check(
        "One prize per person",
        distinct,
        f"{len(numbers)} picks, all different people"
        if distinct
        else "a person was picked more than once",
    )


def _tickets_check(record: DrawRecord) -> Check:
    ok = all(0 <= w.ticket < w.total_tickets_at_pick for w in record.winners)
    in_play = [w.total_tickets_at_pick for w in record.winners]
    falling = all(a > b for a, b in zip(in_play, in_play[1:], strict=False))
    return Check(
        "Tickets in range",
        ok and falling,
        "every winning ticket lies among the tickets in play, which shrink after each pick"
        if ok and falling
        else "a winning ticket lies outside the tickets in play",
    )


def fairness_summary(checks: Sequence[Check]) -> pd.DataFrame:
    """The checks as a table (check, result, detail)."""
    return pd.DataFrame(
        {
            "check": [c.name for c in checks],
            "result": ["PASS" if c.passed else "FAIL" for c in checks],
            "detail": [c.detail for c in checks],
        }
    )
