"""Build and freeze a draw's cohort: one layout, one writer, one reader, one guard.

A frozen cohort lives in the draw's private folder (``<workspace>/private/<draw id>/``):

* ``participants.csv`` — msisdn (E.164), points, entries: the draw's input (0600);
* ``rejected.csv`` — the invalid input rows, numbers masked, to fix the data;
* ``cohort.json`` — draw id and date, cohort digest, counts, exclusions, the eligibility
  summary, where it came from and when it was frozen.

It is written once. Freezing again with the same participants reuses it; different
participants are refused once the draw is committed, and before that only with an
explicit ``replace_cohort``. Reading it back checks the digest, so a participants file
changed by hand is caught before any commitment or draw uses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from drawkit.draw import Cohort, Ledger, canonical_cohort
from drawkit.eligibility import EligibilityResult, EligibilitySummary, check_participants
from drawkit.errors import CohortFrozenError, InputError
from drawkit.sources.local import read_participants, write_participants
from drawkit.store import private_dir, write_private

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime

PARTICIPANTS_FILE = "participants.csv"
REJECTED_FILE = "rejected.csv"
COHORT_FILE = "cohort.json"


@dataclass(frozen=True)
class FrozenCohort:
    """A draw's frozen participants and what is known about how they were chosen."""

    draw_id: str
    draw_date: date
    participants: pd.DataFrame
    canonical: Cohort | None  # the canonical cohort of ``participants`` (None: empty)
    exclusions: dict[str, int]  # participants left out, by rule
    summary: dict[str, Any] | None  # the eligibility summary (None for a participants file)
    source: str
    frozen_at: str
    folder: Path

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical cohort (docs/draw-spec.md, 'Cohort'); "" when empty."""
        return self.canonical.digest if self.canonical is not None else ""

    @property
    def total_entries(self) -> int:
        """The cohort's tickets."""
        return self.canonical.total_entries if self.canonical is not None else 0

    @property
    def files(self) -> dict[str, Path]:
        """The frozen cohort's files that exist."""
        names = {"participants": PARTICIPANTS_FILE, "rejected": REJECTED_FILE,
                 "cohort": COHORT_FILE}
        return {k: self.folder / v for k, v in names.items() if (self.folder / v).exists()}


@dataclass(frozen=True)
class CohortFreeze:
    """What freezing did: the frozen cohort, the eligibility result it came from (None
    when the source is a participants file), and whether an identical one was reused."""

    cohort: FrozenCohort
    eligibility: EligibilityResult | None
    reused: bool


def freeze_cohort(job: DrawJob, runtime: Runtime) -> CohortFreeze:
    """Build the job's participants from its source and freeze them (guarded)."""
    eligibility, participants, exclusions = _build(job, runtime)
    check_participants(participants)
    digest = canonical_cohort(participants).digest if len(participants) else ""
    existing = _existing(job)
    if existing is not None and existing.digest == digest:
        return CohortFreeze(existing, eligibility, reused=True)
    if existing is not None:
        _refuse_refreeze(job, existing, digest, len(participants))
    folder = private_dir(job.private_dir)
    write_participants(participants, _rejected(eligibility), folder)
    summary = eligibility.summary.to_dict() if eligibility is not None else None
    meta = {
        "draw_id": job.id,
        "draw_date": job.draw_date.isoformat(),
        "cohort_digest": digest,
        "participants": len(participants),
        "total_entries": int(participants["entries"].sum()) if len(participants) else 0,
        "participants_excluded": exclusions,
        "summary": summary,
        "source": job.source.kind,
        "source_detail": job.source.describe(),
        "frozen_at": runtime.now().isoformat(timespec="seconds"),
    }
    write_private(folder / COHORT_FILE, json.dumps(meta, indent=2) + "\n")
    return CohortFreeze(load_cohort(job), eligibility, reused=False)


