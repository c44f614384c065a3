"""Send a draw's result to its data source (PostHog or local files); safe to repeat."""

from __future__ import annotations

from drawkit.draw.record import DrawRecord
from drawkit.errors import VerificationError
from drawkit.sources.base import DrawDataSource, PublishReport


def publish(record: DrawRecord, source: DrawDataSource) -> PublishReport:
    """Record ``record`` in ``source``. Events carry deterministic uuids, so a retried or
    repeated publish records each event once. A record whose hash does not match its
    content is refused."""
    if record.computed_hash() != record.record_hash:
        raise VerificationError(
            f"draw {record.draw_id}: the record does not match its record_hash; "
            "run drawkit verify before publishing"
        )
    return source.record_draw_result(record.to_outcome())
