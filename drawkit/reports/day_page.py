"""The day's landing page: the facts of a draw (drawkit.app.day_facts) laid out for the
operator who forwards it and the auditor who signs it (drawkit.reports.landing)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from drawkit import __version__
from drawkit.reports import landing
from drawkit.reports.runner import TITLES

if TYPE_CHECKING:
    from drawkit.app.auditing import DayFacts
    from drawkit.app.job import DrawJob

SPEC = Path(__file__).resolve().parents[2] / "docs" / "draw-spec.md"


def build_page(job: DrawJob, facts: DayFacts, folder: Path) -> landing.LandingPage:
    """The landing page of ``job`` from its facts; links point into ``folder``."""
    record = facts.record
    checks = [landing.CheckLine(c["check"], bool(c["passed"]), c["detail"])
              for c in (facts.audit or {}).get("checks", [])]
    notes = _notes(record)
    verdict = landing.Verdict(all(c.passed for c in checks) if checks else None,
                              tuple(checks), tuple(notes))
    winners, replacements = (landing.winners_from_record(record.public(), facts.events)
                             if record is not None else ((), ()))
    return landing.LandingPage(
        verdict=verdict,
        figures=_figures(job, facts),
        timeline=_timeline(facts),
        winners=winners,
        replacements=replacements,
        commitments=_commitments(facts),
        links=_links(folder),
        verify_command=verify_command(job, facts),
        drawkit_version=__version__,
    )


def verify_command(job: DrawJob, facts: DayFacts) -> str:
    """The exact command that re-checks this draw from its files."""
    extra = ""
    if facts.record is not None and facts.record.beacon_chain is not None:
        from drawkit.beacon.chain import QUICKNET_HASH

        if facts.record.beacon_chain.hash != QUICKNET_HASH:
            extra = " --accept-test-chain"
    return (f"drawkit verify {job.report_dir / 'record.public.json'} --participants "
            f"{job.private_dir / 'participants.csv'} --ledger {job.ledger}{extra}")


def copy_spec(folder: Path) -> Path | None:
    """A copy of the draw spec next to the reports (when this install has it)."""
    if not SPEC.is_file():
        return None
    target = folder / "draw-spec.md"
    shutil.copyfile(SPEC, target)
    return target


def _notes(record: object) -> list[str]:
    label = getattr(record, "randomness", "") or ""
    if "local test chain" in label or "operator-chosen" in label or "unauthenticated" in label:
        return [f"Randomness: {label}."]
    return []


def _figures(job: DrawJob, facts: DayFacts) -> landing.KeyFigures:
    summary = facts.cohort_summary or {}
    record = facts.record
    window = summary.get("window") or {}
    return landing.KeyFigures(
        draw_id=job.id,
        draw_date=job.draw_date,
        promotion=job.config.name,
        permit=job.config.permit,
        participants=record.participants if record else int(summary.get("participants") or 0),
        total_entries=record.total_entries if record else int(summary.get("total_entries") or 0),
        rows_read=summary.get("rows_in"),
        rows_counted=summary.get("rows_counted"),
        rows_excluded=sum((summary.get("rows_excluded") or {}).values()) if summary else None,
        rows_rejected=sum((summary.get("rows_rejected") or {}).values()) if summary else None,
        window_start=window.get("start") or (record.window_start if record else None),
        window_cutoff=window.get("cutoff") or (record.window_cutoff if record else None),
    )


def _timeline(facts: DayFacts) -> landing.Timeline:
    record = facts.record
    if record is None:
        return landing.Timeline()
    published = None
    if record.beacon_chain is not None and record.beacon_round is not None:
        published = record.beacon_chain.published_at(record.beacon_round)
    return landing.Timeline(
        committed_at=record.commitment.committed_at,
        beacon_published_at=published,
        drawn_at=record.created_at,
        published_at=(facts.published or {}).get("at"),
        beacon_round=record.beacon_round,
        timezone=record.timezone,
    )


def _commitments(facts: DayFacts) -> landing.Commitments:
    record = facts.record
    if record is None:
        return landing.Commitments("not yet committed", None, None, facts.ledger_head or "empty")
    source = record.randomness.split(" and ")[0].split(" alone")[0]
    return landing.Commitments(
        cohort_digest=record.cohort_digest,
        beacon_round=record.beacon_round,
        secret_commitment=record.commitment.secret_commitment,
        ledger_head=facts.ledger_head,
        record_hash=record.record_hash,
        beacon_source=source,
        result_public_key=record.commitment.result_public_key,
    )


def _links(folder: Path) -> landing.Links:
    def link(name: str, label: str, note: str = "") -> landing.Link | None:
        return landing.Link(label, name, note) if (folder / name).exists() else None

    reports = tuple(
        landing.Link(title, f"{stem}.html")
        for stem, title in TITLES.items()
        if (folder / f"{stem}.html").exists()
    )
    charts = tuple(landing.Link(p.stem.replace("_", " "), f"charts/{p.name}")
                   for p in sorted((folder / "charts").glob("*.png")))
    return landing.Links(
        reports=reports,
        public_record=link("record.public.json", "Public record (numbers masked)"),
        audit=link("audit.json", "Audit summary (JSON)"),
        spec=link("draw-spec.md", "The draw specification"),
        verifier=link("verifier/index.html", "Verify this draw in your browser",
                      "works offline, from the files alone"),
        charts=charts,
    )
