"""The DrawDataSource interface every participant source implements.

A source answers three questions for a draw date: who is eligible and with how many
entries, how many entries one subscriber has, and where a draw's result is recorded.
The draw layer hands results over as a :class:`DrawOutcome`, a plain structure defined
here so that sources never import the draw engine (a higher layer).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

    from drawkit.eligibility import EligibilityResult

# Namespace for the deterministic event uuids of published draw results.
DRAWKIT_UUID_NAMESPACE = uuid.UUID("6f1c2e0a-8d7b-5b3e-9c41-d2a7e0b3f915")


def event_uuid(draw_id: str, *parts: object) -> str:
    """Deterministic uuid5 for a published event, so a retried publish records once."""
    name = "/".join([draw_id, *map(str, parts)])
    return str(uuid.uuid5(DRAWKIT_UUID_NAMESPACE, name))


def completed_uuid(draw_id: str) -> str:
    """The uuid of a draw's ``draw_completed`` summary event."""
    return event_uuid(draw_id, "draw_completed")


def winner_uuid(draw_id: str, tier: str, role: str, position: int) -> str:
    """The uuid of one ``draw_winner`` event (a winner or reserve of a tier)."""
    return event_uuid(draw_id, "draw_winner", tier, role, position)


@dataclass(frozen=True)
class PublishedWinner:
    """One winner or reserve of a draw, as published (full MSISDN: the source masks it)."""

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
class PublishReport:
    """What record_draw_result did: events sent and events already there."""

    draw_id: str
    sent: int
    already_recorded: int


@runtime_checkable
class DrawDataSource(Protocol):
    """Where participants come from and where results go."""

    def get_eligible_participants(self, draw_date: date) -> EligibilityResult:
        """Eligible participants (msisdn, points, entries) for ``draw_date`` plus accounting."""
        ...

    def get_participant_entries(self, msisdn: str, draw_date: date) -> int:
        """Entries one subscriber has in the draw of ``draw_date`` (0 if not eligible)."""
        ...

    def record_draw_result(self, result: DrawOutcome) -> PublishReport:
        """Record a draw's result; safe to repeat (records once)."""
        ...

    def get_published_results(self, draw_id: str) -> pd.DataFrame:
        """What was recorded for ``draw_id``: columns event, uuid, msisdn, tier, role,
        position, ticket (one row per event; draw summary rows have empty msisdn)."""
        ...
