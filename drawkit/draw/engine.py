"""Commit and run a draw: cohort, commitment, seed, selection, record, ledger.

``commit_draw`` fixes the cohort digest, the beacon round and the secret's hash before
the randomness exists; ``run_draw`` checks the revealed values against that commitment,
derives the seed, selects winners and reserves, and appends the record to the ledger.
Both hold the ledger lock, so a draw id runs once: a second call returns the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from drawkit import __version__
from drawkit.beacon.chain import QUICKNET_HASH
from drawkit.config import PromotionConfig, draw_id_for
from drawkit.draw.cohort import Cohort, canonical_cohort
from drawkit.draw.ledger import Ledger, check_draw_id
from drawkit.draw.record import (
    BeaconChain,
    BeaconEvidence,
    Commitment,
    DrawRecord,
    Prize,
    Shortfall,
    Winner,
)
from drawkit.draw.rng import SPEC_VERSION, commitment_of, derive_seed, drbg_for_seed
from drawkit.draw.sampling import select
from drawkit.eligibility import draw_window
from drawkit.errors import CommitmentError, ConfigError, DrawError, NotEnoughParticipantsError

ALGORITHM = {
    "generator": "HMAC_DRBG (NIST SP 800-90A Rev. 1) with SHA-256; entropy_input = seed, "
    "empty nonce and personalization string",
    "words": "one 8-byte generate call per 64-bit word, read big-endian",
    "integers": "rejection sampling: accept x < 2^64 - (2^64 mod W), r = x mod W",
    "selection": "successive weighted sampling over integer tickets in canonical order; "
    "a winner's tickets leave the draw",
    "order": "winners of every tier in config order, then reserves round by round "
    "(reserve 1 of every tier in config order, then reserve 2, ...)",
}
SELF_TEST_WORDS = 4
RECENT_WINNER = "recent_winner"
MIN_SECRET_BYTES = 16  # 128 bits: nobody can guess it from its published hash

Step = Callable[[str], None]


def default_draw_id(config: PromotionConfig, draw_date: date) -> str:
    """``<promotion slug>-<YYYY-MM-DD>``, e.g. ``drawkit-demo-promotion-2026-11-24``."""
    return draw_id_for(config.name, draw_date)


@dataclass(frozen=True)
class PreparedCohort:
    """The cohort as drawn (recent winners removed) and what was removed."""

    cohort: Cohort
    excluded_msisdns: tuple[str, ...]


def recent_winners(
    ledger: Ledger,
    config: PromotionConfig,
    draw_date: date,
    *,
    draw_id: str | None = None,
    before_sequence: int | None = None,
) -> set[str]:
    """Numbers that won a draw of this promotion in the configured days before ``draw_date``
    (winners, and reserves promoted to winner by a later event). ``before_sequence`` reads
    the ledger as it stood then: only entries numbered below it count (verify uses the
    draw record's own number, so later events never change an earlier draw's check)."""
    days = config.exclude_recent_winners_days
    if days <= 0:
        return set()
    limit = before_sequence if before_sequence is not None else float("inf")
    since = draw_date - timedelta(days=days)
    found: set[str] = set()
    for record in ledger.records():
        if record.promotion != config.name or record.draw_id == draw_id:
            continue
        if not since <= record.date < draw_date or record.sequence >= limit:
            continue
        found.update(w.msisdn for w in record.winners if w.role == "winner")
        promoted = {
            (e["details"].get("tier"), e["details"].get("reserve_position"))
            for e in ledger.events(record.draw_id)
            if e.get("event") == "promoted" and e.get("sequence", 0) < limit
        }
        found.update(
            w.msisdn
            for w in record.winners
            if w.role == "reserve" and (w.tier, w.position) in promoted
        )
    return found


def prepare_cohort(
    participants: pd.DataFrame,
    excluded: set[str] | frozenset[str],
    canonical: Cohort | None = None,
) -> PreparedCohort:
    """Remove ``excluded`` numbers, then build the canonical cohort. ``canonical``, the
    canonical cohort of ``participants`` when the caller has it already, is used as it
    is when nothing is removed (its size and total entries are checked against
    ``participants``)."""
    if excluded and len(participants):
        hit = participants["msisdn"].isin(list(excluded)).to_numpy()
        removed = tuple(sorted(participants["msisdn"].to_numpy(dtype=object)[hit]))
        participants = participants.loc[~hit]
    else:
        removed = ()
    if not removed and canonical is not None:
        _check_canonical(canonical, participants)
        return PreparedCohort(canonical, ())
    return PreparedCohort(canonical_cohort(participants), removed)


def _check_canonical(cohort: Cohort, participants: pd.DataFrame) -> None:
    """Refuse a canonical cohort given for other participants (size or total entries)."""
    try:
        total = int(np.asarray(participants["entries"], dtype=np.int64).sum())
    except (KeyError, TypeError, ValueError):
        total = -1
    if len(cohort) != len(participants) or total != cohort.total_entries:
        raise DrawError("the canonical cohort given is not the one of the participants given "
                        f"({len(cohort)} participants and {cohort.total_entries} entries, "
                        f"against {len(participants)} and {total})")


def commit_draw(
    participants: pd.DataFrame,
    config: PromotionConfig,
    draw_date: date,
    *,
    ledger_dir: str | Path,
    beacon_round: int | None = None,
    secret: bytes | None = None,
    draw_id: str | None = None,
    beacon_chain: str | None = None,
    operator_randomness: bool = False,
    commit_margin_seconds: int = 0,
    result_public_key: str | None = None,
    now: datetime | None = None,
    canonical: Cohort | None = None,
) -> Commitment:
    """Record the cohort digest, beacon round (on ``beacon_chain``), secret commitment and
    the public key that will sign the published results (hex Ed25519) before the draw.
    The timing rules (a round not yet published, not too far ahead) are the application
    layer's (:mod:`drawkit.app.draws`); verify checks them afterwards.

    Returns the existing commitment if the same one was made already; raises
    :class:`CommitmentError` if a different one exists for this draw id. ``canonical``:
    as for :func:`run_draw`.
    """
    check_secret(secret)
    ledger = Ledger(ledger_dir)
    draw_id = check_draw_id(draw_id or default_draw_id(config, draw_date))
    with ledger.lock():
        excluded = recent_winners(ledger, config, draw_date, draw_id=draw_id)
        prepared = prepare_cohort(participants, excluded, canonical)
        secret_hash = commitment_of(secret) if secret is not None else None
        existing = ledger.commitment(draw_id)
        if existing is not None:
            _check_same_commitment(existing, prepared.cohort.digest, beacon_round, secret_hash,
                                   result_public_key)
            return existing
        return _append_commitment(
            ledger,
            draw_id,
            config,
            draw_date,
            prepared.cohort,
            beacon_round,
            secret_hash,
            made_at_draw=False,
            beacon_chain=beacon_chain,
            operator_randomness=operator_randomness,
            commit_margin_seconds=commit_margin_seconds,
            result_public_key=result_public_key,
            now=now,
        )


def run_draw(
    participants: pd.DataFrame,
    config: PromotionConfig,
    draw_date: date,
    *,
    ledger_dir: str | Path,
    beacon: bytes | None = None,
    beacon_round: int | None = None,
    secret: bytes | None = None,
    draw_id: str | None = None,
    exclusions: dict[str, int] | None = None,
    on_step: Step | None = None,
    evidence: BeaconEvidence | None = None,
    now: datetime | None = None,
    canonical: Cohort | None = None,
) -> DrawRecord:
    """Run (or return) the draw ``draw_id`` and append its record to the ledger.

    ``canonical`` is the canonical cohort of ``participants`` when the caller has built
    it already (the frozen cohort's): reused when no recent winner is removed.

    ``evidence`` is the authenticated beacon round (its randomness is the beacon value and
    its round the beacon round); the record keeps its signature and chain so anyone can
    authenticate it offline. When a beacon value is given without ``beacon_round``, the
    committed round is meant.
    ``on_step(name)`` is called after each durable step: "locked", "committed",
    "seed_derived", "selected", "record_written" (or "existing" when the record was
    already there), so crash tests can interrupt the draw anywhere.
    """
    step = on_step or (lambda _name: None)
    check_secret(secret)
    if evidence is not None:
        beacon, beacon_round = evidence.randomness, evidence.round
    ledger = Ledger(ledger_dir)
    draw_id = check_draw_id(draw_id or default_draw_id(config, draw_date))
    if beacon is None and secret is None:
        raise DrawError(
            "a draw needs a beacon value, an operator secret, or both: without either the "
            "seed would be known to everyone before the draw"
        )
    with ledger.lock():
        step("locked")
        existing = ledger.get(draw_id)
        if existing is not None:
            step("existing")
            return existing
        excluded = recent_winners(ledger, config, draw_date, draw_id=draw_id)
        prepared = prepare_cohort(participants, excluded, canonical)
        cohort = prepared.cohort
        commitment = ledger.commitment(draw_id)
        if commitment is None:
            secret_hash = commitment_of(secret) if secret is not None else None
            commitment = _append_commitment(
                ledger,
                draw_id,
                config,
                draw_date,
                cohort,
                beacon_round,
                secret_hash,
                made_at_draw=True,
                beacon_chain=evidence.chain.hash if evidence is not None else None,
                now=now,
            )
        step("committed")
        if beacon_round is None and beacon is not None:
            beacon_round = commitment.beacon_round  # the value given is the committed round's
        check_reveal(commitment, cohort.digest, beacon, beacon_round, secret, evidence)
        seed = derive_seed(
            draw_id=draw_id, cohort_digest=cohort.digest, beacon=beacon, secret=secret
        )
        step("seed_derived")
        prizes = prizes_of(config)
        winners, shortfall = draw_winners(cohort, prizes, seed, award_partial=config.award_partial)
        step("selected")
        counts = dict(exclusions or {})
        if config.exclude_recent_winners_days > 0:
            counts[RECENT_WINNER] = len(prepared.excluded_msisdns)
        window_start, window_cutoff = _window(config, draw_date)
        record = DrawRecord(
            draw_id=draw_id,
            promotion=config.name,
            permit=config.permit,
            draw_date=draw_date.isoformat(),
            timezone=config.timezone,
            window_start=window_start,
            window_cutoff=window_cutoff,
            cohort_digest=cohort.digest,
            participants=len(cohort),
            total_entries=cohort.total_entries,
            exclusions=counts,
            recent_winner_days=config.exclude_recent_winners_days,
            excluded_msisdns=prepared.excluded_msisdns,
            commitment=commitment,
            beacon_round=beacon_round,
            beacon_value=beacon.hex() if beacon is not None else None,
            beacon_signature=evidence.signature if evidence is not None else None,
            beacon_chain=evidence.chain if evidence is not None else None,
            beacon_relay=evidence.relay if evidence is not None else None,
            secret=secret.hex() if secret is not None else None,
            randomness=randomness_label(
                beacon, secret, evidence.chain if evidence is not None else None
            ),
            seed=seed.hex(),
            first_words=self_test_words(seed),
            spec_version=SPEC_VERSION,
            algorithm=dict(ALGORITHM),
            drawkit_version=__version__,
            prizes=prizes,
            award_partial=config.award_partial,
            shortfall=shortfall,
            winners=winners,
            created_at=_iso(now),
        )
        body = record.to_dict()
        for key in ("sequence", "previous_record_hash", "record_hash", "kind"):
            body.pop(key)
        entry = ledger.append("draw", body)
        step("record_written")
        return DrawRecord.from_dict(entry)


def check_secret(secret: bytes | None) -> None:
    """Refuse an operator secret too short to stay unguessable behind its hash."""
    if secret is not None and len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the operator secret is too short ({len(secret)} bytes): use at least "
            f"{MIN_SECRET_BYTES} random bytes ({2 * MIN_SECRET_BYTES} hex digits)"
        )


# ------------------------------------------------------------------ shared with verify


OPERATOR_CHOSEN = "operator-chosen randomness (no public beacon)"
TEST_CHAIN = "local test chain — not public randomness"


def randomness_label(
    beacon: bytes | None, secret: bytes | None, chain: BeaconChain | None = None
) -> str:
    """Where the seed's unpredictability comes from, in words for the record."""
    if beacon is None:
        return OPERATOR_CHOSEN
    if chain is None:
        source = "an unauthenticated beacon value (no signature)"
    elif chain.hash == QUICKNET_HASH:
        source = "public beacon (drand quicknet)"
    else:
        source = f"{TEST_CHAIN} (chain {chain.hash[:12]}…)"
    return f"{source} and operator secret" if secret is not None else f"{source} alone"


def self_test_words(seed: bytes) -> tuple[str, ...]:
    """The first words of the stream (hex), for a lab's raw-output check."""
    drbg = drbg_for_seed(seed)
    return tuple(f"{w:016x}" for w in drbg.words(SELF_TEST_WORDS))


def prizes_of(config: PromotionConfig) -> tuple[Prize, ...]:
    """The config's prize tiers with the reserves each one asks for."""
    return tuple(
        Prize(t.name, t.value_ngn, t.count, config.reserves_per_tier) for t in config.prizes
    )


def draw_winners(
    cohort: Cohort, prizes: tuple[Prize, ...], seed: bytes, *, award_partial: bool
) -> tuple[tuple[Winner, ...], tuple[Shortfall, ...]]:
    """Winners of every tier (config order), then reserves round by round, from one
    prefix-stable pick sequence. Raises NotEnoughParticipantsError naming the first tier
    whose prizes cannot all be awarded, unless ``award_partial``."""
    slots = draw_slots(prizes)
    available = len(cohort)
    prize_places = sum(p.count for p in prizes)
    if available < prize_places and not award_partial:
        raise NotEnoughParticipantsError(_short_tier_message(prizes, available))
    picks = select(cohort.entries, min(len(slots), available), drbg_for_seed(seed))
    winners = tuple(
        Winner(
            tier=tier,
            role=role,  # type: ignore[arg-type]
            position=position,
            draw_order=order + 1,
            msisdn=cohort.msisdn(pick.index),
            entries=int(cohort.entries[pick.index]),
            ticket=pick.ticket,
            total_tickets_at_pick=pick.total_tickets,
        )
        for order, ((tier, role, position), pick) in enumerate(zip(slots, picks, strict=False))
    )
    return winners, _shortfall(prizes, winners)


def draw_slots(prizes: tuple[Prize, ...]) -> list[tuple[str, str, int]]:
    """(tier, role, position) of every pick in draw order: all winners tier by tier, then
    reserve 1 of every tier, reserve 2 of every tier, and so on. Asking for more reserves
    only appends slots, so no earlier winner or reserve ever moves."""
    slots = [(p.name, "winner", i + 1) for p in prizes for i in range(p.count)]
    rounds = max((p.reserves for p in prizes), default=0)
    slots += [(p.name, "reserve", j + 1) for j in range(rounds) for p in prizes if j < p.reserves]
    return slots


def _short_tier_message(prizes: tuple[Prize, ...], available: int) -> str:
    before = 0
    for prize in prizes:
        if before + prize.count > available:
            left = max(available - before, 0)
            return (
                f"prize tier '{prize.name}' needs {prize.count} winner(s) but only {left} "
                f"participant(s) remain after {before} earlier prize(s) ({available} in the "
                "cohort); set draw.award_partial = true to award what can be awarded"
            )
        before += prize.count
    raise AssertionError("no short tier")  # pragma: no cover - caller checked


def _shortfall(prizes: tuple[Prize, ...], winners: tuple[Winner, ...]) -> tuple[Shortfall, ...]:
    short = []
    for prize in prizes:
        for role, wanted in (("winner", prize.count), ("reserve", prize.reserves)):
            drawn = sum(1 for w in winners if w.tier == prize.name and w.role == role)
            if drawn < wanted:
                short.append(Shortfall(prize.name, role, wanted, drawn))  # type: ignore[arg-type]
    return tuple(short)


def check_reveal(
    commitment: Commitment,
    digest: str,
    beacon: bytes | None,
    beacon_round: int | None,
    secret: bytes | None,
    evidence: BeaconEvidence | None = None,
) -> None:
    """Raise CommitmentError naming what differs from the commitment."""
    if not commitment.made_at_draw and commitment.beacon_round is None and beacon is not None:
        raise CommitmentError(
            "a beacon value was given but no beacon round was committed: a value chosen after "
            "the commitment could be picked to suit an outcome, so it is refused"
        )
    chain = evidence.chain.hash if evidence is not None else None
    if commitment.beacon_chain is not None and chain not in (None, commitment.beacon_chain):
        raise CommitmentError(
            f"the beacon round comes from chain {chain}, not the committed chain "
            f"{commitment.beacon_chain}"
        )
    if digest != commitment.cohort_digest:
        raise CommitmentError(
            f"cohort digest {digest} differs from the committed digest "
            f"{commitment.cohort_digest}: the participants changed after the commitment"
        )
    check_secret_reveal(commitment, secret)
    if commitment.beacon_round != beacon_round:
        raise CommitmentError(
            f"beacon round {beacon_round} differs from the committed round "
            f"{commitment.beacon_round}"
        )
    if beacon_round is not None and beacon is None:
        raise CommitmentError(f"the value of committed beacon round {beacon_round} is missing")


def check_secret_reveal(commitment: Commitment, secret: bytes | None) -> None:
    """Raise CommitmentError when ``secret`` is not the committed one (or is missing)."""
    if commitment.secret_commitment is None and secret is not None:
        raise CommitmentError("an operator secret was given but none was committed")
    if commitment.secret_commitment is not None:
        if secret is None:
            raise CommitmentError("the operator secret was committed but not revealed")
        if commitment_of(secret) != commitment.secret_commitment:
            raise CommitmentError(
                f"the operator secret does not match its commitment {commitment.secret_commitment}"
            )


def _check_same_commitment(
    existing: Commitment, digest: str, beacon_round: int | None, secret_hash: str | None,
    result_public_key: str | None = None,
) -> None:
    differences = []
    if existing.cohort_digest != digest:
        differences.append(f"cohort digest {digest} (committed {existing.cohort_digest})")
    if existing.beacon_round != beacon_round:
        differences.append(f"beacon round {beacon_round} (committed {existing.beacon_round})")
    if existing.secret_commitment != secret_hash:
        differences.append("secret commitment")
    if existing.result_public_key != result_public_key:
        differences.append(
            f"result signing key {result_public_key or 'none'} (committed "
            f"{existing.result_public_key or 'none'})"
        )
    if differences:
        raise CommitmentError(
            f"draw {existing.draw_id} is already committed with different values: "
            + "; ".join(differences)
        )


def _append_commitment(
    ledger: Ledger,
    draw_id: str,
    config: PromotionConfig,
    draw_date: date,
    cohort: Cohort,
    beacon_round: int | None,
    secret_hash: str | None,
    *,
    made_at_draw: bool,
    beacon_chain: str | None = None,
    operator_randomness: bool = False,
    commit_margin_seconds: int = 0,
    result_public_key: str | None = None,
    now: datetime | None = None,
) -> Commitment:
    body = {
        "draw_id": draw_id,
        "promotion": config.name,
        "draw_date": draw_date.isoformat(),
        "cohort_digest": cohort.digest,
        "participants": len(cohort),
        "total_entries": cohort.total_entries,
        "beacon_round": beacon_round,
        "beacon_chain": beacon_chain,
        "secret_commitment": secret_hash,
        "operator_randomness": operator_randomness,
        "commit_margin_seconds": commit_margin_seconds,
        "committed_at": _iso(now),
        "made_at_draw": made_at_draw,
        "result_public_key": result_public_key,
    }
    return Commitment.from_dict(ledger.append("commitment", body))


def _window(config: PromotionConfig, draw_date: date) -> tuple[str | None, str]:
    """The entry window [start, cutoff) in UTC, as the eligibility rules define it."""
    window = draw_window(config, draw_date)
    start_text = window.start.isoformat() if window.start is not None else None
    return start_text, window.cutoff.isoformat()


def _iso(now: datetime | None) -> str:
    """``now`` (default: the current time) as ISO 8601 UTC with microseconds."""
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")
