"""A plain-Python reference of the draw spec, for auditors and for tests.

Deliberately naive (O(n) per pick, no numpy): it follows docs/draw-spec.md line by line,
and the tests check that it gives the same digests and winners as the fast engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from drawkit.draw.rng import HmacDrbg


def reference_digest(rows: Iterable[tuple[str, int]]) -> str:
    """SHA-256 over ``msisdn,entries\\n`` lines after sorting the rows by number."""
    text = "".join(f"{msisdn},{entries}\n" for msisdn, entries in sorted(rows))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reference_next_below(drbg: HmacDrbg, n: int) -> tuple[int, int]:
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
    drbg = HmacDrbg(seed)
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
