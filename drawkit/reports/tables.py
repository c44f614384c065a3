"""Presentation for the report notebooks: tables and charts from the use-cases' results.

Nothing here computes a draw or reads a source; it formats what :mod:`drawkit.app`
returns. Every table holds masked numbers only.
"""

from __future__ import annotations

import base64
import html
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from drawkit import audit, charts
from drawkit.msisdn import mask_series

if TYPE_CHECKING:
    from drawkit.app.auditing import AuditResult
    from drawkit.draw import Commitment, DrawRecord
    from drawkit.eligibility import EligibilitySummary
    from drawkit.sources.base import PublishReport


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


def show_chart(fig: Any, folder: Path, name: str, explain: str | None = None) -> Any:
    """Save ``fig`` as ``<folder>/charts/<name>.png`` and return it as an inline image
    whose alt text is the chart's title and axis labels, with the plain-words note of the
    chart function ``explain`` under it (drawkit.charts.chart_note)."""
    from IPython.display import HTML

    charts.save_png(fig, Path(folder) / "charts" / f"{name}.png")
    data = base64.b64encode(charts.png_bytes(fig)).decode("ascii")
    alt = html.escape(charts.describe(fig), quote=True)
    note = ""
    if explain:
        words = html.escape(charts.chart_note(explain))
        note = f'<p style="max-width: 60em; color: #444;"><em>{words}</em></p>'

    return HTML(f'<img src="data:image/png;base64,{data}" alt="{alt}" title="{alt}">{note}')


def local_time(moment: Any, zone: str = "Africa/Lagos") -> str:
    """An instant as ``YYYY-MM-DD HH:MM:SS UTC (HH:MM:SS WAT)``."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    local = when.astimezone(ZoneInfo(zone))
    return f"{when.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M:%S} UTC ({local:%H:%M:%S} {local:%Z})"


# ------------------------------------------------------------------ 01 cohort


def key_figures(summary: EligibilitySummary, digest: str) -> pd.DataFrame:
    """The cohort's headline numbers, as a two-column table."""
    window = summary.window
    start = window.start.isoformat() if window.start is not None else "promotion start"
    rows = [
        ("Entry window (UTC)", f"{start} to {window.cutoff.isoformat()}"),
        ("Entry window (WAT, the promotion's time)", _window_wat(window)),
        ("Recharge rows read", f"{summary.rows_in:,}"),
        ("Rows counted", f"{summary.rows_counted:,}"),
        ("Rows excluded by a rule", f"{sum(summary.rows_excluded.values()):,}"),
        ("Rows rejected as invalid", f"{sum(summary.rows_rejected.values()):,}"),
        ("Eligible participants", f"{summary.participants:,}"),
        ("Total points", f"{summary.total_points:,}"),
        ("Total entries (tickets)", f"{summary.total_entries:,}"),
        ("Every row accounted for", "yes" if summary.accounted else "NO"),
        ("Cohort digest (SHA-256)", digest or "empty cohort"),
    ]
    for rule, count in sorted(summary.participants_excluded.items()):
        rows.append((f"Participants excluded: {rule.replace('_', ' ')}", f"{count:,}"))
    return pd.DataFrame(rows, columns=["figure", "value"])


def _window_wat(window: Any, zone: str = "Africa/Lagos") -> str:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    start = f"{window.start.astimezone(tz):%Y-%m-%d %H:%M}" if window.start else "promotion start"
    return f"{start} to {window.cutoff.astimezone(tz):%Y-%m-%d %H:%M} WAT"


def rejected_sample(rejected: pd.DataFrame, per_reason: int = 3) -> pd.DataFrame:
    """A few rejected rows of each reason (numbers masked), to find and fix in the data."""
    columns = ["reason", "transaction_id", "msisdn", "amount_ngn", "timestamp"]
    if rejected is None or len(rejected) == 0:
        return pd.DataFrame(columns=columns)
    sample = rejected.groupby("reason", sort=True, group_keys=False).head(per_reason).copy()
    sample["msisdn"] = mask_series(sample["msisdn"].astype(object))
    shown = [c for c in columns if c in sample.columns]
    return sample[shown].astype(object).fillna("").astype(str)


