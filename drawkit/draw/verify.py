"""Re-derive a draw from its record and the participants file; report the first difference.

An auditor needs only the record, the participants file (its digest must match) and,
optionally, the ledger and an independently fetched beacon value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import pandas as pd

from drawkit.draw.cohort import Cohort
from drawkit.draw.engine import (
    draw_winners,
    prepare_cohort,
    randomness_label,
    recent_winners,
    self_test_words,
)
from drawkit.draw.ledger import ChainReport, Ledger
from drawkit.draw.record import DrawRecord, Winner, entry_hash
from drawkit.draw.rng import commitment_of, derive_seed
from drawkit.errors import DrawError, DrawkitError, LedgerError
from drawkit.msisdn import mask

_WINNER_FIELDS = (
    "msisdn",
    "tier",
    "role",
    "position",
    "draw_order",
    "entries",
    "ticket",
    "total_tickets_at_pick",
)


@dataclass(frozen=True)
class Difference:
    """One field whose re-derived (expected) value differs from the record (found)."""

    field: str
    expected: object
    found: object
    note: str = ""
    against_ledger: bool = False  # a cross-check with the ledger, not a re-derivation

    def format(self) -> str:
        """One line for people (phone numbers are already masked)."""
        text = f"{self.field}: expected {self.expected!s}, record has {self.found!s}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class Finding:
    """One check of the randomness protocol: what was checked, whether it held, and why."""

    check: str
    passed: bool
    detail: str

    def format(self) -> str:
        """One line for people."""
        return f"{self.check}: {'ok' if self.passed else 'FAILED'} — {self.detail}"


@dataclass(frozen=True)
class VerificationReport:
    """Outcome of :func:`verify_record`: whether the record re-derives (the differences,
    first one first), whether its randomness is authentic and its timing right
    (``findings``), and the ledger's chain when it was checked."""

    draw_id: str
    ok: bool
    differences: tuple[Difference, ...]
    chain: ChainReport | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def first(self) -> Difference | None:
        """The first difference found (None when the record re-derives)."""
        return self.differences[0] if self.differences else None

    @property
    def rederives(self) -> bool:
        """The record re-derives bit for bit from its inputs (a broken ledger chain is
        reported on its own line, not as a failed re-derivation)."""
        return not [d for d in self.differences if not d.against_ledger]

    def finding(self, check: str) -> Finding | None:
        """The finding of one protocol check, by name."""
        return next((f for f in self.findings if f.check == check), None)

    def format(self) -> str:
        """Printable verdict: the re-derivation, then every protocol check."""
        if self.rederives:
            lines = [f"MATCH: draw {self.draw_id} re-derives exactly from its inputs"]
        else:
            lines = [f"MISMATCH: draw {self.draw_id} does not re-derive from its inputs"]
        lines += [f"  {d.format()}" for d in self.differences]
        lines += [f"  {f.format()}" for f in self.findings]
        if self.chain is not None:
            lines.append(f"  {self.chain.format()}")
        lines.append(f"VERDICT: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


def verify_record(
    record: DrawRecord,
    participants: pd.DataFrame,
    *,
    ledger: Ledger | None = None,
    beacon: bytes | None = None,
    accept_test_chain: bool = False,
    accept_operator_randomness: bool = False,
    heads: Sequence[str] = (),
) -> VerificationReport:
    """Re-derive cohort digest, commitment checks, seed and winners; compare with the record;
    authenticate the beacon round offline and check the timing (docs/draw-spec.md, 'Beacon').

    ``beacon`` is the beacon round's value fetched independently (e.g. from drand); when
    given it must equal the record's. With ``ledger``, the chain, the record's place in it,
    its commitment and the recent-winner exclusions (the ledger as it stood when the draw
    ran) are checked too. A round of a local test chain, or a draw on operator-chosen
    randomness, passes only when accepted explicitly. ``heads`` are published ledger heads
    the ledger must still hold (docs/draw-spec.md, 'Ledger anchoring').
    """
    diffs: list[Difference] = []
    public = record.is_public
    if public:  # the published copy: full numbers come back from the participants file
        record = _unmask_exclusions(record, participants, diffs)
    cohort = _cohort(record, participants, diffs)
    same_cohort = cohort is not None and cohort.digest == record.cohort_digest
    _check_commitment(record, diffs)
    seed = _check_seed(record, beacon, diffs)
    if same_cohort and seed is not None:  # another file's picks would only echo its change
        expected = _check_winners(record, cohort, seed, diffs)
        if public and len(expected) == len(record.winners):
            record = replace(
                record,
                winners=tuple(
                    replace(got, msisdn=want.msisdn)
                    for want, got in zip(expected, record.winners, strict=True)
                ),
            )
    chain = _check_ledger(record, ledger, cohort, diffs, heads) if ledger is not None else None
    computed = record.computed_hash()
    if computed != record.record_hash and (same_cohort or not public):
        # (a public copy's full numbers come back from the file: a different file cannot
        # restore them, so the record itself is not blamed for it)
        diffs.append(
            Difference(
                "record_hash",
                computed,
                record.record_hash,
                "the record was changed after it was written",
            )
        )
    findings = protocol_findings(
        record,
        accept_test_chain=accept_test_chain,
        accept_operator_randomness=accept_operator_randomness,
    )
    ok = not diffs and (chain is None or chain.ok) and all(f.passed for f in findings)
    return VerificationReport(record.draw_id, ok, tuple(diffs), chain, findings)


def _ledger_difference(*args: object, **kwargs: object) -> Difference:
    """A difference found by checking the record against the ledger."""
    return Difference(*args, **kwargs, against_ledger=True)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the randomness protocol

AUTHENTIC = "Beacon authentic"
TIMING = "Beacon unknown when committed"
PUBLIC = "Public randomness"


def protocol_findings(
    record: DrawRecord, *, accept_test_chain: bool = False,
    accept_operator_randomness: bool = False,
) -> tuple[Finding, ...]:
    """The randomness protocol's checks, offline: the round's signature under its chain's
    key, the chain pinned (or a test chain accepted explicitly), and the timing: committed
    at least the committed margin before the round's publication, drawn after it."""
    if record.beacon_value is None:
        detail = (
            "operator-chosen randomness: no public beacon, so the operator could have tried "
            "secrets until an outcome suited them"
        )
        accepted = accept_operator_randomness
        return (Finding(PUBLIC, accepted, detail + (" (accepted explicitly)" if accepted else "")),)
    authentic, chain = _authenticity(record, accept_test_chain)
    return (authentic, _timing(record, chain))


def _authenticity(record: DrawRecord, accept_test_chain: bool) -> tuple[Finding, Any]:
    from drawkit.beacon.chain import QUICKNET_HASH, ChainInfo
    from drawkit.beacon.verify import verify_round
    from drawkit.errors import BeaconError

    stored = record.beacon_chain
    if record.beacon_signature is None or stored is None or record.beacon_round is None:
        return Finding(AUTHENTIC, False, "the record holds no beacon signature and chain: "
                       "its beacon value cannot be authenticated"), None
    try:
        chain = ChainInfo(stored.hash, bytes.fromhex(stored.public_key), stored.period,
                          stored.genesis_time, stored.group_hash, stored.scheme,
                          stored.beacon_id)
    except BeaconError as exc:
        return Finding(AUTHENTIC, False, f"beacon_chain: {exc}"), None
    try:
        genuine = verify_round(chain, record.beacon_round, record.beacon_signature)
    except BeaconError as exc:
        return Finding(AUTHENTIC, False, f"beacon_signature: {exc}"), chain
    if genuine.randomness.hex() != record.beacon_value:
        wrong = "beacon_value is not SHA-256 of the round's signature"
        return Finding(AUTHENTIC, False, wrong), chain
    committed = record.commitment.beacon_chain
    if committed is not None and committed != chain.hash:
        return Finding(AUTHENTIC, False, f"beacon_chain {chain.hash} is not the committed chain "
                       f"{committed}"), chain
    where = f"round {record.beacon_round}, signature valid under chain {chain.hash[:12]}…"
    if chain.hash == QUICKNET_HASH:
        return Finding(AUTHENTIC, True, f"drand quicknet {where} (the pinned public key)"), chain
    note = f"local test chain — not public randomness ({where})"
    if accept_test_chain:
        return Finding(AUTHENTIC, True, f"{note}; accepted explicitly"), chain
    return Finding(AUTHENTIC, False, f"{note}; accept it only with --accept-test-chain"), chain


def _timing(record: DrawRecord, chain: Any) -> Finding:
    from datetime import datetime, timedelta

    if chain is None or record.beacon_round is None:
        return Finding(TIMING, False, "the round's publication time is unknown (no chain)")
    published = chain.round_time(record.beacon_round)
    committed = datetime.fromisoformat(record.commitment.committed_at)
    drawn = datetime.fromisoformat(record.created_at)
    margin = timedelta(seconds=record.commitment.commit_margin_seconds)
    detail = (f"round {record.beacon_round} published {published:%Y-%m-%d %H:%M:%S} UTC; "
              f"committed {committed:%Y-%m-%d %H:%M:%S}, drawn {drawn:%Y-%m-%d %H:%M:%S}")
    if record.commitment.made_at_draw:
        return Finding(TIMING, False, f"{detail}: the commitment was made at draw time")
    if not committed < published or published - committed < margin:
        return Finding(TIMING, False, f"{detail}: the round was published before the "
                       f"commitment, or within its {margin.total_seconds():g} s margin, so its "
                       "value could be known")
    if drawn < published:
        return Finding(TIMING, False, f"{detail}: the draw ran before the round was published")
    return Finding(TIMING, True, detail)


def _cohort(
    record: DrawRecord, participants: pd.DataFrame, diffs: list[Difference]
) -> Cohort | None:
    try:
        prepared = prepare_cohort(participants, set(record.excluded_msisdns))
    except DrawkitError as exc:
        diffs.append(Difference("participants", "a valid cohort", str(exc)))
        return None
    cohort = prepared.cohort
    if cohort.digest != record.cohort_digest:
        diffs.append(
            Difference(
                "cohort_digest",
                cohort.digest,
                record.cohort_digest,
                "the participants file is not the cohort that was drawn",
            )
        )
        _locate_entry_change(record, cohort, diffs)
    if len(cohort) != record.participants:
        diffs.append(Difference("participants", len(cohort), record.participants))
    if cohort.total_entries != record.total_entries:
        diffs.append(Difference("total_entries", cohort.total_entries, record.total_entries))
    return cohort


def _locate_entry_change(record: DrawRecord, cohort: Cohort, diffs: list[Difference]) -> None:
    """Point at winners whose entries in the file differ from the record's (a public copy's
    masked winners are found by their mask when one participant has it)."""
    entries = dict(zip(cohort.msisdns.tolist(), cohort.entries.tolist(), strict=True))
    by_mask: dict[str, list[int]] = {}
    if record.is_public:
        masked = {w.msisdn for w in record.winners}
        for number, count in entries.items():
            shown = mask(number)
            if shown in masked:
                by_mask.setdefault(shown, []).append(count)
    for i, w in enumerate(record.winners):
        if "*" in w.msisdn:
            found = by_mask.get(w.msisdn, [])
            now = found[0] if len(found) == 1 else None
        else:
            now = entries.get(w.msisdn)
        if now != w.entries:
            diffs.append(
                Difference(
                    f"participants[{mask(w.msisdn)}].entries",
                    w.entries,
                    now,
                    f"the pick at draw order {i + 1} has different entries in the file",
                )
            )


def _check_commitment(record: DrawRecord, diffs: list[Difference]) -> None:
    c = record.commitment
    computed = entry_hash(c.to_dict())
    if computed != c.record_hash:
        diffs.append(Difference("commitment.record_hash", computed, c.record_hash,
                                "the commitment was changed after it was written"))
    for name in ("participants", "total_entries"):
        if getattr(c, name) != getattr(record, name):
            diffs.append(Difference(f"commitment.{name}", getattr(record, name), getattr(c, name),
                                    "the drawn cohort is not the committed one"))
    if c.draw_id != record.draw_id:
        diffs.append(Difference("commitment.draw_id", record.draw_id, c.draw_id))
    if c.cohort_digest != record.cohort_digest:
        diffs.append(Difference("commitment.cohort_digest", record.cohort_digest, c.cohort_digest))
    if c.beacon_round != record.beacon_round:
        diffs.append(Difference("commitment.beacon_round", record.beacon_round, c.beacon_round))
    secret = bytes.fromhex(record.secret) if record.secret is not None else None
    revealed = commitment_of(secret) if secret is not None else None
    if revealed != c.secret_commitment:
        diffs.append(
            Difference(
                "secret",
                c.secret_commitment,
                revealed,
                "the revealed secret does not hash to its commitment",
            )
        )


def _check_seed(record: DrawRecord, beacon: bytes | None, diffs: list[Difference]) -> bytes | None:
    recorded_beacon = bytes.fromhex(record.beacon_value) if record.beacon_value else None
    if beacon is not None and beacon != recorded_beacon:
        diffs.append(
            Difference(
                "beacon_value",
                beacon.hex(),
                record.beacon_value,
                "the record's beacon value is not the published one",
            )
        )
    secret = bytes.fromhex(record.secret) if record.secret is not None else None
    try:
        seed = derive_seed(
            draw_id=record.draw_id,
            cohort_digest=record.cohort_digest,
            beacon=recorded_beacon,
            secret=secret,
        )
    except DrawError as exc:
        diffs.append(Difference("seed", "a derivable seed", str(exc)))
        return None
    if seed.hex() != record.seed:
        diffs.append(
            Difference(
                "seed",
                seed.hex(),
                record.seed,
                "the seed does not follow from draw_id, cohort_digest, beacon_value and secret",
            )
        )
    label = randomness_label(recorded_beacon, secret, record.beacon_chain)
    if label != record.randomness:
        diffs.append(Difference("randomness", label, record.randomness))
    words = self_test_words(seed)
    if words != record.first_words:
        diffs.append(Difference("first_words", list(words), list(record.first_words)))
    return seed


def _unmask_exclusions(
    record: DrawRecord, participants: pd.DataFrame, diffs: list[Difference]
) -> DrawRecord:
    """The public record with its masked excluded numbers matched to the participants file."""
    if not record.excluded_msisdns:
        return record
    numbers = pd.Series(participants["msisdn"].astype(str).unique())
    full = []
    for masked in record.excluded_msisdns:
        # 0803****567 can only be +234803...567: mask just those, not the whole cohort
        head, tail = masked[1:].split("*", 1)[0], masked.rsplit("*", 1)[-1]
        near = numbers[numbers.str.startswith("+234" + head) & numbers.str.endswith(tail)]
        found = [n for n in near if mask(n) == masked]
        if len(found) != 1:
            diffs.append(
                Difference(
                    "excluded_msisdns",
                    "one participant per masked number",
                    f"{masked} matches {len(found)}",
                    "verify with the private record",
                )
            )
            return record
        full.append(found[0])
    return replace(record, excluded_msisdns=tuple(full))


def _check_winners(
    record: DrawRecord, cohort: Cohort, seed: bytes, diffs: list[Difference]
) -> tuple[Winner, ...]:
    """Re-draw and compare; returns the re-derived winners (empty if the draw fails)."""
    try:
        expected, shortfall = draw_winners(
            cohort, record.prizes, seed, award_partial=record.award_partial
        )
    except DrawkitError as exc:
        diffs.append(Difference("winners", "a drawable cohort", str(exc)))
        return ()
    if len(expected) != len(record.winners):
        diffs.append(Difference("winners.count", len(expected), len(record.winners)))
    for i, (want, got) in enumerate(zip(expected, record.winners, strict=False)):
        diff = _winner_difference(i, want, got)
        if diff is not None:
            diffs.append(diff)
    if shortfall != record.shortfall:
        diffs.append(Difference("shortfall", len(shortfall), len(record.shortfall)))
    return tuple(expected)


def _winner_difference(i: int, want: Winner, got: Winner) -> Difference | None:
    for name in _WINNER_FIELDS:
        a, b = getattr(want, name), getattr(got, name)
        if name == "msisdn" and "*" in b:  # a public copy holds the masked number
            a = mask(a)
        if a != b:
            if name == "msisdn":
                a, b = _masked(a), _masked(b)
            return Difference(f"winners[{i}].{name}", a, b, f"draw order {i + 1}")
    return None


def _masked(number: str) -> str:
    return number if "*" in number else mask(number)


def _check_ledger(
    record: DrawRecord, ledger: Ledger, cohort: Cohort | None, diffs: list[Difference],
    heads: Sequence[str] = (),
) -> ChainReport:
    chain = ledger.verify_chain(heads)
    if not chain.ok:
        diffs.append(_ledger_difference("ledger", "an intact hash chain", chain.format()))
    try:
        entries = {e.get("sequence"): e for e in ledger.entries()}
    except LedgerError:  # an unreadable entry (a FIFO, a link): the chain says which
        return chain
    stored = entries.get(record.sequence)
    if stored is None or stored.get("kind") != "draw" or stored.get("draw_id") != record.draw_id:
        diffs.append(
            _ledger_difference(
                "sequence",
                "this draw's ledger entry",
                record.sequence,
                "the ledger has no such draw entry",
            )
        )
        return chain
    if stored.get("record_hash") != record.record_hash:
        diffs.append(
            _ledger_difference(
                "record_hash",
                stored.get("record_hash"),
                record.record_hash,
                "the record differs from the ledger's copy",
            )
        )
    before = entries.get(record.sequence - 1)
    link = before.get("record_hash") if before else None
    if link != record.previous_record_hash:
        diffs.append(
            _ledger_difference(
                "previous_record_hash",
                link,
                record.previous_record_hash,
                "the record does not link to the ledger entry before it",
            )
        )
    committed = entries.get(record.commitment.sequence)
    if committed is None or committed != record.commitment.to_dict():
        diffs.append(
            _ledger_difference(
                "commitment",
                "the ledger's commitment entry",
                record.commitment.sequence,
                "the record's commitment is not the one in the ledger",
            )
        )
    elif record.commitment.sequence >= record.sequence:
        diffs.append(
            _ledger_difference(
                "commitment.sequence",
                f"< {record.sequence}",
                record.commitment.sequence,
                "committed after the draw",
            )
        )
    _check_exclusions(record, ledger, cohort, diffs)
    return chain


def _check_exclusions(
    record: DrawRecord, ledger: Ledger, cohort: Cohort | None, diffs: list[Difference]
) -> None:
    """The recent winners excluded must be exactly those the ledger says (among entrants)."""
    if record.recent_winner_days <= 0:
        return
    from drawkit.config import PromotionConfig  # only the two fields recent_winners reads

    config = PromotionConfig(
        name=record.promotion, exclude_recent_winners_days=record.recent_winner_days
    )
    known = recent_winners(
        ledger, config, date.fromisoformat(record.draw_date), draw_id=record.draw_id,
        before_sequence=record.sequence,
    )
    unexpected = sorted(set(record.excluded_msisdns) - known)
    if unexpected:
        diffs.append(
            _ledger_difference(
                "excluded_msisdns",
                "recent winners only",
                mask(unexpected[0]),
                f"{len(unexpected)} excluded number(s) did not win recently",
            )
        )
    if cohort is not None:
        missed = sorted(known.intersection(cohort.msisdns.tolist()))
        if missed:
            diffs.append(
                _ledger_difference(
                    "excluded_msisdns",
                    mask(missed[0]),
                    "not excluded",
                    f"{len(missed)} recent winner(s) were left in the draw",
                )
            )
