"""The PostHog event contract: event names, uuids, the draw-result payloads and their
signatures.

One place for what drawkit writes into PostHog (and, with the same payloads, into the
local results store), so both sources, the uploader and the audit agree on every name.
Property names of the promotion's own data (recharge event, amount...) live in the
promotion config (:class:`drawkit.config.PostHogNames`).

PostHog's project key is public by design: anyone can capture events into the project.
So a draw's result events are **signed** (Ed25519, the operator's key from
``DRAWKIT_SIGNING_KEY``; its public key is recorded in the draw's commitment) and their
uuids are **keyed** (HMAC with a key derived from the signing key): the operator
recomputes them, nobody else can predict them. See docs/draw-spec.md, 'Signed results'.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from drawkit.config import SIGNING_KEY_ENV
from drawkit.errors import ConfigError
from drawkit.msisdn import mask, normalize

# Events drawkit writes for a draw's result.
DRAW_COMPLETED = "draw_completed"
DRAW_WINNER = "draw_winner"
RESULT_EVENTS = (DRAW_COMPLETED, DRAW_WINNER)
# What happened after the draw (a ledger event entry: unreachable, disqualified, claimed,
# promoted, unfilled, note), one event per entry.
DRAW_EVENT = "draw_event"
# The ledger head when a draw's results were published (anchors the ledger's tail).
LEDGER_HEAD = "draw_ledger_head"
SIGNED_EVENTS = (*RESULT_EVENTS, DRAW_EVENT, LEDGER_HEAD)
REASON_LIMIT = 200  # characters of a draw event's reason that are published

# Monitoring events (sent as ``drawkit_<name>`` on the distinct id below).
MONITOR_PREFIX = "drawkit_"
MONITOR_EVENTS = ("cohort_built", "draw_committed", "draw_completed", "results_published")
DRAWKIT_DISTINCT_ID = "drawkit"

# uuid5 namespace of the recharges uploaded by drawkit (public data: predictable is fine).
RECHARGE_NAMESPACE = uuid.UUID("0b4c3a52-6c1e-5d8e-a7f4-3f1d9e2b6a10")

# Signing (docs/draw-spec.md, 'Signed results'); the key comes from SIGNING_KEY_ENV.
SIGNATURE = "signature"  # property: hex Ed25519 signature (64 bytes)
SIGNER = "signer_key_id"  # property: the signing key's id (key_id of its public key)
SIGNATURE_TAG = b"drawkit-result/1\n"
UUID_KEY_INFO = b"drawkit-result-uuids/1"
KEY_ID_HEX = 32  # hex digits of SHA-256(public key) that name a key
_E164 = re.compile(r"^\+234[0-9]{10}$")  # a record's numbers are E.164 already


def canonical_json(data: Any) -> bytes:
    """The byte form hashed and signed: sorted keys, no spaces, UTF-8 (docs/draw-spec.md,
    section 8.2)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def recharge_uuid(transaction_id: str) -> str:
    """The uuid of an uploaded recharge event: a re-sent transaction records once."""
    return str(uuid.uuid5(RECHARGE_NAMESPACE, str(transaction_id)))


def person_uuid(msisdn: str) -> str:
    """The uuid of the ``$set`` event that creates an uploaded subscriber's person."""
    return str(uuid.uuid5(RECHARGE_NAMESPACE, "person/" + msisdn))


# ------------------------------------------------------------------ the signing key


def key_id(public_key: str) -> str:
    """A public key's id: the first 32 hex digits of SHA-256 of its 32 raw bytes."""
    return hashlib.sha256(bytes.fromhex(public_key)).hexdigest()[:KEY_ID_HEX]


