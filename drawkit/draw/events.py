"""Events after a draw: unreachable or disqualified winners, reserve promotion, claims.

Nothing is redrawn: a winner who drops out is replaced by the next unused reserve of the
same tier, in reserve order, and both facts are appended to the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drawkit.contract import PublishedDrawEvent
from drawkit.draw.ledger import Ledger
from drawkit.draw.record import DrawRecord, Winner
from drawkit.errors import DrawError, LedgerError

DROP_OUTS = ("unreachable", "disqualified")


@dataclass(frozen=True)
class Standing:
    """Who holds each prize now, after the ledger's events."""

    holders: dict[tuple[str, int], Winner]  # (tier, prize position) -> winner or reserve
    dropped: tuple[Winner, ...]
    unused_reserves: dict[str, tuple[Winner, ...]]
    claimed: frozenset[tuple[str, str, int]]  # (tier, role, position)


def standing(record: DrawRecord, events: list[dict[str, Any]]) -> Standing:
    """Replay the events of one draw over its record."""
    holders = {(w.tier, w.position): w for w in record.winners if w.role == "winner"}
    reserves = {p.name: list(record.winners_of(p.name, "reserve")) for p in record.prizes}
    dropped: list[Winner] = []
    claimed: set[tuple[str, str, int]] = set()
    for event in events:
        d = event.get("details", {})
        kind = event.get("event")
        if kind in DROP_OUTS:
            dropped.append(_find(record, d["tier"], d["role"], d["position"]))
        elif kind == "promoted":
            reserve = _find(record, d["tier"], "reserve", d["reserve_position"])
            holders[(d["tier"], d["prize_position"])] = reserve
            reserves[d["tier"]] = [r for r in reserves[d["tier"]] if r.position != reserve.position]
        elif kind == "claimed":
            claimed.add((d["tier"], d["role"], d["position"]))
    dropped_keys = {(w.tier, w.role, w.position) for w in dropped}
    unused = {
        tier: tuple(r for r in rs if (r.tier, r.role, r.position) not in dropped_keys)
        for tier, rs in reserves.items()
    }
    return Standing(holders, tuple(dropped), unused, frozenset(claimed))


def published_events(
    record: DrawRecord, entries: list[dict[str, Any]]
) -> tuple[PublishedDrawEvent, ...]:
    """The ledger's event entries of ``record``'s draw as the draw events published with
    its result (who each one concerns, from the record)."""
    return tuple(_published(record, entry) for entry in entries
                 if entry.get("draw_id") == record.draw_id)


def _published(record: DrawRecord, entry: dict[str, Any]) -> PublishedDrawEvent:
    d, kind = entry.get("details") or {}, str(entry.get("event"))
    person = _concerned(record, kind, d)
    prize = d.get("prize_position")
    return PublishedDrawEvent(
        sequence=int(entry["sequence"]),
        entry_hash=str(entry["record_hash"]),
        kind=kind,
        tier=str(d.get("tier") or ""),
        msisdn=person.msisdn if person else None,
        role=person.role if person else None,
        position=person.position if person else None,
        draw_order=person.draw_order if person else 0,
        prize_position=int(prize) if prize is not None else None,
        reason=str(d.get("reason") or ""),
    )


def _concerned(record: DrawRecord, kind: str, details: dict[str, Any]) -> Winner | None:
    """The winner or reserve an event is about (None for unfilled prizes and notes)."""
    if kind == "promoted":
        return _find(record, str(details["tier"]), "reserve", int(details["reserve_position"]))
    if "role" in details and "position" in details:
        return _find(record, str(details["tier"]), str(details["role"]),
                     int(details["position"]))
    return None


def record_event(
    ledger: Ledger,
    draw_id: str,
    kind: str,
    *,
    tier: str | None = None,
    position: int,
    role: str = "winner",
    reason: str = "",
) -> list[dict[str, Any]]:
    """Append ``kind`` (unreachable, disqualified or claimed) for one winner or reserve.

    A drop-out of a current prize holder promotes the next unused reserve of the tier
    (or appends 'unfilled' when none is left). Returns the entries appended.
    """
    if kind not in (*DROP_OUTS, "claimed"):
        raise DrawError(f"unknown event {kind!r}: use unreachable, disqualified or claimed")
    with ledger.lock():
        record = ledger.get(draw_id)
        if record is None:
            raise LedgerError(f"no draw {draw_id!r} in ledger {ledger.path}")
        tier = tier or record.prizes[0].name
        person = _find(record, tier, role, position)
        now = standing(record, ledger.events(draw_id))
        key = (tier, role, position)
        if any((w.tier, w.role, w.position) == key for w in now.dropped):
            raise DrawError(f"{tier} {role} {position} already dropped out of draw {draw_id}")
        details = {"tier": tier, "role": role, "position": position, "reason": reason}
        appended = [ledger.append_event(draw_id, kind, details)]
        prize = _prize_held_by(now, person)
        if kind in DROP_OUTS and prize is not None:
            appended.append(_promote(ledger, draw_id, now, tier, prize))
        return appended


def _promote(
    ledger: Ledger, draw_id: str, now: Standing, tier: str, prize_position: int
) -> dict[str, Any]:
    left = now.unused_reserves.get(tier, ())
    if not left:
        return ledger.append_event(
            draw_id, "unfilled", {"tier": tier, "prize_position": prize_position}
        )
    reserve = left[0]
    return ledger.append_event(
        draw_id,
        "promoted",
        {
            "tier": tier,
            "prize_position": prize_position,
            "reserve_position": reserve.position,
            "draw_order": reserve.draw_order,
        },
    )


def _prize_held_by(now: Standing, person: Winner) -> int | None:
    for (tier, prize_position), holder in now.holders.items():
        if holder == person and tier == person.tier:
            return prize_position
    return None


def _find(record: DrawRecord, tier: str, role: str, position: int) -> Winner:
    for w in record.winners:
        if w.tier == tier and w.role == role and w.position == position:
            return w
    raise DrawError(f"draw {record.draw_id} has no {tier!r} {role} at position {position}")
