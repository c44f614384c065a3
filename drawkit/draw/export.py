"""The private winners file for the regulator and prize team (full phone numbers)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from drawkit.draw.record import DrawRecord

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when umask or an old file would allow more
    values = {p.name: p.value_ngn for p in record.prizes}
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
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
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    os.chmod(path, 0o600)
    return path
