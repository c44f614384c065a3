"""What the report notebooks compute, one function per step, so the notebooks hold only
narrative, tables and charts. Every table returned here holds masked numbers only; files
with full numbers go to the owner-only ``private/`` folder of the report."""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import stat
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drawkit import audit, charts
from drawkit.config import Settings
from drawkit.draw import (
    ChainReport,
    Commitment,
    DrawRecord,
    Ledger,
    VerificationReport,
    commit_draw,
    publish,
    run_draw,
    verify_record,
    write_winners_export,
)
from drawkit.eligibility import check_participants
from drawkit.errors import DrawkitError, ReportError
from drawkit.msisdn import mask_series
from drawkit.redact import install_log_redaction, register_secrets
from drawkit.reports.params import ReportParams, operator_secret
from drawkit.sources.base import DrawDataSource, PublishReport

PARTICIPANTS_FILE = "participants.csv"
REJECTED_FILE = "rejected.csv"
SUMMARY_FILE = "cohort_summary.json"
WINNERS_FILE = "winners.csv"
RECORD_FILE = "record.json"
PUBLIC_RECORD_FILE = "record.public.json"
AUDIT_FILE = "audit.json"


# ------------------------------------------------------------------ notebook display


def setup_notebook() -> None:
    """Quiet, safe notebook output: no warnings or debug logs, redaction of numbers and
    keys in drawkit's log records, readable pandas tables."""
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.WARNING)
    install_log_redaction()
    try:
        register_secrets(Settings.from_env(require_private=False).secrets)
    except DrawkitError:
        pass  # a bad setting is reported by whoever uses it
    pd.set_option("display.max_columns", 20)
    pd.set_option("display.width", 120)


def table(frame: pd.DataFrame, caption: str | None = None, decimals: int = 3) -> Any:
    """``frame`` as a styled HTML table: no index, thousands separators, fixed decimals."""
    formats: dict[str, Any] = {}
    for column in frame.columns:
        kind = frame[column].dtype.kind
        if kind == "M":
            formats[column] = "{:%Y-%m-%d}"
        elif kind == "b":
            formats[column] = lambda v: "yes" if v else "no"
        elif kind in "iu":
            formats[column] = "{:,}"
        elif kind == "f":
            formats[column] = f"{{:,.{decimals}f}}"
    numeric = [c for c in frame.columns if frame[c].dtype.kind in "iuf"]
    styler = frame.style.format(formats, na_rep="").hide(axis="index")
    styler = styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: left; padding: 4px 10px;"},
            {"selector": "td", "props": "padding: 4px 10px;"},
            {"selector": "caption", "props": "text-align: left; font-weight: bold;"},
        ]
    )
    text = [c for c in frame.columns if c not in numeric]
    if numeric:
        styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    return styler.set_caption(caption) if caption else styler


def show_chart(fig: Any, params: ReportParams, name: str) -> Any:
    """Save ``fig`` as ``charts/<name>.png`` in the report folder and return it as an
    inline image whose alt text is the chart's title and axis labels (works whatever
    matplotlib backend the kernel has)."""
    from IPython.display import HTML

    charts.save_png(fig, params.charts_dir / f"{name}.png")
    data = base64.b64encode(charts.png_bytes(fig)).decode("ascii")
    alt = html.escape(charts.describe(fig), quote=True)
    return HTML(f'<img src="data:image/png;base64,{data}" alt="{alt}" title="{alt}">')


# ------------------------------------------------------------------ sources


@dataclass
class OpenedSource:
    """A data source and, for PostHog, the client (for its call metrics)."""

    source: DrawDataSource
    client: Any = None

    def metrics(self) -> pd.DataFrame | None:
        """The PostHog client's call metrics, or None for a local source."""
        return self.client.metrics_frame() if self.client is not None else None


