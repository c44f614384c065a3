"""Commit, draw, publish and record what happens after a draw: the draw's use-cases.

Every door (CLI, notebooks, demo) goes through these functions, so the rules that protect
the draw hold whichever door is used: the cohort comes from the frozen cohort only, the
operator secret comes from the runtime (and its strength is checked by the draw engine),
a beacon value is exact hex of the right length, and outputs are written by the one
private/public writer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drawkit.app.cohort import FrozenCohort, cohort_for_draw
from drawkit.draw import (
    Commitment,
    DrawRecord,
    Ledger,
    Standing,
    commit_draw,
    record_event,
    run_draw,
    standing,
    write_winners_export,
)
from drawkit.draw import publish as publish_record
from drawkit.errors import DrawError, InputError, LedgerError
from drawkit.msisdn import mask
from drawkit.sources.base import PublishReport
from drawkit.store import write_private, write_public

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime

RECORD_FILE = "record.json"
WINNERS_FILE = "winners.csv"
PUBLIC_RECORD_FILE = "record.public.json"
BEACON_BYTES = 32  # a drand round's randomness is a SHA-256 digest


@dataclass(frozen=True)
class CommitResult:
    """The commitment, the frozen cohort it fixes, and whether it was made just now."""

    commitment: Commitment
    cohort: FrozenCohort
    new: bool


@dataclass(frozen=True)
class DrawResult:
    """The draw's record, whether this run drew it (False: the ledger's record was
    returned, nothing was re-drawn), and the files written."""

    record: DrawRecord
    drawn: bool
    files: dict[str, Path] = field(default_factory=dict)


def parse_beacon(text: str | None) -> bytes | None:
    """A beacon value given as hex: None when absent; empty, malformed or of the wrong
    length is an InputError naming it."""
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned:
        raise InputError("the beacon value is empty: give the round's randomness in hex")
    try:
        value = bytes.fromhex(cleaned)
    except ValueError:
        raise InputError("the beacon value must be hexadecimal (the round's randomness)") from None
    if len(value) != BEACON_BYTES:
        raise InputError(
            f"the beacon value has {len(value)} bytes: a drand round's randomness has "
            f"{BEACON_BYTES} (64 hex digits)"
        )
    return value


def commit(job: DrawJob, runtime: Runtime) -> CommitResult:
    """Commit to the frozen cohort, the beacon round and the secret's hash (idempotent:
    the same commitment again returns the existing one)."""
    cohort = cohort_for_draw(job, runtime)
    before = Ledger(job.ledger).commitment(job.id)
    commitment = commit_draw(
        cohort.participants,
        job.config,
        job.draw_date,
        ledger_dir=job.ledger,
        beacon_round=job.beacon_round,
        secret=runtime.secret,
        draw_id=job.id,
    )
    runtime.track(job, "draw_committed", {"draw_id": commitment.draw_id})
    return CommitResult(commitment, cohort, new=before is None)


def committed(job: DrawJob) -> Commitment | None:
    """The job's commitment in the ledger, or None."""
    return Ledger(job.ledger).commitment(job.id)


def commitment_for_draw(job: DrawJob, runtime: Runtime) -> Commitment:
    """The commitment the draw will honour. A real job must have committed already (as
    its own step, before the randomness exists); a scratch exploration commits now."""
    existing = committed(job)
    if existing is not None:
        return existing
    if job.scratch:
        return commit(job, runtime).commitment
    raise DrawError(
        f"draw {job.id} is not committed: commit first (drawkit commit, or drawkit report, "
        "which commits as its own step before the draw)"
    )


def _beacon(job: DrawJob) -> bytes | None:
    """The beacon value the draw uses; a scratch exploration without one uses a fixed
    stand-in (it is labelled scratch and never a real draw)."""
    value = parse_beacon(job.beacon_value)
    if value is None and job.scratch:
        return hashlib.sha256(f"drawkit scratch beacon {job.id}".encode()).digest()
    return value


