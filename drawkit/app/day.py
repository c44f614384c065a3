"""The day's job: freeze the cohort, commit, draw and publish, audit — in that order.

``run_day`` owns the order and the rules between the steps (everything is checked before
any work starts; the commitment is made after the cohort is frozen and before the draw,
as a step of its own). Each report step runs through ``execute(name, job)``, which the
door supplies (the papermill runner of :mod:`drawkit.reports`); the steps themselves call
the use-cases of this package from inside the notebooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drawkit.app.draws import await_round, commit, parse_beacon

if TYPE_CHECKING:
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime

COHORT_STEP = "01_daily_cohort"
DRAW_STEP = "02_draw_run"
AUDIT_STEP = "03_audit"
STEPS = (COHORT_STEP, DRAW_STEP, AUDIT_STEP)

Execute = Callable[[str, "DrawJob"], Path]
Say = Callable[[str], None]


@dataclass
class DayResult:
    """What the day's run did, and the audit's verdict when the audit ran."""

    job: Any
    steps: list[str] = field(default_factory=list)
    audit: dict[str, Any] | None = None

    @property
    def passed(self) -> bool | None:
        """True/False when the audit ran, None otherwise."""
        return None if self.audit is None else bool(self.audit.get("passed"))

    @property
    def verdict(self) -> str:
        """The audit's verdict line, or why there is none."""
        if self.audit is None:
            return "no audit in this run"
        return str(self.audit.get("verdict") or ("PASS" if self.passed else "FAIL"))


def preflight(job: DrawJob, runtime: Runtime) -> None:
    """Check every input before any work starts: the source's files, the promotion
    config, the beacon inputs, and the PostHog settings when PostHog is the source."""
    spec = job.source.check()
    if spec.participants is not None:
        from drawkit.errors import InputError

        raise InputError("drawkit report needs --recharges or --source posthog: a participants "
                         "file has no row accounting for the cohort report")
    _ = job.config
    parse_beacon(job.beacon_value)
    if job.beacon_signature is not None:
        from drawkit.beacon.verify import verify_round

        if job.beacon_round is None:
            from drawkit.errors import InputError

            raise InputError("--beacon-signature needs the --beacon-round it signs")
        verify_round(runtime.beacon_chain(), job.beacon_round, job.beacon_signature)
    if job.source.kind == "posthog":
        runtime.settings()


def run_day(
    job: DrawJob,
    runtime: Runtime,
    execute: Execute,
    *,
    steps: tuple[str, ...] = STEPS,
    say: Say | None = None,
) -> DayResult:
    """Run the report steps for ``job`` in order (all checks first)."""
    from drawkit.app.auditing import read_audit_summary

    tell = say or (lambda _text: None)
    preflight(job, runtime)
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        from drawkit.errors import ReportError

        raise ReportError(f"unknown report step(s) {', '.join(unknown)}; known: {', '.join(STEPS)}")
    result = DayResult(job)
    ordered = [s for s in STEPS if s in steps]
    for number, name in enumerate(ordered, start=1):
        if name == DRAW_STEP:
            made = commit(job, runtime)
            state = "committed" if made.new else "already committed"
            tell(f"    {state}: cohort digest {made.commitment.cohort_digest[:16]}…, "
                 f"beacon round {made.commitment.beacon_round or 'none (operator-chosen)'}")
            await_round(job, runtime, tell)
        tell(f"[{number}/{len(ordered)}] {name}")
        execute(name, job)
        result.steps.append(name)
    if AUDIT_STEP in result.steps:
        result.audit = read_audit_summary(job)
    return result
