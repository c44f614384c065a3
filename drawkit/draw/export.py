"""The private winners file for the regulator and prize team (full phone numbers)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

from drawkit.draw.record import DrawRecord
from drawkit.store import write_private

EXPORT_COLUMNS = (
    "draw_id",
    "draw_date",
    "promotion",
    "permit",
    "tier",
    "prize_value_ngn",
    "role",
    "position",
    "draw_order",
    "msisdn",
    "entries",
    "ticket",
    "total_tickets_at_pick",
    "record_hash",
)


def write_winners_export(record: DrawRecord, path: str | Path) -> Path:
    """Write winners and reserves with full numbers to a CSV readable by its owner only."""
    values = {p.name: p.value_ngn for p in record.prizes}

    def rows(handle: IO[str]) -> None:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for w in record.winners:
            writer.writerow(
                [
                    record.draw_id,
                    record.draw_date,
                    record.promotion,
                    record.permit or "",
                    w.tier,
                    values[w.tier],
                    w.role,
                    w.position,
                    w.draw_order,
                    w.msisdn,
                    w.entries,
                    w.ticket,
                    w.total_tickets_at_pick,
                    record.record_hash,
                ]
            )

    return write_private(path, rows)