def draw(
    job: DrawJob,
    runtime: Runtime,
    *,
    record_out: Path | None = None,
    public_out: Path | None = None,
    winners_export: Path | None = None,
) -> DrawResult:
    """Run the draw on the frozen cohort (or return the ledger's record: never re-drawn)
    and write the private record, the winners file and the masked public record."""
    cohort = cohort_for_draw(job, runtime)
    steps: list[str] = []
    record = run_draw(
        cohort.participants,
        job.config,
        job.draw_date,
        ledger_dir=job.ledger,
        beacon=_beacon(job),
        beacon_round=job.beacon_round,
        secret=runtime.secret,
        draw_id=job.id,
        exclusions=cohort.exclusions,
        on_step=steps.append,
    )
    drawn = "existing" not in steps
    files = write_draw_files(job, record)
    extra = {"private record": record_out, "public record": public_out,
             "winners export": winners_export}
    files.update(write_extra_files(record, extra))
    if drawn:
        runtime.track(job, "draw_completed",
                      {"draw_id": record.draw_id, "record_hash": record.record_hash})
    return DrawResult(record, drawn, files)


def write_draw_files(job: DrawJob, record: DrawRecord) -> dict[str, Path]:
    """The draw's files in the workspace: private record and winners (0600), public record."""
    return {
        "private record": write_private(job.private_dir / RECORD_FILE, record.to_json()),
        "winners export": write_winners_export(record, job.private_dir / WINNERS_FILE),
        "public record": write_public(job.report_dir / PUBLIC_RECORD_FILE,
                                      record.public().to_json()),
    }


def write_extra_files(record: DrawRecord, paths: dict[str, Path | None]) -> dict[str, Path]:
    """Copies the operator asked for elsewhere, through the same writers."""
    written: dict[str, Path] = {}
    if paths.get("private record"):
        written["private record copy"] = write_private(paths["private record"], record.to_json())
    if paths.get("public record"):
        written["public record copy"] = write_public(paths["public record"],
                                                     record.public().to_json())
    if paths.get("winners export"):
        written["winners export copy"] = write_winners_export(record, paths["winners export"])
    return written


def ledger_record(job: DrawJob) -> DrawRecord:
    """The job's draw record from the ledger; a LedgerError when it has not run."""
    return draw_record(job.ledger, job.id)


def draw_record(ledger_dir: Path, draw_id: str) -> DrawRecord:
    """The record of ``draw_id`` in the ledger at ``ledger_dir``; LedgerError if absent."""
    record = Ledger(ledger_dir).get(draw_id)
    if record is None:
        raise LedgerError(f"no draw {draw_id!r} in ledger {ledger_dir}: run the draw first")
    return record


def publish(job: DrawJob, runtime: Runtime) -> PublishReport:
    """Send the draw's result to the job's source (PostHog events or the local results
    store); safe to repeat: each event is recorded once."""
    return publish_record(ledger_record(job), runtime.source(job))


@dataclass(frozen=True)
class EventResult:
    """What recording a draw event appended, and who holds each prize now."""

    appended: list[dict[str, Any]]
    standing: Standing
    lines: list[str]


def record_draw_event(
    ledger_dir: Path,
    draw_id: str,
    kind: str,
    *,
    position: int,
    tier: str | None = None,
    role: str = "winner",
    reason: str = "",
) -> EventResult:
    """Record that a winner or reserve was unreachable, disqualified or claimed the prize;
    a drop-out promotes the next reserve of the tier. Lines are masked, for people."""
    ledger = Ledger(ledger_dir)
    appended = record_event(ledger, draw_id, kind, tier=tier, position=position, role=role,
                            reason=reason)
    record = draw_record(ledger_dir, draw_id)
    lines = [_event_line(record, entry) for entry in appended]
    now = standing(record, ledger.events(draw_id))
    for (prize, place), holder in sorted(now.holders.items()):
        lines.append(f"  {prize} #{place}: {mask(holder.msisdn)} ({holder.role})")
    return EventResult(appended, now, lines)


def _event_line(record: DrawRecord, entry: dict[str, Any]) -> str:
    d, what = entry["details"], entry["event"]
    if what == "promoted":
        reserve = record.winners_of(d["tier"], "reserve")[d["reserve_position"] - 1]
        return (f"{d['tier']} #{d['prize_position']}: reserve {d['reserve_position']} "
                f"({mask(reserve.msisdn)}) promoted")
    if what == "unfilled":
        return f"{d['tier']} #{d['prize_position']}: no reserve left, prize unfilled"
    return f"recorded: {d['tier']} {d['role']} {d['position']} {what}"