def open_source(params: ReportParams) -> OpenedSource:
    """The source named by the parameters. PostHog credentials come from POSTHOG_* in the
    environment, never from a parameter."""
    if params.source == "posthog":
        from drawkit.posthog import PostHogClient
        from drawkit.sources.posthog import PostHogDataSource

        client = PostHogClient.from_env()
        return OpenedSource(PostHogDataSource(client, params.config, params.strategy), client)
    from drawkit.sources.local import LocalDataSource

    source = LocalDataSource(
        params.recharges,
        params.blacklist,
        config=params.config,
        results_dir=params.results_dir,
    )
    return OpenedSource(source)


# ------------------------------------------------------------------ 01 cohort


def key_figures(summary: Any) -> pd.DataFrame:
    """The cohort's headline numbers, as a two-column table."""
    window = summary.window
    start = window.start.isoformat() if window.start is not None else "promotion start"
    rows = [
        ("Entry window (UTC)", f"{start} to {window.cutoff.isoformat()}"),
        ("Recharge rows read", f"{summary.rows_in:,}"),
        ("Rows counted", f"{summary.rows_counted:,}"),
        ("Rows excluded by a rule", f"{sum(summary.rows_excluded.values()):,}"),
        ("Rows rejected as invalid", f"{sum(summary.rows_rejected.values()):,}"),
        ("Eligible participants", f"{summary.participants:,}"),
        ("Total points", f"{summary.total_points:,}"),
        ("Total entries (tickets)", f"{summary.total_entries:,}"),
        ("Every row accounted for", "yes" if summary.accounted else "NO"),
    ]
    for rule, count in sorted(summary.participants_excluded.items()):
        rows.append((f"Participants excluded: {rule.replace('_', ' ')}", f"{count:,}"))
    return pd.DataFrame(rows, columns=["figure", "value"])


def row_outcomes(summary: Any) -> pd.DataFrame:
    """Every input row's outcome: counted, excluded (by rule) or rejected (by reason)."""
    rows = [("counted", "counted", summary.rows_counted)]
    rows += [("excluded", rule, n) for rule, n in sorted(summary.rows_excluded.items())]
    rows += [("rejected", reason, n) for reason, n in sorted(summary.rows_rejected.items())]
    frame = pd.DataFrame(rows, columns=["outcome", "rule or reason", "rows"])
    frame["rows"] = frame["rows"].astype(np.int64)
    total = max(int(frame["rows"].sum()), 1)
    frame["share"] = (frame["rows"] / total).map("{:.1%}".format)
    return frame


def outcome_counts(outcomes: pd.DataFrame) -> dict[str, int]:
    """Outcome rows as chart labels (``excluded: outside_window``) and counts."""
    return {
        (
            r["outcome"] if r["outcome"] == "counted" else f"{r['outcome']}: {r['rule or reason']}"
        ): int(r["rows"])
        for _, r in outcomes.iterrows()
    }


