"""The PostHog event contract: event names, uuid namespaces and the draw-result payloads.

One place for what drawkit writes into PostHog (and, with the same payloads, into the
local results store), so both sources, the uploader and the audit agree on every name.
Property names of the promotion's own data (recharge event, amount...) live in the
promotion config (:class:`drawkit.config.PostHogNames`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from drawkit.msisdn import mask, normalize

# Events drawkit writes for a draw's result.
DRAW_COMPLETED = "draw_completed"
DRAW_WINNER = "draw_winner"
RESULT_EVENTS = (DRAW_COMPLETED, DRAW_WINNER)

# Monitoring events (sent as ``drawkit_<name>`` on the distinct id below).
MONITOR_PREFIX = "drawkit_"
MONITOR_EVENTS = ("cohort_built", "draw_committed", "draw_completed", "results_published")
DRAWKIT_DISTINCT_ID = "drawkit"

# uuid5 namespaces: recharges uploaded by drawkit, and drawkit's own result events.
RECHARGE_NAMESPACE = uuid.UUID("0b4c3a52-6c1e-5d8e-a7f4-3f1d9e2b6a10")
RESULT_NAMESPACE = uuid.UUID("6f1c2e0a-8d7b-5b3e-9c41-d2a7e0b3f915")


def recharge_uuid(transaction_id: str) -> str:
    """The uuid of an uploaded recharge event: a re-sent transaction records once."""
    return str(uuid.uuid5(RECHARGE_NAMESPACE, str(transaction_id)))


def person_uuid(msisdn: str) -> str:
    """The uuid of the ``$set`` event that creates an uploaded subscriber's person."""
    return str(uuid.uuid5(RECHARGE_NAMESPACE, "person/" + msisdn))


def result_uuid(draw_id: str, *parts: object) -> str:
    """Deterministic uuid5 of a result event, so a retried publish records once."""
    name = "/".join([draw_id, *map(str, parts)])
    return str(uuid.uuid5(RESULT_NAMESPACE, name))


def completed_uuid(draw_id: str) -> str:
    """The uuid of a draw's ``draw_completed`` summary event."""
    return result_uuid(draw_id, DRAW_COMPLETED)


def winner_uuid(draw_id: str, tier: str, role: str, position: int) -> str:
    """The uuid of one ``draw_winner`` event (a winner or reserve of a tier)."""
    return result_uuid(draw_id, DRAW_WINNER, tier, role, position)


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
class DrawOutcome:
    """What a source records about a completed draw."""

    draw_id: str
    draw_date: date
    promotion: str
    cohort_digest: str
    participants: int
    total_entries: int
    record_hash: str
    winners: tuple[PublishedWinner, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ResultEvent:
    """One event of a draw's result: name, whose it is, its uuid and properties."""

    event: str
    distinct_id: str
    uuid: str
    properties: dict[str, Any]


def result_events(outcome: DrawOutcome) -> list[ResultEvent]:
    """``draw_completed`` then one ``draw_winner`` per winner or reserve, in draw order.
    Winner events belong to the winner's person (full E.164 number as distinct id) and
    carry only the masked number as a property."""
    common = {
        "draw_id": outcome.draw_id,
        "promotion": outcome.promotion,
        "draw_date": outcome.draw_date.isoformat(),
    }
    events = [
        ResultEvent(
            DRAW_COMPLETED,
            DRAWKIT_DISTINCT_ID,
            completed_uuid(outcome.draw_id),
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
                normalize(w.msisdn),
                winner_uuid(outcome.draw_id, w.tier, w.role, w.position),
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
    return events