def load_cohort(job: DrawJob) -> FrozenCohort:
    """The job's frozen cohort, read back and checked against its recorded digest."""
    folder = job.private_dir
    meta_path = folder / COHORT_FILE
    if not meta_path.is_file():
        raise InputError(
            f"no frozen cohort for draw {job.id} in {folder}: build it first "
            "(drawkit cohort, or the 01_daily_cohort report)"
        )
    meta = _read_meta(meta_path)
    if meta.get("draw_id") != job.id or meta.get("draw_date") != job.draw_date.isoformat():
        raise InputError(f"{meta_path} belongs to draw {meta.get('draw_id')!r}, not {job.id}")
    participants = read_participants(folder / PARTICIPANTS_FILE)
    canonical = canonical_cohort(participants) if len(participants) else None
    digest = canonical.digest if canonical is not None else ""
    if digest != meta.get("cohort_digest"):
        raise CohortFrozenError(
            f"{folder / PARTICIPANTS_FILE} was changed after the cohort was frozen: its "
            f"digest is {digest or 'empty'}, the frozen cohort's {meta.get('cohort_digest')}"
        )
    return FrozenCohort(
        draw_id=job.id,
        draw_date=job.draw_date,
        participants=participants,
        canonical=canonical,
        exclusions={str(k): int(v) for k, v in (meta.get("participants_excluded") or {}).items()},
        summary=meta.get("summary"),
        source=str(meta.get("source_detail") or meta.get("source") or ""),
        frozen_at=str(meta.get("frozen_at") or ""),
        folder=folder,
    )


def cohort_for_draw(job: DrawJob, runtime: Runtime) -> FrozenCohort:
    """The frozen cohort a commitment or draw uses: read back when frozen, else built and
    frozen now from the job's source. A frozen cohort is never rebuilt here."""
    if (job.private_dir / COHORT_FILE).is_file():
        return load_cohort(job)
    return freeze_cohort(job, runtime).cohort


def cohort_history(job: DrawJob, runtime: Runtime, today: EligibilitySummary) -> pd.DataFrame:
    """Participants and entries on the ``history_days`` draw dates before the job's and on
    the job's date itself (``today``), oldest first (empty for a participants file)."""
    rows = []
    if job.source.recharges is not None or job.source.kind == "posthog":
        source = runtime.source(job)
        for back in range(job.history_days, 0, -1):
            day = job.draw_date - timedelta(days=back)
            summary = source.get_eligible_participants(day).summary
            rows.append((day, summary.participants, summary.total_entries))
    rows.append((job.draw_date, today.participants, today.total_entries))
    frame = pd.DataFrame(rows, columns=["date", "participants", "entries"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


# ------------------------------------------------------------------ internals


def _build(
    job: DrawJob, runtime: Runtime
) -> tuple[EligibilityResult | None, pd.DataFrame, dict[str, int]]:
    spec = job.source.check()
    if spec.participants is not None:
        participants = read_participants(spec.participants)
        if "points" not in participants.columns:
            participants.insert(1, "points", participants["entries"])
        return None, participants, _summary_exclusions(spec.participants, job.draw_date,
                                                       len(participants))
    result = runtime.source(job).get_eligible_participants(job.draw_date)
    return result, result.participants, dict(result.summary.participants_excluded)


def _rejected(eligibility: EligibilityResult | None) -> pd.DataFrame:
    if eligibility is not None:
        return eligibility.rejected
    return pd.DataFrame(columns=["transaction_id", "msisdn", "amount_ngn", "timestamp",
                                 "reason"])


def _existing(job: DrawJob) -> FrozenCohort | None:
    if not (job.private_dir / COHORT_FILE).is_file():
        return None
    return load_cohort(job)


def _refuse_refreeze(job: DrawJob, existing: FrozenCohort, digest: str, count: int) -> None:
    ledger = Ledger(job.ledger)
    committed = ledger.commitment(job.id) is not None or ledger.get(job.id) is not None
    what = (
        f"the cohort of draw {job.id} was frozen at {existing.frozen_at} with "
        f"{len(existing.participants):,} participants (digest {existing.digest}); the source "
        f"now gives {count:,} participants (digest {digest or 'empty'})"
    )
    if committed:
        raise CohortFrozenError(f"{what}. The draw is committed: its cohort never changes.")
    if not job.replace_cohort:
        raise CohortFrozenError(
            f"{what}. It is not committed yet: re-freeze it explicitly (--replace-cohort, or "
            "replace_cohort in the job) if the new data is right."
        )


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a frozen cohort description")
    return data


def _summary_exclusions(participants_path: Path, draw_date: date, participants: int) -> dict:
    """Exclusion counts from a ``summary.json`` written next to a participants file for
    the same draw date and cohort size; otherwise none."""
    path = participants_path.parent / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(summary, dict):
        return {}
    same = summary.get("draw_date") == draw_date.isoformat()
    if not same or summary.get("participants") != participants:
        return {}
    excluded = summary.get("participants_excluded")
    if not isinstance(excluded, dict):
        return {}
    return {str(k): int(v) for k, v in excluded.items() if isinstance(v, int)}