def points_distribution(participants: pd.DataFrame) -> pd.DataFrame:
    """Quantiles and mean of entries per participant."""
    entries = participants["entries"].astype(np.int64)
    quantiles = [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
    labels = [
        "minimum",
        "25th percentile",
        "median",
        "75th percentile",
        "90th percentile",
        "99th percentile",
        "maximum",
    ]
    values = entries.quantile(quantiles).to_numpy() if len(entries) else np.zeros(len(quantiles))
    rows = [(label, f"{value:,.0f}") for label, value in zip(labels, values, strict=True)]
    rows.append(("mean", f"{float(entries.mean()) if len(entries) else 0.0:,.1f}"))
    return pd.DataFrame(rows, columns=["statistic", "entries"])


def metrics_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """PostHog call metrics with readable column names (``latency_mean_s`` → ``latency
    mean (s)``)."""

    def readable(name: str) -> str:
        text = str(name).replace("_", " ")
        return text[:-2] + " (s)" if text.endswith(" s") else text

    return metrics.rename(columns={c: readable(c) for c in metrics.columns})


def cohort_history(source: DrawDataSource, draw_date: date, days: int, today: Any) -> pd.DataFrame:
    """Participants and entries for the ``days`` draw dates before ``draw_date`` plus the
    draw date itself (``today``'s summary), oldest first."""
    rows = []
    for back in range(days, 0, -1):
        day = draw_date - timedelta(days=back)
        summary = source.get_eligible_participants(day).summary
        rows.append((day, summary.participants, summary.total_entries))
    rows.append((draw_date, today.participants, today.total_entries))
    frame = pd.DataFrame(rows, columns=["date", "participants", "entries"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def write_cohort(params: ReportParams, result: Any) -> dict[str, Path]:
    """Write the frozen cohort and rejected rows (private) and the summary (public)."""
    check_participants(result.participants)
    private = params.private_dir
    paths = {
        "participants": _private_csv(result.participants, private / PARTICIPANTS_FILE),
        "rejected": _private_csv(result.rejected, private / REJECTED_FILE),
    }
    summary = params.output_dir / SUMMARY_FILE
    summary.write_text(json.dumps(result.summary.to_dict(), indent=2), encoding="utf-8")
    paths["summary"] = summary
    return paths


def _private_csv(frame: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        frame.to_csv(handle, index=False)
    os.replace(tmp, path)
    return path


def _access(mode: int) -> str:
    text = stat.filemode(mode)
    return f"{text} (owner only)" if mode & 0o077 == 0 else text


def files_table(paths: dict[str, Path], params: ReportParams) -> pd.DataFrame:
    """Written files relative to the report folder, with their permissions."""
    rows = [
        (name, str(path.relative_to(params.output_dir)), _access(path.stat().st_mode))
        for name, path in paths.items()
    ]
    return pd.DataFrame(rows, columns=["file", "path in the report folder", "permissions"])


# ------------------------------------------------------------------ 02 draw


@dataclass(frozen=True)
class FrozenCohort:
    """The cohort the draw uses, read back from notebook 01's private file."""

    participants: pd.DataFrame
    exclusions: dict[str, int]


def load_cohort(params: ReportParams) -> FrozenCohort:
    """Notebook 01's participants and exclusion counts; a clear error when 01 has not run."""
    path = params.private_dir / PARTICIPANTS_FILE
    if not path.exists():
        raise ReportError(
            f"{path} is missing: run 01_daily_cohort for {params.draw_date} first "
            "(drawkit report runs the three notebooks in order)"
        )
    participants = pd.read_csv(path, dtype={"msisdn": str})
    summary_path = params.output_dir / SUMMARY_FILE
    exclusions: dict[str, int] = {}
    if summary_path.exists():
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        exclusions = {k: int(v) for k, v in summary.get("participants_excluded", {}).items()}
    return FrozenCohort(participants, exclusions)


def commit(params: ReportParams, cohort: FrozenCohort) -> Commitment:
    """Commit to the cohort digest, beacon round and secret hash (idempotent)."""
    commitment = commit_draw(
        cohort.participants,
        params.config,
        params.draw_date,
        ledger_dir=params.ledger_dir,
        beacon_round=params.beacon_round,
        secret=operator_secret(),
    )
    monitor(params, "draw_committed", {"draw_id": commitment.draw_id})
    return commitment


def monitor(params: ReportParams, event: str, properties: dict[str, Any]) -> None:
    """A monitoring event in PostHog when PostHog is the source (never fails the run)."""
    if params.source == "posthog":
        source = open_source(params).source
        source.track(event, properties)  # type: ignore[attr-defined]


def commitment_table(commitment: Commitment) -> pd.DataFrame:
    """What was committed before the randomness existed."""
    rows = [
        ("Draw id", commitment.draw_id),
        ("Cohort digest (SHA-256)", commitment.cohort_digest),
        ("Participants", f"{commitment.participants:,}"),
        ("Total entries", f"{commitment.total_entries:,}"),
        ("Beacon round", str(commitment.beacon_round) if commitment.beacon_round else "none"),
        ("Operator secret (SHA-256 of it)", commitment.secret_commitment or "no secret"),
        ("Committed at (UTC)", commitment.committed_at),
        ("Ledger entry hash", commitment.record_hash),
    ]
    return pd.DataFrame(rows, columns=["commitment", "value"])


def draw(params: ReportParams, cohort: FrozenCohort) -> DrawRecord:
    """Run the draw, or return its record when it already ran (same winners)."""
    record = run_draw(
        cohort.participants,
        params.config,
        params.draw_date,
        ledger_dir=params.ledger_dir,
        beacon=params.beacon,
        beacon_round=params.beacon_round,
        secret=operator_secret(),
        exclusions=cohort.exclusions,
    )
    completed = {"draw_id": record.draw_id, "record_hash": record.record_hash}
    monitor(params, "draw_completed", completed)
    return record


def prize_table(record: DrawRecord) -> pd.DataFrame:
    """Winners then reserves in draw order, masked, with their winning tickets."""
    values = {p.name: p.value_ngn for p in record.prizes}
    frame = pd.DataFrame(
        {
            "draw order": [w.draw_order for w in record.winners],
            "prize": [w.tier for w in record.winners],
            "role": [w.role for w in record.winners],
            "position": [w.position for w in record.winners],
            "value (₦)": [values[w.tier] for w in record.winners],
            "number": mask_series(pd.Series([w.msisdn for w in record.winners], dtype=object)),
            "entries": [w.entries for w in record.winners],
            "winning ticket": [w.ticket for w in record.winners],
            "tickets in play": [w.total_tickets_at_pick for w in record.winners],
        }
    )
    return frame.astype({"number": object})


def write_draw_outputs(params: ReportParams, record: DrawRecord) -> dict[str, Path]:
    """The private winners file and record (0600) and the masked public record."""
    private = params.private_dir
    winners = write_winners_export(record, private / WINNERS_FILE)
    record_path = private / RECORD_FILE
    fd = os.open(record_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(record.to_json())
    public = params.output_dir / PUBLIC_RECORD_FILE
    public.write_text(record.public().to_json(), encoding="utf-8")
    return {"winners export": winners, "private record": record_path, "public record": public}


def publish_table(report: PublishReport) -> pd.DataFrame:
    """What publishing did."""
    return pd.DataFrame(
        [
            ("Draw id", report.draw_id),
            ("Events sent", f"{report.sent:,}"),
            ("Already recorded (not sent again)", f"{report.already_recorded:,}"),
        ],
        columns=["publish", "value"],
    )


def publish_result(record: DrawRecord, source: DrawDataSource) -> PublishReport:
    """Publish the result to the source (safe to repeat)."""
    return publish(record, source)


# ------------------------------------------------------------------ 03 audit


@dataclass
class AuditResult:
    """Everything notebook 03 shows."""

    record: DrawRecord
    verification: VerificationReport
    chain: ChainReport
    reconciliation: audit.Reconciliation
    cohort: Any
    simulation: audit.Simulation
    bands: pd.DataFrame
    chi: audit.ChiSquare
    positions: pd.DataFrame
    ks: audit.KsResult
    lorenz_observed: pd.DataFrame
    lorenz_expected: pd.DataFrame
    history: pd.DataFrame
    checks: list[audit.Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every fairness check passed."""
        return all(c.passed for c in self.checks)


def run_audit(params: ReportParams, source: DrawDataSource) -> AuditResult:
    """Verify the record and ledger, reconcile the published result, run the statistics."""
    ledger = Ledger(params.ledger_dir)
    record = ledger.get(params.draw_id)
    if record is None:
        raise ReportError(
            f"draw {params.draw_id} is not in the ledger {params.ledger_dir}: run 02_draw_run first"
        )
    participants = load_cohort(params).participants
    verification = verify_record(record, participants, ledger=ledger, beacon=params.beacon)
    chain = ledger.verify_chain()
    reconciliation = audit.reconcile(record, source.get_published_results(record.draw_id))
    cohort = audit.audit_cohort(record, participants)
    simulation = audit.simulate_record(record, cohort, n=params.simulations)
    observed = audit.observed_indices(record, cohort)
    bands = audit.wins_by_band(cohort, observed, simulation)
    chi = audit.chi_square(bands, simulation)
    history_records = [r for r in ledger.records() if r.promotion == record.promotion]
    positions = audit.ticket_positions(history_records)
    ks = audit.ks_uniform(positions["u"])
    wins = np.bincount(observed, minlength=len(cohort))
    checks = audit.fairness_checks(
        record,
        verification=verification,
        chain_ok=chain.ok,
        reconciliation=reconciliation,
        chi=chi,
        ks=ks,
    )
    return AuditResult(
        record=record,
        verification=verification,
        chain=chain,
        reconciliation=reconciliation,
        cohort=cohort,
        simulation=simulation,
        bands=bands,
        chi=chi,
        positions=positions,
        ks=ks,
        lorenz_observed=audit.lorenz(cohort.entries, wins),
        lorenz_expected=audit.lorenz(cohort.entries, simulation.win_counts()),
        history=audit.daily_history(ledger, record.promotion),
        checks=checks,
    )


def verification_table(result: AuditResult) -> pd.DataFrame:
    """Record and ledger checks in words."""
    first = result.verification.first
    rows = [
        (
            "Record",
            "matches" if result.verification.ok else f"DIFFERS: {first.format() if first else ''}",
        ),
        ("Record hash", result.record.record_hash),
        ("Ledger chain", result.chain.format()),
        ("Seed", result.record.seed),
        ("Randomness", result.record.randomness),
        ("First DRBG words (lab self-test)", " ".join(result.record.first_words)),
    ]
    return pd.DataFrame(rows, columns=["check", "result"])


def bands_table(bands: pd.DataFrame) -> pd.DataFrame:
    """The per-band comparison with readable column names."""
    return pd.DataFrame(
        {
            "entries band": bands["band"],
            "participants": bands["participants"],
            "tickets": bands["tickets"],
            "share of tickets": bands["ticket_share"].map("{:.1%}".format),
            "observed picks": bands["observed"],
            "expected picks": bands["expected"],
            "95% interval": [
                f"{lo:g} – {hi:g}" for lo, hi in zip(bands["low"], bands["high"], strict=True)
            ],
            "inside the interval": bands["inside"].map({True: "yes", False: "NO"}),
        }
    )


def reconciliation_table(reconciliation: audit.Reconciliation) -> pd.DataFrame:
    """The reconciliation with readable column names (numbers are masked already)."""
    frame = reconciliation.table.copy()
    frame["published"] = frame["published"].map({True: "yes", False: "NO"})
    frame["matches"] = frame["matches"].map({True: "yes", False: "NO"})
    return frame.rename(
        columns={"draw_order": "draw order", "msisdn": "number", "ticket": "winning ticket"}
    )


def history_table(history: pd.DataFrame) -> pd.DataFrame:
    """The ledger history with readable column names."""
    frame = history.rename(columns={"draw_date": "draw date", "draw_id": "draw id"})
    return frame


def fairness_table(checks: list[audit.Check]) -> Any:
    """The fairness summary as a styled table, PASS in green and FAIL in red."""
    colours = {
        "PASS": "color: #1e7b34; font-weight: bold;",
        "FAIL": "color: #b03a2e; font-weight: bold;",
    }
    styler = table(audit.fairness_summary(checks), caption="Fairness checks")
    return styler.map(lambda v: colours.get(v, ""), subset=["result"])


def write_audit_summary(params: ReportParams, result: AuditResult) -> Path:
    """The audit's key results as JSON next to the report (read by tests and tools)."""
    data = {
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
        "checks": [
            {"check": c.name, "passed": c.passed, "detail": c.detail} for c in result.checks
        ],
        "passed": result.passed,
    }
    path = params.output_dir / AUDIT_FILE
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path
