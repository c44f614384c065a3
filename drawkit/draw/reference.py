"""A plain-Python reference of the draw spec, for auditors and for tests.

Deliberately naive (O(n) per pick, no numpy, nothing imported from the engine): it follows
docs/draw-spec.md step by step, using only ``hashlib``, ``hmac`` and ``json``. The tests
check that it and the fast engine give the same digests, seeds, words and winners, on the
spec's test vectors and on random cohorts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from typing import Any

VERSION_TAG = b"drawkit-draw/1"


def reference_digest(rows: Iterable[tuple[str, int]]) -> str:
    """SHA-256 over ``msisdn,entries\\n`` lines after sorting the rows by number."""
    text = "".join(f"{msisdn},{entries}\n" for msisdn, entries in sorted(rows))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reference_seed_material(
    draw_id: str, digest_hex: str, beacon: bytes | None, secret: bytes | None
) -> bytes:
    """len32(tag) tag len32(id) id len32(digest) digest, then 00 | 01 len32 value twice."""

    def field(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    def optional(data: bytes | None) -> bytes:
        return b"\x00" if data is None else b"\x01" + field(data)

    return (
        field(VERSION_TAG)
        + field(draw_id.encode("utf-8"))
        + field(bytes.fromhex(digest_hex))
        + optional(beacon)
        + optional(secret)
    )


def reference_seed(
    draw_id: str, digest_hex: str, beacon: bytes | None, secret: bytes | None
) -> bytes:
    """SHA-256 of the seed material."""
    return hashlib.sha256(reference_seed_material(draw_id, digest_hex, beacon, secret)).digest()


class ReferenceDrbg:
    """HMAC_DRBG (SHA-256) instantiated with entropy_input = seed, no nonce, no
    personalization; ``generate`` without additional input. SP 800-90A Rev. 1, 10.1.2."""

    def __init__(self, seed: bytes) -> None:
        self.key = bytes(32)
        self.value = b"\x01" * 32
        self._update(seed)

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self.key, data, hashlib.sha256).digest()

    def _update(self, provided: bytes) -> None:
        self.key = self._mac(self.value + b"\x00" + provided)
        self.value = self._mac(self.value)
        if provided:
            self.key = self._mac(self.value + b"\x01" + provided)
            self.value = self._mac(self.value)

    def generate(self, num_bytes: int) -> bytes:
        """``num_bytes`` output bytes, then the state update."""
        out = b""
        while len(out) < num_bytes:
            self.value = self._mac(self.value)
            out += self.value
        self._update(b"")
        return out[:num_bytes]

    def word(self) -> int:
        """One 64-bit word: an 8-byte generate call read big-endian."""
        return int.from_bytes(self.generate(8), "big")


def reference_next_below(drbg: ReferenceDrbg, n: int) -> tuple[int, int]:
    """Rejection sampling of one integer in [0, n); returns it and the words used."""
    limit = 2**64 - (2**64 % n)
    words = 0
    while True:
        word = int.from_bytes(drbg.generate(8), "big")
        words += 1
        if word < limit:
            return word % n, words


def reference_select(entries: list[int], count: int, seed: bytes) -> list[tuple[int, int, int]]:
    """The first ``count`` picks as (index, ticket, tickets in play) from a fresh DRBG."""
    drbg = ReferenceDrbg(seed)
    in_play = list(range(len(entries)))
    picks = []
    for _ in range(count):
        total = sum(entries[i] for i in in_play)
        ticket, _words = reference_next_below(drbg, total)
        passed = 0
        for position, index in enumerate(in_play):
            passed += entries[index]
            if ticket < passed:
                picks.append((index, ticket, total))
                del in_play[position]
                break
    return picks


def reference_slots(prizes: Sequence[tuple[str, int, int]]) -> list[tuple[str, str, int]]:
    """(tier, role, position) per pick from (name, count, reserves) tiers in config order:
    every tier's winners, then reserve 1 of every tier, reserve 2 of every tier, ..."""
    slots = [(name, "winner", i) for name, count, _ in prizes for i in range(1, count + 1)]
    most = max((reserves for _, _, reserves in prizes), default=0)
    for j in range(1, most + 1):
        slots += [(name, "reserve", j) for name, _, reserves in prizes if reserves >= j]
    return slots


def reference_draw(
    rows: Iterable[tuple[str, int]],
    prizes: Sequence[tuple[str, int, int]],
    draw_id: str,
    beacon: bytes | None,
    secret: bytes | None,
) -> dict[str, Any]:
    """A whole draw from its inputs: digest, seed, and every pick with its slot."""
    cohort = sorted(rows)
    digest = reference_digest(cohort)
    seed = reference_seed(draw_id, digest, beacon, secret)
    slots = reference_slots(prizes)
    entries = [e for _, e in cohort]
    picks = reference_select(entries, min(len(slots), len(cohort)), seed)
    return {
        "cohort_digest": digest,
        "seed": seed.hex(),
        "picks": [
            {
                "draw_order": order,
                "tier": tier,
                "role": role,
                "position": position,
                "msisdn": cohort[index][0],
                "entries": cohort[index][1],
                "ticket": ticket,
                "tickets_in_play": total,
            }
            for order, ((tier, role, position), (index, ticket, total)) in enumerate(
                zip(slots, picks, strict=False), start=1
            )
        ],
    }


def reference_entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of a ledger entry's canonical JSON without its ``record_hash`` key."""
    body = {k: v for k, v in entry.items() if k != "record_hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
