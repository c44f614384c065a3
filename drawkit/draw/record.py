"""The draw record and the commitment: frozen, JSON round-trippable, hash-chained.

Every ledger entry is a JSON object whose ``record_hash`` is SHA-256 over its canonical
JSON without that field (keys sorted, no spaces, UTF-8); ``previous_record_hash`` links
it to the entry before it. See docs/draw-spec.md, 'Record' and 'Ledger'.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime
from types import NoneType, UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from drawkit.contract import (
    DrawOutcome,
    LedgerHead,
    PublishedDrawEvent,
    PublishedWinner,
    canonical_json,
    key_id,
)
from drawkit.errors import LedgerError
from drawkit.msisdn import mask

Role = Literal["winner", "reserve"]


def entry_hash(data: dict[str, Any]) -> str:
    """SHA-256 (hex) of an entry's canonical JSON without its own ``record_hash``."""
    body = {k: v for k, v in data.items() if k != "record_hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class Winner:
    """One winner or reserve, in draw order; ``ticket`` is r of ``total_tickets_at_pick``."""

    tier: str
    role: Role
    position: int  # 1-based within the tier and role
    draw_order: int  # 1-based across the whole draw
    msisdn: str
    entries: int
    ticket: int
    total_tickets_at_pick: int


@dataclass(frozen=True)
class Prize:
    """A prize tier as drawn: how many winners and reserves it asked for."""

    name: str
    value_ngn: int
    count: int
    reserves: int


@dataclass(frozen=True)
class Shortfall:
    """A tier and role that could not be filled (fewer participants than places)."""

    tier: str
    role: Role
    wanted: int
    drawn: int


@dataclass(frozen=True)
class BeaconChain:
    """The drand chain a beacon round belongs to, as the record keeps it: every parameter
    an offline verifier needs (its hash authenticates the rest, docs/beacon.md)."""

    hash: str
    public_key: str  # hex, G2 compressed (96 bytes)
    period: int  # seconds
    genesis_time: int  # unix seconds; round r is published at genesis + (r - 1) * period
    group_hash: str
    scheme: str
    beacon_id: str

    def published_at(self, round_number: int) -> datetime:
        """When ``round_number`` is published on this chain."""
        return datetime.fromtimestamp(self.genesis_time + (round_number - 1) * self.period, UTC)


@dataclass(frozen=True)
class BeaconEvidence:
    """An authenticated beacon round as the draw receives it (see drawkit.beacon)."""

    round: int
    signature: str
    randomness: bytes
    chain: BeaconChain
    relay: str | None = None


@dataclass(frozen=True)
class Commitment:
    """What was fixed before the randomness: cohort digest, beacon round, secret hash."""

    draw_id: str
    promotion: str
    draw_date: str  # ISO date
    cohort_digest: str
    participants: int
    total_entries: int
    beacon_round: int | None
    beacon_chain: str | None  # the drand chain's hash the round belongs to
    secret_commitment: str | None  # SHA-256 hex of the operator secret
    operator_randomness: bool  # the operator opted in to a draw on their secret alone
    commit_margin_seconds: int  # the round is published at least this long after committed_at
    committed_at: str  # ISO 8601 UTC
    made_at_draw: bool  # True when no commitment preceded the draw
    result_public_key: str | None = None  # hex Ed25519 key that signs the published results
    sequence: int = 0
    previous_record_hash: str | None = None
    record_hash: str = ""
    kind: str = "commitment"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the ledger entry)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Commitment:
        """Build from a ledger entry; an error names a missing or unknown field."""
        return _build(cls, data, "commitment")

    @property
    def ledger_head_before(self) -> str | None:
        """The ledger head when this commitment was made: the record hash of the entry
        before it (``previous_record_hash``; None for a ledger's first entry)."""
        return self.previous_record_hash

    @property
    def ledger_head(self) -> LedgerHead:
        """The ledger head this commitment made: its own entry."""
        return LedgerHead(self.sequence, self.record_hash)

    def announcement(self) -> str:
        """What the operator publishes (and gives the witness) before the draw: the
        commitment, the key that will sign the results, and the ledger head it made."""
        beacon_round = self.beacon_round if self.beacon_round is not None else "none"
        key = (f"{self.result_public_key} (key id {key_id(self.result_public_key)})"
               if self.result_public_key else "none")
        lines = [
            f"Draw {self.draw_id} ({self.promotion}, draw date {self.draw_date})",
            f"  committed at        {self.committed_at}",
            f"  cohort digest       {self.cohort_digest}",
            f"  participants        {self.participants:,}",
            f"  total entries       {self.total_entries:,}",
            f"  beacon round        {beacon_round}",
            f"  beacon chain        {self.beacon_chain or 'none'}",
            f"  secret commitment   {self.secret_commitment or 'none'}",
            f"  result signing key  {key}",
            f"  ledger head before  {self.previous_record_hash or 'none (first entry)'}",
            f"  ledger entry hash   {self.record_hash}",
            f"  ledger head now     {self.ledger_head.format()}",
            "  (publish the ledger head: `drawkit ledger verify --head HASH` proves later that "
            "no entry up to it was removed or rewritten)",
        ]
        if self.beacon_round is None:
            lines.append(
                "  WARNING: operator-chosen randomness: no public beacon; the operator could "
                "try secrets until an outcome suits them. The audit never passes this draw."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class DrawRecord:
    """Everything about one draw: inputs, randomness, winners, and its place in the ledger."""

    draw_id: str
    promotion: str
    permit: str | None
    draw_date: str
    timezone: str
    window_start: str | None
    window_cutoff: str
    cohort_digest: str
    participants: int
    total_entries: int
    exclusions: dict[str, int]
    recent_winner_days: int  # winners of the last N days were excluded (0: none)
    excluded_msisdns: tuple[str, ...]
    commitment: Commitment
    beacon_round: int | None
    beacon_value: str | None  # hex randomness = SHA-256(beacon_signature)
    beacon_signature: str | None  # hex BLS signature of the round (G1, 48 bytes)
    beacon_chain: BeaconChain | None
    beacon_relay: str | None  # where drawkit fetched the round (a transport, not trusted)
    secret: str | None
    randomness: str
    seed: str
    first_words: tuple[str, ...]
    spec_version: str
    algorithm: dict[str, str]
    drawkit_version: str
    prizes: tuple[Prize, ...]
    award_partial: bool
    shortfall: tuple[Shortfall, ...]
    winners: tuple[Winner, ...]
    created_at: str
    sequence: int = 0
    previous_record_hash: str | None = None
    record_hash: str = ""
    kind: str = "draw"

    # ---------------------------------------------------------------- conversions

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the ledger entry); sequences become lists."""
        return json.loads(json.dumps(asdict(self)))

    def to_json(self, indent: int | None = 2) -> str:
        """The record as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DrawRecord:
        """Build from a ledger entry or record file; an error names a bad field."""
        return _build(cls, data, "draw record")

    @classmethod
    def from_json(cls, text: str) -> DrawRecord:
        """Parse a record written by :meth:`to_json` (or a ledger entry file)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LedgerError(f"draw record is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("kind") != "draw":
            raise LedgerError("this JSON is not a draw record (kind is not 'draw')")
        return cls.from_dict(data)

    # ---------------------------------------------------------------- views

    @property
    def date(self) -> date:
        """The draw date as a ``date``."""
        return date.fromisoformat(self.draw_date)

    def computed_hash(self) -> str:
        """The hash this record's content gives (equals ``record_hash`` if untouched)."""
        return entry_hash(self.to_dict())

    def public(self) -> DrawRecord:
        """A copy safe to publish: every phone number masked (the hashes stay the private
        record's, so the public copy itself does not re-hash to ``record_hash``)."""
        return replace(
            self,
            winners=tuple(replace(w, msisdn=mask(w.msisdn)) for w in self.winners),
            excluded_msisdns=tuple(mask(m) for m in self.excluded_msisdns),
        )

    @property
    def is_public(self) -> bool:
        """True for the published copy (numbers masked); verify then takes the full numbers
        from the participants file and checks they hash to ``record_hash``."""
        return any("*" in w.msisdn for w in self.winners) or any(
            "*" in m for m in self.excluded_msisdns
        )

    def prize(self, tier: str) -> Prize:
        """The prize tier called ``tier``."""
        for prize in self.prizes:
            if prize.name == tier:
                return prize
        raise KeyError(tier)

    def winners_of(self, tier: str, role: Role = "winner") -> tuple[Winner, ...]:
        """Winners (or reserves) of one tier in position order."""
        return tuple(w for w in self.winners if w.tier == tier and w.role == role)

    def to_outcome(
        self,
        ledger_head: LedgerHead | None = None,
        events: tuple[PublishedDrawEvent, ...] = (),
    ) -> DrawOutcome:
        """The structure a data source records (full numbers; the source masks them),
        with the draw's later events and the ledger head to publish alongside."""
        values = {p.name: p.value_ngn for p in self.prizes}
        winners = tuple(
            PublishedWinner(
                msisdn=w.msisdn,
                tier=w.tier,
                prize_value_ngn=values[w.tier],
                role=w.role,
                position=w.position,
                draw_order=w.draw_order,
                entries=w.entries,
                ticket=w.ticket,
            )
            for w in self.winners
        )
        return DrawOutcome(
            draw_id=self.draw_id,
            draw_date=self.date,
            promotion=self.promotion,
            cohort_digest=self.cohort_digest,
            participants=self.participants,
            total_entries=self.total_entries,
            record_hash=self.record_hash,
            winners=winners,
            ledger_head=ledger_head,
            events=events,
        )

    def summary(self) -> str:
        """Printable summary with masked numbers."""
        lines = [
            f"Draw {self.draw_id} — {self.promotion}, draw date {self.draw_date}",
            f"  participants {self.participants:,}, total entries {self.total_entries:,}",
            f"  cohort digest {self.cohort_digest}",
            f"  randomness: {self.randomness}; seed {self.seed}",
        ]
        if self.exclusions:
            parts = ", ".join(f"{k} {v:,}" for k, v in sorted(self.exclusions.items()))
            lines.append(f"  exclusions: {parts}")
        for w in self.winners:
            lines.append(
                f"  #{w.draw_order:>3} {w.tier} {w.role} {w.position}: {_shown(w.msisdn)} "
                f"({w.entries:,} entries) ticket {w.ticket:,} of {w.total_tickets_at_pick:,}"
            )
        for s in self.shortfall:
            lines.append(f"  SHORT: {s.tier} {s.role}s: {s.drawn} of {s.wanted} drawn")
        lines.append(f"  record hash {self.record_hash}")
        return "\n".join(lines)


