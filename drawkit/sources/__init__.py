"""Participant sources: one DrawDataSource interface, local files or PostHog behind it."""

from drawkit.sources.base import (
    DrawDataSource,
    DrawOutcome,
    PublishedWinner,
    PublishReport,
    event_uuid,
)

__all__ = ["DrawDataSource", "DrawOutcome", "PublishReport", "PublishedWinner", "event_uuid"]
