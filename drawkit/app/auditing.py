"""Audit a draw and verify a record: the auditor's use-cases.

``audit`` re-derives the job's draw from its frozen cohort, checks the ledger, reconciles
what was published, runs the fairness statistics and writes ``audit.json`` next to the
reports. ``verify_files`` is what an independent auditor runs on files alone: a record
(private or public copy), a participants file and, optionally, the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from drawkit import audit as stats
from drawkit.app.cohort import load_cohort
from drawkit.app.draws import ledger_record, parse_beacon
from drawkit.draw import ChainReport, DrawRecord, Ledger, VerificationReport, verify_record
from drawkit.draw.cohort import Cohort
from drawkit.errors import InputError
from drawkit.sources.local import read_participants
from drawkit.store import write_public

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime

AUDIT_FILE = "audit.json"
PUBLISHED_FILE = "published.json"  # when and what publishing sent (the landing page reads it)


@dataclass
class AuditResult:
    """Everything the audit found for one draw."""

    record: DrawRecord
    verification: VerificationReport
    chain: ChainReport
    reconciliation: stats.Reconciliation
    cohort: Cohort
    simulation: stats.Simulation
    bands: pd.DataFrame
    chi: stats.ChiSquare
    positions: pd.DataFrame
    ks: stats.KsResult
    lorenz_observed: pd.DataFrame
    lorenz_expected: pd.DataFrame
    history: pd.DataFrame
    checks: list[stats.Check] = field(default_factory=list)
    summary_path: Path | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # drop-outs, claims since

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(c.passed for c in self.checks)

    def failed(self) -> list[stats.Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.passed]

    def verdict(self) -> str:
        """PASS, or FAIL with the failed checks named."""
        if self.passed:
            return f"PASS: draw {self.record.draw_id}, all {len(self.checks)} checks passed"
        names = ", ".join(c.name for c in self.failed())
        return f"FAIL: draw {self.record.draw_id}: {names}"


def audit(job: DrawJob, runtime: Runtime) -> AuditResult:
    """Verify the record and ledger, reconcile the published result, run the statistics,
    and write ``audit.json`` into the job's report folder."""
    ledger = Ledger(job.ledger)
    record = ledger_record(job)
    participants = load_cohort(job).participants
    beacon = parse_beacon(job.beacon_value)
    verification = verify_record(record, participants, ledger=ledger, beacon=beacon,
                                 accept_test_chain=job.accept_test_chain)
    chain = ledger.verify_chain()
    published = runtime.source(job).get_published_events(record.draw_id)
    reconciliation = stats.reconcile(record, published, ledger=ledger)
    cohort = stats.cohort_as_drawn(record, participants)
    simulation = stats.simulate_record(record, cohort, n=job.simulations)
    observed = stats.observed_indices(record, cohort)
    bands = stats.wins_by_band(cohort, observed, simulation)
    chi = stats.chi_square(bands, simulation)
    history_records = [r for r in ledger.records() if r.promotion == record.promotion]
    positions = stats.ticket_positions(history_records)
    ks = stats.ks_uniform(positions["u"])
    wins = np.bincount(observed, minlength=len(cohort))
    checks = stats.fairness_checks(
        record, verification=verification, chain_ok=chain.ok,
        reconciliation=reconciliation, chi=chi, ks=ks,
    )
    result = AuditResult(
        record=record, verification=verification, chain=chain,
        reconciliation=reconciliation, cohort=cohort, simulation=simulation, bands=bands,
        chi=chi, positions=positions, ks=ks,
        lorenz_observed=stats.lorenz(cohort.entries, wins),
        lorenz_expected=stats.lorenz(cohort.entries, simulation.win_counts()),
        history=stats.daily_history(ledger, record.promotion), checks=checks,
        events=ledger.events(record.draw_id),
    )
    result.summary_path = write_audit_summary(job, result)
    return result


def audit_summary(result: AuditResult) -> dict[str, Any]:
    """The audit's key results as plain data (``audit.json``)."""
    return {
        "draw_id": result.record.draw_id,
        "record_hash": result.record.record_hash,
        "verified": result.verification.ok,
        "ledger_ok": result.chain.ok,
        "published_ok": result.reconciliation.ok,
        "chi_square": result.chi.statistic,
        "chi_square_pvalue": result.chi.pvalue,
        "simulations": result.chi.simulations,
        "ks_statistic": result.ks.statistic,
        "ks_pvalue": result.ks.pvalue,
        "ks_tickets": result.ks.n,
        "checks": [{"check": c.name, "passed": c.passed, "detail": c.detail}
                   for c in result.checks],
        "passed": result.passed,
        "verdict": result.verdict(),
    }


def write_audit_summary(job: DrawJob, result: AuditResult) -> Path:
    """Write ``audit.json`` into the job's report folder."""
    text = json.dumps(audit_summary(result), indent=2) + "\n"
    return write_public(job.report_dir / AUDIT_FILE, text)


def read_audit_summary(job: DrawJob) -> dict[str, Any] | None:
    """The job's ``audit.json``, or None when the audit has not run."""
    path = job.report_dir / AUDIT_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def verify_files(
    record_path: Path,
    participants_path: Path,
    *,
    ledger_dir: Path | None = None,
    beacon_value: str | None = None,
    accept_test_chain: bool = False,
    accept_operator_randomness: bool = False,
    heads: tuple[str, ...] = (),
) -> VerificationReport:
    """Re-derive a draw from its record file (private or public copy) and a participants
    file (any accepted number spelling), authenticate its beacon round offline and check
    the timing, optionally checking it against the ledger, anchored by published ledger
    heads (``heads``: record hashes the ledger must still hold)."""
    if heads and ledger_dir is None:
        raise InputError("--head checks the ledger: give --ledger DIR too")
    record = read_record(record_path)
    participants = read_participants(participants_path)
    ledger = Ledger(ledger_dir) if ledger_dir is not None else None
    return verify_record(record, participants, ledger=ledger, beacon=parse_beacon(beacon_value),
                         accept_test_chain=accept_test_chain,
                         accept_operator_randomness=accept_operator_randomness, heads=heads)


def read_record(path: Path) -> DrawRecord:
    """A draw record file; an error names the file when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read draw record {path}: {exc}") from None
    return DrawRecord.from_json(text)


@dataclass(frozen=True)
class DayFacts:
    """What a draw's landing page shows, read back from the ledger and the workspace."""

    record: DrawRecord | None
    events: list[dict[str, Any]]
    audit: dict[str, Any] | None
    cohort_summary: dict[str, Any] | None
    ledger_head: str
    published: dict[str, Any] | None


def day_facts(job: DrawJob) -> DayFacts:
    """The facts of the job's draw as they stand now (any part may be missing)."""
    from drawkit.app.cohort import COHORT_FILE

    ledger = Ledger(job.ledger)
    record = ledger.get(job.id)
    entries = ledger.entries()
    cohort_meta = job.private_dir / COHORT_FILE
    summary = None
    if cohort_meta.is_file():
        summary = json.loads(cohort_meta.read_text(encoding="utf-8")).get("summary")
    receipt = job.report_dir / PUBLISHED_FILE
    return DayFacts(
        record=record,
        events=ledger.events(job.id) if record is not None else [],
        audit=read_audit_summary(job),
        cohort_summary=summary,
        ledger_head=str(entries[-1].get("record_hash")) if entries else "",
        published=json.loads(receipt.read_text(encoding="utf-8")) if receipt.is_file() else None,
    )
