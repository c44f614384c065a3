"""Charts for the cohort, draw and audit reports: one function per chart, each returning a
matplotlib Figure with titled, labelled axes (units in the labels).

Figures are built with the object API (``matplotlib.figure.Figure`` on an Agg canvas), never
pyplot: no global state leaks between charts, nothing needs closing, and the process's
backend setting (inline, GUI) is left alone.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, PercentFormatter

from drawkit.audit import ChiSquare, KsResult

SIZE = (8.0, 4.5)
OBSERVED = "#c0392b"
EXPECTED = "#2c3e50"
FILL = "#5dade2"
DPI = 110


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure(title: str, size: tuple[float, float] = SIZE) -> tuple[Figure, Axes]:
    fig = _new_figure(size)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=12, loc="left")
    ax.grid(True, axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


_THOUSANDS = FuncFormatter(lambda x, _pos: f"{x:,.0f}")


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (no software/date metadata, so reruns are byte-identical)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def png_bytes(fig: Figure) -> bytes:
    """``fig`` rendered as PNG bytes (for inline display in a notebook)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def describe(fig: Figure) -> str:
    """The chart's title and axis labels in words (the image's alt text)."""
    axes = [ax for ax in fig.axes if ax.get_xlabel() or ax.get_ylabel()]
    title = fig.get_suptitle() or (axes[0].get_title(loc="left") if axes else "")
    parts = [title]
    xlabels = [ax.get_xlabel() for ax in axes if ax.get_xlabel()]
    if xlabels:
        parts.append(f"x axis: {xlabels[-1]}")
    ylabels = [ax.get_ylabel() for ax in axes if ax.get_ylabel()]
    if ylabels:
        parts.append("y axis: " + "; ".join(dict.fromkeys(ylabels)))
    return ". ".join(p for p in parts if p)


# ------------------------------------------------------------------ cohort (notebook 01)


def entries_distribution(participants: pd.DataFrame) -> Figure:
    """Histogram of entries per participant (log-scaled counts: the tail is long)."""
    fig, ax = _figure("Entries per participant")
    entries = participants["entries"].to_numpy()
    if len(entries):
        top = max(int(entries.max()), 1)
        bins = np.unique(np.round(np.geomspace(1, top + 1, num=40)).astype(int))
        ax.hist(entries, bins=bins if len(bins) > 1 else 1, color=FILL, edgecolor="white")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(_THOUSANDS)
            axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("entries per participant (1 entry = 1 point = ₦100 recharged), log scale")
    ax.set_ylabel("participants (log scale)")
    return fig


def row_accounting(counts: Mapping[str, int]) -> Figure:
    """Horizontal bars: input rows counted, excluded by rule and rejected by reason."""
    fig, ax = _figure("What happened to every input row", (8.0, 0.5 * max(len(counts), 3) + 1.5))
    labels = list(counts)
    values = [int(counts[k]) for k in labels]
    bars = ax.barh(labels, values, color=FILL)
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=9)
    ax.invert_yaxis()
    positive = [v for v in values if v > 0]
    if positive and max(positive) > 20 * min(positive):
        ax.set_xscale("log")  # one outcome dominates: keep the small ones visible
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("recharge rows (log scale)")
    else:
        ax.set_xlabel("recharge rows")
    ax.set_ylabel("outcome")
    ax.xaxis.set_major_formatter(_THOUSANDS)
    ax.set_xlim(right=max(values, default=1) * (4 if ax.get_xscale() == "log" else 1.15))
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def cohort_over_days(history: pd.DataFrame) -> Figure:
    """Participants and total entries per draw date (columns date, participants, entries)."""
    fig, ax = _figure("Cohort size over the previous days")
    dates = pd.to_datetime(history["date"]).dt.strftime("%d %b")
    ax.bar(dates, history["participants"], color=FILL, label="participants")
    ax.set_xlabel("draw date")
    ax.set_ylabel("participants")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    right = ax.twinx()
    right.plot(dates, history["entries"], color=EXPECTED, marker="o", label="entries")
    right.set_ylabel("total entries (tickets)")
    right.yaxis.set_major_formatter(_THOUSANDS)
    right.set_ylim(0, max(float(history["entries"].max()), 1.0) * 1.15)
    ax.set_ylim(0, max(float(history["participants"].max()), 1.0) * 1.15)
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return fig


# ------------------------------------------------------------------ audit (notebook 03)


