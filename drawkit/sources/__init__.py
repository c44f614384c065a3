"""Participant sources: one DrawDataSource interface, local files or PostHog behind it."""

from drawkit.sources.base import DrawDataSource, PublishReport

__all__ = ["DrawDataSource", "PublishReport"]
