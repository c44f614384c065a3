"""The application layer: every drawkit workflow written once.

Each use-case is one function over a :class:`DrawJob` (what to draw) and a
:class:`Runtime` (settings, secrets, clock, open clients). The CLI, the notebooks and the
demo are doors over these functions; the rules that protect the draw live here or below.

Names are loaded on first use, so a command that does not draw imports no data library.
"""

from __future__ import annotations

from drawkit.lazy import lazy_exports

_EXPORTS = {
    "DrawJob": "job",
    "SourceSpec": "job",
    "default_workspace": "job",
    "Runtime": "runtime",
    "CohortFreeze": "cohort",
    "FrozenCohort": "cohort",
    "cohort_for_draw": "cohort",
    "cohort_history": "cohort",
    "freeze_cohort": "cohort",
    "load_cohort": "cohort",
    "CommitResult": "draws",
    "DrawResult": "draws",
    "EventResult": "draws",
    "commit": "draws",
    "committed": "draws",
    "commitment_for_draw": "draws",
    "await_round": "draws",
    "draw": "draws",
    "draw_record": "draws",
    "ledger_record": "draws",
    "parse_beacon": "draws",
    "publish": "draws",
    "record_draw_event": "draws",
    "AuditResult": "auditing",
    "audit": "auditing",
    "DayFacts": "auditing",
    "day_facts": "auditing",
    "read_audit_summary": "auditing",
    "read_record": "auditing",
    "verify_files": "auditing",
    "RoundChoice": "beacon",
    "round_after": "beacon",
    "check_round": "beacon",
    "fetch_round": "beacon",
    "DoctorReport": "tools",
    "SynthOutput": "tools",
    "doctor": "tools",
    "posthog_calls": "tools",
    "ledger_chain": "tools",
    "ledger_lines": "tools",
    "synthesize": "tools",
    "load_synthetic": "tools",
    "DayResult": "day",
    "run_day": "day",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
