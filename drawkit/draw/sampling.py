"""Weighted sampling without replacement with integer tickets only.

Participant ``i`` owns ``entries[i]`` consecutive tickets in canonical order. Each pick
draws ``r`` uniformly in ``[0, W)`` where ``W`` is the number of tickets still in play,
numbers the remaining tickets ``0..W-1`` in canonical order (skipping the tickets of
earlier winners), and the owner of ticket ``r`` wins and leaves the draw. No float ever
decides a winner, and the picks are a prefix-stable sequence: asking for more never
changes earlier picks. See docs/draw-spec.md, 'Selection'.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from drawkit.errors import DrawError, NotEnoughParticipantsError


class TicketSource(Protocol):
    """What selection needs from a random generator (e.g. :class:`HmacDrbg`)."""

    def next_below_counted(self, n: int) -> tuple[int, int]: ...


@dataclass(frozen=True)
class Pick:
    """One pick: the participant's canonical index and the ticket that won.

    ``ticket`` is ``r`` in ``[0, total_tickets)`` among the tickets still in play;
    ``attempt`` is how many 64-bit words the pick consumed (1 + rejections).
    """

    index: int
    ticket: int
    attempt: int
    total_tickets: int


def select(entries: np.ndarray, count: int, rng: TicketSource) -> list[Pick]:
    """Draw ``count`` distinct participants, each in proportion to the entries left.

    Runs in O(n) once for the block sums of :class:`TicketIndex`, then O(k + log n +
    block) per pick: a winner's tickets are cut out as an interval, and ``r`` is mapped
    past the cut intervals.
    """
    entries = np.asarray(entries)
    if entries.ndim != 1 or not np.issubdtype(entries.dtype, np.integer):
        raise DrawError("entries must be a one-dimensional integer array")
    n = len(entries)
    if count < 0:
        raise DrawError(f"cannot draw a negative number of winners ({count})")
    if count > n:
        raise NotEnoughParticipantsError(f"cannot draw {count} winners from {n} participants")
    if count and int(entries.min()) < 1:
        raise DrawError("every participant needs at least 1 entry")
    tickets = TicketIndex(entries if count else entries[:0])
    remaining = tickets.total
    if count and int(entries.max()) > ((1 << 63) - 1) // n:
        exact = sum(int(x) for x in entries)  # only reached for huge entries
        if exact != remaining:
            raise DrawError(f"total entries {exact} overflow int64")
    cuts: list[tuple[int, int]] = []  # (first ticket, length) of winners, sorted
    picks: list[Pick] = []
    for _ in range(count):
        r, attempts = rng.next_below_counted(remaining)
        original = r
        for start, length in cuts:
            if original < start:
                break
            original += length
        index, end = tickets.owner(original)
        length = int(entries[index])
        bisect.insort(cuts, (end - length, length))
        picks.append(Pick(index, r, attempts, remaining))
        remaining -= length
    return picks


class TicketIndex:
    """Who owns ticket ``t`` when participant ``i`` holds ``entries[i]`` consecutive
    tickets: the prefix sums kept per block of :attr:`BLOCK` participants (one vectorised
    sum over the entries), each block's own prefix sums computed when a ticket falls in
    it. Exactly ``searchsorted(cumsum(entries), t, side="right")``, at a fifth of the
    cost of the full prefix sum at 10 M participants."""

    BLOCK = 4096

    def __init__(self, entries: np.ndarray, block: int = BLOCK) -> None:
        self.entries = entries
        self.block = block
        whole = len(entries) // block * block
        sums = entries[:whole].reshape(-1, block).sum(axis=1, dtype=np.int64)
        if whole < len(entries):
            sums = np.append(sums, entries[whole:].sum(dtype=np.int64))
        self.ends = np.cumsum(sums, dtype=np.int64)  # tickets up to each block's end
        self.total = int(self.ends[-1]) if len(self.ends) else 0

    def owner(self, ticket: int) -> tuple[int, int]:
        """The index of the participant holding ``ticket`` (0 <= ticket < total) and
        the number of tickets up to and including theirs."""
        b = int(np.searchsorted(self.ends, np.int64(ticket), side="right"))
        base = int(self.ends[b - 1]) if b else 0
        first = b * self.block
        local = np.cumsum(self.entries[first : first + self.block], dtype=np.int64) + base
        j = int(np.searchsorted(local, np.int64(ticket), side="right"))
        return first + j, int(local[j])