class ResultSigner:
    """The operator's Ed25519 result-signing key: signs result events and keys their uuids.

    Build it with :meth:`from_text` (the environment's ``DRAWKIT_SIGNING_KEY``: 64 hex
    digits or a PEM block) or :meth:`generate` (a throwaway key: scratch explorations,
    the demo, tests). Its repr and errors never show the key.
    """

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        seed = private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self._uuid_key = HKDF(hashes.SHA256(), 32, salt=None, info=UUID_KEY_INFO).derive(seed)
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = raw.hex()
        self.key_id = key_id(self.public_key)

    def __repr__(self) -> str:
        return f"ResultSigner(key_id={self.key_id!r})"

    @classmethod
    def generate(cls) -> ResultSigner:
        """A new random key (throwaway: it lives in this process only)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str, variable: str = SIGNING_KEY_ENV) -> ResultSigner:
        """The key written as 64 hex digits (the raw 32-byte private key) or as a PEM
        (PKCS#8) block; anything else is a ConfigError naming ``variable``."""
        value = (text or "").strip()
        wrong = (
            f"{variable} must hold the result signing key: an Ed25519 private key as 64 hex "
            "digits (e.g. python -c 'import secrets; print(secrets.token_hex(32))') or a PEM "
            "block"
        )
        if not value:
            raise ConfigError(f"{variable} is not set. {wrong}")
        if value.startswith("-----BEGIN"):
            try:
                key = serialization.load_pem_private_key(value.encode("ascii"), password=None)
            except (ValueError, TypeError, UnicodeEncodeError):
                raise ConfigError(wrong) from None
            if not isinstance(key, Ed25519PrivateKey):
                raise ConfigError(f"{variable} holds a PEM key that is not Ed25519. {wrong}")
            return cls(key)
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raise ConfigError(wrong) from None
        if len(raw) != 32:
            raise ConfigError(f"{variable} has {len(raw)} bytes, not 32. {wrong}")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def uuid(self, draw_id: str, *parts: object) -> str:
        """The keyed uuid of one result event: HMAC-SHA-256 under the uuid key of
        ``draw_id/part/...``, its first 16 bytes as a version-4 uuid."""
        name = "/".join([draw_id, *map(str, parts)]).encode("utf-8")
        digest = hmac.new(self._uuid_key, name, hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def sign(self, event: ResultEvent) -> ResultEvent:
        """``event`` with its signer's key id and its signature among its properties."""
        properties = {k: v for k, v in event.properties.items() if k != SIGNATURE}
        properties[SIGNER] = self.key_id
        unsigned = ResultEvent(event.event, event.distinct_id, event.uuid, properties)
        signature = self._key.sign(signed_message(unsigned)).hex()
        return ResultEvent(event.event, event.distinct_id, event.uuid,
                           {**properties, SIGNATURE: signature})


def completed_uuid(draw_id: str, *, key: ResultSigner) -> str:
    """The uuid of a draw's ``draw_completed`` summary event."""
    return key.uuid(draw_id, DRAW_COMPLETED)


def winner_uuid(draw_id: str, tier: str, role: str, position: int, *, key: ResultSigner) -> str:
    """The uuid of one ``draw_winner`` event (a winner or reserve of a tier)."""
    return key.uuid(draw_id, DRAW_WINNER, tier, role, position)


def head_uuid(draw_id: str, head: LedgerHead, *, key: ResultSigner) -> str:
    """The uuid of the ``draw_ledger_head`` event published with a draw's results."""
    return key.uuid(draw_id, LEDGER_HEAD, head.sequence, head.record_hash)


# ------------------------------------------------------------------ payloads


@dataclass(frozen=True)
class PublishedWinner:
    """One winner or reserve of a draw, as published (full MSISDN: the sink masks it)."""

    msisdn: str
    tier: str
    prize_value_ngn: int
    role: Literal["winner", "reserve"]
    position: int  # 1-based order within the tier and role, in draw order
    draw_order: int  # 1-based order across the whole draw
    entries: int
    ticket: int  # the winning ticket number r in [0, W)


@dataclass(frozen=True)
class LedgerHead:
    """The ledger's last entry: its sequence number and record hash."""

    sequence: int
    record_hash: str

    def format(self) -> str:
        """``<record hash> (entry N)``."""
        return f"{self.record_hash} (entry {self.sequence})"


@dataclass(frozen=True)
class PublishedDrawEvent:
    """One ledger event of a draw, as published: which entry, what happened and to whom
    (``msisdn`` None for an unfilled prize or a note; the sink masks it)."""

    sequence: int  # the ledger entry's sequence number
    entry_hash: str  # the ledger entry's record_hash
    kind: str  # unreachable, disqualified, claimed, promoted, unfilled or note
    tier: str
    msisdn: str | None = None
    role: str | None = None  # of the winner or reserve concerned
    position: int | None = None
    draw_order: int = 0  # of the winner or reserve concerned (0: none)
    prize_position: int | None = None  # promoted, unfilled: the prize concerned
    reason: str = ""


@dataclass(frozen=True)
class DrawOutcome:
    """What a source records about a completed draw (and, when given, the ledger head
    published with it)."""

    draw_id: str
    draw_date: date
    promotion: str
    cohort_digest: str
    participants: int
    total_entries: int
    record_hash: str
    winners: tuple[PublishedWinner, ...] = field(default_factory=tuple)
    ledger_head: LedgerHead | None = None
    events: tuple[PublishedDrawEvent, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ResultEvent:
    """One event of a draw's result: name, whose it is, its uuid and properties."""

    event: str
    distinct_id: str
    uuid: str
    properties: dict[str, Any]


def result_payloads(outcome: DrawOutcome) -> list[ResultEvent]:
    """The result events' content, unsigned and without uuids (what an auditor, who has
    no key, expects): ``draw_completed`` then one ``draw_winner`` per winner or reserve,
    in draw order, then one ``draw_event`` per ledger event of the draw, in ledger order.
    Events about a winner or reserve belong to that person (full E.164 number as distinct
    id) and carry only the masked number as a property."""
    common = _common(outcome)
    events = [
        ResultEvent(
            DRAW_COMPLETED,
            DRAWKIT_DISTINCT_ID,
            "",
            {
                **common,
                "draw_order": 0,
                "cohort_digest": outcome.cohort_digest,
                "participants": outcome.participants,
                "total_entries": outcome.total_entries,
                "record_hash": outcome.record_hash,
                "winners": len(outcome.winners),
            },
        )
    ]
    for w in outcome.winners:
        events.append(
            ResultEvent(
                DRAW_WINNER,
                w.msisdn if _E164.match(w.msisdn) else normalize(w.msisdn),
                "",
                {
                    **common,
                    "tier": w.tier,
                    "prize_value_ngn": w.prize_value_ngn,
                    "role": w.role,
                    "position": w.position,
                    "draw_order": w.draw_order,
                    "entries": w.entries,
                    "ticket": w.ticket,
                    "msisdn_masked": mask(w.msisdn),
                },
            )
        )
    events += [_draw_event_payload(common, e) for e in outcome.events]
    return events


def _draw_event_payload(common: dict[str, Any], e: PublishedDrawEvent) -> ResultEvent:
    from drawkit.redact import redact

    optional = {"role": e.role, "position": e.position, "prize_position": e.prize_position}
    properties = {
        **common,
        "kind": e.kind,
        "ledger_sequence": e.sequence,
        "ledger_entry_hash": e.entry_hash,
        "tier": e.tier,
        "draw_order": e.draw_order,
        **{k: v for k, v in optional.items() if v is not None},
        "reason": redact(e.reason)[:REASON_LIMIT],
    }
    if e.msisdn is None:
        return ResultEvent(DRAW_EVENT, DRAWKIT_DISTINCT_ID, "", properties)
    number = e.msisdn if _E164.match(e.msisdn) else normalize(e.msisdn)
    return ResultEvent(DRAW_EVENT, number, "", {**properties, "msisdn_masked": mask(number)})


def result_events(outcome: DrawOutcome, signer: ResultSigner) -> list[ResultEvent]:
    """The result events as published: :func:`result_payloads` with keyed uuids, each
    signed by ``signer``."""
    signed = []
    for event in result_payloads(outcome):
        slot = event_slot(event)
        keyed = ResultEvent(event.event, event.distinct_id,
                            signer.uuid(outcome.draw_id, *slot), event.properties)
        signed.append(signer.sign(keyed))
    return signed


def ledger_head_event(outcome: DrawOutcome, signer: ResultSigner) -> ResultEvent | None:
    """The signed ``draw_ledger_head`` event of ``outcome.ledger_head`` (None without one)."""
    head = outcome.ledger_head
    if head is None:
        return None
    properties = {**_common(outcome), "ledger_sequence": head.sequence,
                  "ledger_head": head.record_hash}
    event = ResultEvent(LEDGER_HEAD, DRAWKIT_DISTINCT_ID,
                        head_uuid(outcome.draw_id, head, key=signer), properties)
    return signer.sign(event)


def _common(outcome: DrawOutcome) -> dict[str, Any]:
    return {
        "draw_id": outcome.draw_id,
        "promotion": outcome.promotion,
        "draw_date": outcome.draw_date.isoformat(),
    }


def event_slot(event: ResultEvent) -> tuple[object, ...]:
    """Which part of a draw's result an event claims to be: ``(draw_completed,)``,
    ``(draw_winner, tier, role, position)``, ``(draw_event, ledger sequence)`` or
    ``(draw_ledger_head, sequence, head)``."""
    p = event.properties
    if event.event == DRAW_WINNER:
        return (DRAW_WINNER, p.get("tier"), p.get("role"), p.get("position"))
    if event.event == DRAW_EVENT:
        return (DRAW_EVENT, p.get("ledger_sequence"))
    if event.event == LEDGER_HEAD:
        return (LEDGER_HEAD, p.get("ledger_sequence"), p.get("ledger_head"))
    return (event.event,)


# ------------------------------------------------------------------ signatures


def signed_content(event: ResultEvent) -> dict[str, Any]:
    """What the signature covers: event name, distinct id, uuid and every property except
    the signature itself and those PostHog owns (names starting with ``$``)."""
    return {
        "event": event.event,
        "distinct_id": event.distinct_id,
        "uuid": event.uuid,
        "properties": {k: v for k, v in event.properties.items()
                       if not str(k).startswith("$") and k != SIGNATURE},
    }


def signed_message(event: ResultEvent) -> bytes:
    """The bytes signed: ``drawkit-result/1\\n`` then the canonical JSON of
    :func:`signed_content`."""
    return SIGNATURE_TAG + canonical_json(signed_content(event))


def verify_event(event: ResultEvent, public_key: str | None) -> str | None:
    """None when ``event`` carries a valid signature by ``public_key`` (hex, 32 bytes);
    otherwise why not, in a few words."""
    if public_key is None:
        return "cannot be authenticated: the draw's commitment names no result signing key"
    try:
        verifier = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
    except ValueError:
        return "cannot be authenticated: the commitment's result key is malformed"
    signature = event.properties.get(SIGNATURE)
    if signature is None:
        return "unsigned"
    try:
        raw = bytes.fromhex(signature) if isinstance(signature, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 64:
        return "its signature is malformed"
    wanted = key_id(public_key)
    if event.properties.get(SIGNER) != wanted:
        return f"not signed by the draw's result key (key id {wanted})"
    try:
        verifier.verify(raw, signed_message(event))
    except InvalidSignature:
        return "its signature does not verify under the draw's result key"
    return None


def same_event(a: ResultEvent, b: ResultEvent) -> bool:
    """Equal as published: name, distinct id, uuid and every property PostHog does not own."""
    return signed_content(a) == signed_content(b) and (
        a.properties.get(SIGNATURE) == b.properties.get(SIGNATURE)
    )


def distinct_events(events: Iterable[ResultEvent]) -> list[ResultEvent]:
    """``events`` without exact copies (one uuid stored twice until PostHog merges it)."""
    seen: set[bytes] = set()
    kept = []
    for event in events:
        content = canonical_json({**signed_content(event),
                                  SIGNATURE: event.properties.get(SIGNATURE)})
        if content not in seen:
            seen.add(content)
            kept.append(event)
    return kept


def event_label(event: ResultEvent) -> str:
    """A published event named for people: what it claims to be and its uuid (numbers
    masked, its text cut short: an attacker chose it)."""
    from drawkit.redact import redact

    p = event.properties
    uid = _short(event.uuid, 40)
    if event.event == DRAW_WINNER:
        what = (f"draw_winner {_short(p.get('tier'))} {_short(p.get('role'))} "
                f"{_short(p.get('position'))} ({mask(event.distinct_id)}")
        return redact(f"{what}, uuid {uid})")
    if event.event == DRAW_EVENT:
        return redact(f"draw_event {_short(p.get('kind'))} entry "
                      f"{_short(p.get('ledger_sequence'))} (uuid {uid})")
    if event.event == LEDGER_HEAD:
        return redact(f"draw_ledger_head entry {_short(p.get('ledger_sequence'))} (uuid {uid})")
    return redact(f"{_short(event.event)} (uuid {uid})")


def _short(value: object, limit: int = 30) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class PublishedCheck:
    """What a source holds for a draw, compared with the events it should hold:
    ``recorded`` the uuids published exactly as expected (signature included), ``forged``
    every other published event of the draw, named, with why it is not the real one."""

    recorded: frozenset[str]
    forged: tuple[str, ...]


def check_published(
    expected: Sequence[ResultEvent], published: Iterable[ResultEvent], public_key: str
) -> PublishedCheck:
    """Compare a source's published events of a draw with the signed events expected.

    An expected event is recorded only when a published copy is identical to it (a
    signature of the draw's key over the same content). Any other published event is a
    forgery unless it is an earlier ledger head signed by the draw's key."""
    wanted = {e.uuid: e for e in expected}
    recorded: set[str] = set()
    forged: list[str] = []
    for event in distinct_events(published):
        mine = wanted.get(event.uuid)
        if mine is not None and same_event(event, mine):
            recorded.add(event.uuid)
            continue
        problem = verify_event(event, public_key)
        if problem is None:
            if event.event == LEDGER_HEAD:
                continue  # an earlier publish's head: signed, and a head only grows
            problem = "signed by the draw's key, but it is not this record's result"
        forged.append(f"{event_label(event)}: {problem}")
    return PublishedCheck(frozenset(recorded), tuple(forged))