def row_outcomes(summary: EligibilitySummary) -> pd.DataFrame:
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
    labels = ["minimum", "25th percentile", "median", "75th percentile", "90th percentile",
              "99th percentile", "maximum"]
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


def _access(mode: int) -> str:
    text = stat.filemode(mode)
    return f"{text} (owner only)" if mode & 0o077 == 0 else text


def files_table(paths: dict[str, Path], root: Path) -> pd.DataFrame:
    """Written files relative to the workspace, with their permissions."""
    rows = []
    for name, path in paths.items():
        try:
            shown = str(Path(path).resolve().relative_to(Path(root).resolve()))
        except ValueError:
            shown = str(path)
        rows.append((name, shown, _access(Path(path).stat().st_mode)))
    return pd.DataFrame(rows, columns=["file", "path in the workspace", "permissions"])


# ------------------------------------------------------------------ 02 draw


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


def prize_table(record: DrawRecord, events: list[dict] | None = None) -> pd.DataFrame:
    """Winners then reserves in draw order, masked, with their winning tickets and what
    happened since the draw (drop-outs, promoted reserves, claims)."""
    from drawkit.reports.landing import winners_from_record

    values = {p.name: p.value_ngn for p in record.prizes}
    lines, _ = winners_from_record(record.public(), events or [])
    since = [line.status or "as drawn" for line in lines]
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
            "since the draw": since,
        }
    )
    return frame.astype({"number": object})


def beacon_table(record: DrawRecord, findings: Any = ()) -> pd.DataFrame:
    """Where the draw's randomness came from and how it was checked, and when each step
    happened (the commitment before the round existed, the draw after it)."""
    rows = [("Randomness", record.randomness)]
    if record.beacon_round is not None:
        rows.append(("Beacon round", f"{record.beacon_round:,}"))
        if record.beacon_chain is not None:
            published = record.beacon_chain.published_at(record.beacon_round)
            rows += [("Beacon chain", record.beacon_chain.hash),
                     ("Round published at", local_time(published))]
        rows += [("Beacon value (SHA-256 of the signature)", record.beacon_value or "none"),
                 ("Beacon signature", record.beacon_signature or "none in the record"),
                 ("Fetched from", record.beacon_relay or "not recorded")]
    rows += [("Committed at", local_time(record.commitment.committed_at)),
             ("Drawn at", local_time(record.created_at)),
             ("Operator secret (revealed)", record.secret or "no secret")]
    rows += [(f.check, ("PASS — " if f.passed else "FAIL — ") + f.detail) for f in findings]
    return pd.DataFrame(rows, columns=["randomness", "value"])


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


# ------------------------------------------------------------------ 03 audit


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
    rows += [(f.check, ("PASS — " if f.passed else "FAIL — ") + f.detail)
             for f in result.verification.findings]
    if result.record.beacon_relay:
        rows.append(("Beacon fetched from", result.record.beacon_relay))
    return pd.DataFrame(rows, columns=["check", "result"])


TERMS = {
    "First DRBG words (lab self-test)": "the generator's first four 64-bit outputs for this "
    "seed, so a test lab can check the raw stream before any scaling",
    "Seed": "SHA-256 over the draw id, the cohort digest, the beacon value and the secret",
    "Record hash": "SHA-256 of the full record; the ledger chains these hashes",
}


def terms_note(*names: str) -> Any:
    """One line per technical term, in plain words."""
    from IPython.display import Markdown

    return Markdown("\n".join(f"- **{n}**: {TERMS[n]}." for n in names))


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
    return history.rename(columns={"draw_date": "draw date", "draw_id": "draw id"})


def fairness_table(checks: list[audit.Check]) -> Any:
    """The fairness summary as a styled table, PASS in green and FAIL in red."""
    colours = {
        "PASS": "color: #1e7b34; font-weight: bold;",
        "FAIL": "color: #b03a2e; font-weight: bold;",
    }
    styler = table(audit.fairness_summary(checks), caption="Fairness checks")
    return styler.map(lambda v: colours.get(v, ""), subset=["result"])