def _shown(msisdn: str) -> str:
    """A number masked for display; one already masked (a public copy) stays as it is."""
    return msisdn if "*" in msisdn else mask(msisdn)


# Fields whose text has a fixed format, checked when a record or commitment is read.
_HEX_FIELDS = {
    "cohort_digest", "seed", "secret", "beacon_value", "beacon_signature", "secret_commitment",
    "record_hash", "previous_record_hash", "hash", "public_key", "group_hash",
    "result_public_key",
}
_DATE_FIELDS = {"draw_date"}
_TIME_FIELDS = {"committed_at", "created_at"}
_HEX = re.compile(r"(?:[0-9a-f]{2})+")


def _build(cls: type, data: Any, what: str) -> Any:
    """An instance of dataclass ``cls`` from JSON data, every field checked against its type
    hint (nested records, tuples, dicts, literals) and format; errors name the field."""
    if not isinstance(data, dict):
        raise LedgerError(f"{what} must be a JSON object, not {type(data).__name__}")
    values = _known_fields(cls, data, what)
    hints = get_type_hints(cls)
    return cls(**{name: _typed(hints[name], value, f"{what}: {name}") for name, value in
                  values.items()})


def _typed(hint: Any, value: Any, where: str) -> Any:
    """``value`` converted to ``hint`` (lists to tuples, dicts to dataclasses) or LedgerError."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):
        if value is None and NoneType in args:
            return None
        (inner,) = [a for a in args if a is not NoneType]
        return _typed(inner, value, where)
    if origin is Literal:
        if value not in args:
            raise LedgerError(f"{where} must be one of {', '.join(map(str, args))}, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise LedgerError(f"{where} must be a list")
        return tuple(_typed(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise LedgerError(f"{where} must be an object")
        return {str(k): _typed(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        return _build(hint, value, where)
    # The type is named, never the value: a phone number must not reach an error message.
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise LedgerError(f"{where} must be an integer, not {type(value).__name__}")
    if hint is not int and not isinstance(value, hint):
        raise LedgerError(f"{where} must be {hint.__name__}, not {type(value).__name__}")
    _check_format(where.rsplit(": ", 1)[-1], value, where)
    return value


def _check_format(name: str, value: Any, where: str) -> None:
    if name in _HEX_FIELDS:
        if not _HEX.fullmatch(value):
            raise LedgerError(
                f"{where} must be hexadecimal (lowercase, whole bytes), not {value!r}"
            )
    if name in _TIME_FIELDS:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise LedgerError(f"{where} must be an ISO 8601 time, not {value!r}") from None
        if moment.tzinfo is None:
            raise LedgerError(f"{where} must carry its offset (UTC: +00:00), not {value!r}")
    if name in _DATE_FIELDS:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise LedgerError(f"{where} must be a date (YYYY-MM-DD), not {value!r}") from None


def _known_fields(cls: type, data: dict[str, Any], what: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    required = {
        f.name
        for f in fields(cls)
        if f.default is f.default_factory  # both MISSING: no default
    }
    unknown = set(data) - names
    if unknown:
        raise LedgerError(f"{what} has unknown field(s): {', '.join(sorted(unknown))}")
    missing = required - set(data)
    if missing:
        raise LedgerError(f"{what} lacks field(s): {', '.join(sorted(missing))}")
    return dict(data)