def wins_by_band(table: pd.DataFrame, simulations: int) -> Figure:
    """Observed picks per entry band against the Monte Carlo expectation and 95% interval."""
    fig, ax = _figure("Observed vs expected wins per entry band")
    x = np.arange(len(table))
    expected = table["expected"].to_numpy(dtype=float)
    err = np.vstack([expected - table["low"], table["high"] - expected])
    ax.bar(x, expected, color=FILL, alpha=0.6, label="expected (Monte Carlo mean)")
    ax.errorbar(x, expected, yerr=err, fmt="none", ecolor=EXPECTED, capsize=6, label="95% interval")
    ax.scatter(x, table["observed"], color=OBSERVED, zorder=3, s=50, label="observed in this draw")
    ax.set_xticks(x, table["band"])
    ax.set_xlabel(
        f"entries held by the participant (band); expectation from {simulations:,} "
        "simulated draws on the same cohort"
    )
    ax.set_ylabel("picks (winners + reserves)")
    ax.set_ylim(0, max(float(table["high"].max()), float(table["observed"].max())) * 1.3 + 0.5)
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return fig


def chi_square_null(chi: ChiSquare) -> Figure:
    """Simulated chi-square statistics (the null distribution) with the draw's value."""
    fig, ax = _figure(f"Chi-square over entry bands: Monte Carlo p-value {chi.pvalue:.3f}")
    ax.hist(chi.simulated, bins=30, color=FILL, edgecolor="white", label="simulated fair draws")
    ax.axvline(chi.statistic, color=OBSERVED, lw=2, label=f"this draw ({chi.statistic:.2f})")
    ax.set_xlabel("Pearson chi-square statistic (dimensionless)")
    ax.set_ylabel("simulated draws")
    ax.legend(frameon=False, fontsize=9)
    return fig


def ticket_ecdf(u: pd.Series | np.ndarray, ks: KsResult) -> Figure:
    """ECDF of winning ticket positions r/W against the uniform diagonal, with the KS test."""
    fig, ax = _figure(
        f"Winning ticket positions vs uniform: KS {ks.statistic:.3f}, p-value {ks.pvalue:.3f}"
    )
    values = np.sort(np.asarray(u, dtype=float))
    steps = np.arange(1, len(values) + 1) / max(len(values), 1)
    ax.plot([0, 1], [0, 1], color=EXPECTED, ls="--", label="uniform (fair)")
    ax.step(
        np.concatenate([[0], values, [1]]),
        np.concatenate([[0], steps, [1]]),
        where="post",
        color=OBSERVED,
        label=f"observed ({len(values)} tickets)",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("winning ticket position r / W (share of tickets in play)")
    ax.set_ylabel("cumulative share of picks")
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return fig


def lorenz(observed: pd.DataFrame, expected: pd.DataFrame | None = None) -> Figure:
    """Cumulative share of wins vs share of tickets (participants by entries, fewest first)."""
    fig, ax = _figure("Share of wins vs share of tickets", (6.0, 5.0))
    ax.plot([0, 1], [0, 1], color="gray", ls=":", label="wins exactly proportional to tickets")
    if expected is not None:
        ax.plot(
            expected["ticket_share"],
            expected["win_share"],
            color=EXPECTED,
            label="simulated draws (pooled)",
        )
    ax.plot(observed["ticket_share"], observed["win_share"], color=OBSERVED, label="this draw")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("cumulative share of tickets (participants with fewest entries first)")
    ax.set_ylabel("cumulative share of wins")
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return fig


def draw_history(history: pd.DataFrame) -> Figure:
    """Entrants, tickets and winners per recorded draw (from the ledger)."""
    fig = _new_figure((8.0, 6.0))
    axes = fig.subplots(3, 1, sharex=True)
    fig.suptitle("Draws in the ledger: entrants, tickets and winners per day", x=0.02, ha="left")
    dates = pd.to_datetime(history["draw_date"]).dt.strftime("%d %b")
    series = (
        ("entrants", "entrants (people)", FILL),
        ("tickets", "tickets (entries)", EXPECTED),
        ("winners", "winners (people)", OBSERVED),
    )
    for ax, (column, label, color) in zip(axes, series, strict=True):
        ax.bar(dates, history[column], color=color)
        ax.set_ylabel(label)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(_THOUSANDS)
        ax.grid(True, axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xlabel("draw date")
    return fig
