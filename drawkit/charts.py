"""Charts for the cohort, draw and audit reports: one function per chart, each returning a
matplotlib Figure with titled, labelled axes (units in the labels).

Figures are built with the object API (``matplotlib.figure.Figure`` on an Agg canvas), never
pyplot: no global state leaks between charts, nothing needs closing, and the process's
backend setting (inline, GUI) is left alone. Every figure uses constrained layout, so no
label is cut at the edge; axes are fitted to the data; every bar carries its value, and a
zero bar shows as a marked "0" rather than as nothing. :func:`chart_note` explains each
chart's technical terms in plain words, one line each, for the reports to show under it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
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
MUTED = "#566573"
DPI = 110
LABEL_SIZE = 9
TAIL_QUANTILE = 0.995  # the chi-square axis ends here (or at the draw's value) plus a margin
MAX_LABELLED_BARS = 14  # above this many bars, only zero bars get a label (no clutter)

NOTES: dict[str, str] = {
    "row_accounting": (
        "Every recharge row read ends in one place. counted: it earns points. "
        "excluded: a valid row a promotion rule leaves out (outside_window: before the "
        "window opened or at/after the cutoff; duplicate_transaction: a transaction id "
        "already counted; blacklisted: the number is on the blacklist; under_1_point: "
        "less than one point's worth). rejected: an invalid row (bad number, amount or "
        "timestamp), with the reason. Log scale: each grid step is ten times the last."
    ),
    "entries_distribution": (
        "Entries: every ₦100 recharged in the window is one point and one point is one "
        "entry (one ticket in the draw). Both axes are logarithmic (each step is ten "
        "times the last), so the few participants with many entries stay visible."
    ),
    "cohort_over_days": (
        "Top: eligible participants (people) per draw date. Bottom: their total entries "
        "(one entry is one ticket in the draw). A sudden jump or drop needs an "
        "explanation (a data outage, a campaign) before the draw runs."
    ),
    "wins_by_band": (
        "Entry band: participants grouped by the entries they hold. Picks: winners and "
        "reserves. Monte Carlo: the same draw repeated with other random seeds on the "
        "same frozen cohort; the bar is the average number of picks a band gets, the "
        "whisker the range holding 95% of those simulated draws, the dot this draw."
    ),
    "chi_square_null": (
        "Pearson's chi-square adds up (observed − expected)² ÷ expected over the entry "
        "bands: 0 means picks exactly as expected, larger means further off. The bars "
        "are the values of simulated fair draws; the p-value is the share of them at "
        "least as far off as this draw (below 0.01 calls for a closer look)."
    ),
    "ticket_ecdf": (
        "Each pick's winning ticket r among the W tickets in play, as the position "
        "(r + ½) / W between 0 and 1. A fair generator spreads positions evenly, so the "
        "cumulative curve follows the diagonal. KS (Kolmogorov–Smirnov) is the largest "
        "vertical gap between curve and diagonal; its p-value says how often a fair draw "
        "gives a gap at least that large."
    ),
    "lorenz": (
        "Participants ordered from fewest to most entries; each curve adds up their "
        "share of tickets (across) and of wins (up). Wins proportional to tickets follow "
        "the dotted diagonal; one prize per person bends a fair draw above it when the "
        "prizes are many for the cohort, which the simulated curve shows."
    ),
    "draw_history": (
        "One bar per draw recorded in the ledger (the append-only, hash-chained file of "
        "every draw). Entrants: eligible participants (people). Tickets: their total "
        "entries. Winners: prize winners, reserves not included."
    ),
}


def chart_note(name: str) -> str:
    """The plain-words note shown under chart ``name`` (the chart function's name)."""
    try:
        return NOTES[name]
    except KeyError:
        raise KeyError(f"no note for chart {name!r}; charts: {', '.join(NOTES)}") from None


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


def _count_format(top: float) -> Callable[[float], str]:
    """How counts on an axis reaching ``top`` are written, one unit per axis: 12,345 up
    to 99,999, then 250k, then 5.01M (three significant digits)."""
    if top >= 1e6:
        return lambda v: f"{v / 1e6:.3g}M" if v else "0"
    if top >= 1e5:
        return lambda v: f"{v / 1e3:.3g}k" if v else "0"
    return lambda v: f"{v:,.0f}"


def _count_axis(ax: Axes, top: float) -> Callable[[float], str]:
    """Fit the y axis to counts up to ``top`` (room above for the bar labels) with round
    ticks in one unit; returns the formatter for the bar labels."""
    write = _count_format(top)
    ax.set_ylim(0, max(top, 1.0) * 1.22)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: write(v)))
    return write


def _label_bars(
    ax: Axes,
    positions: Sequence[float],
    values: Sequence[float],
    write: Callable[[float], str] = lambda v: f"{v:,.0f}",
    *,
    horizontal: bool = False,
) -> None:
    """Write each bar's value at its end; a zero bar gets a '0' and a small marker so it
    reads as zero, not as missing. With many bars only the zero bars are labelled."""
    only_zeros = len(values) > MAX_LABELLED_BARS
    for position, value in zip(positions, values, strict=True):
        if only_zeros and value != 0:
            continue
        text = write(value)
        if horizontal:
            base = ax.get_xlim()[0] if ax.get_xscale() == "log" else 0
            x = value if value > 0 else base
            ax.annotate(
                text,
                (x, position),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                ha="left",
                fontsize=LABEL_SIZE,
            )
            if value == 0:
                ax.plot([x], [position], marker="|", ms=12, mew=2, color=FILL, clip_on=False)
        else:
            ax.annotate(
                text,
                (position, value),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=LABEL_SIZE,
            )
            if value == 0:
                ax.plot([position], [0], marker="_", ms=14, mew=2, color=MUTED, clip_on=False)


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
    xlabels = [ax.get_xlabel().replace("\n", " ") for ax in axes if ax.get_xlabel()]
    if xlabels:
        parts.append(f"x axis: {xlabels[-1]}")
    ylabels = [ax.get_ylabel().replace("\n", " ") for ax in axes if ax.get_ylabel()]
    if ylabels:
        parts.append("y axis: " + "; ".join(dict.fromkeys(ylabels)))
    return ". ".join(p for p in parts if p)


def _no_data(ax: Axes, text: str) -> None:
    """Say there is nothing to show, instead of an empty frame with meaningless ticks."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=MUTED)


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
        ax.set_xlim(1, bins[-1] if len(bins) > 1 else 2)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(_THOUSANDS)
            axis.set_minor_formatter(NullFormatter())
    else:
        _no_data(ax, "no eligible participants")
    ax.set_xlabel("entries per participant (1 entry = 1 point = ₦100 recharged), log scale")
    ax.set_ylabel("participants (log scale)")
    return fig


def row_accounting(counts: Mapping[str, int]) -> Figure:
    """Horizontal bars: input rows counted, excluded by rule and rejected by reason."""
    fig, ax = _figure("What happened to every input row", (8.0, 0.45 * max(len(counts), 3) + 1.6))
    labels = list(counts)
    values = [int(counts[k]) for k in labels]
    y = np.arange(len(labels))
    ax.barh(y, values, color=FILL)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    positive = [v for v in values if v > 0]
    top = max(values, default=0)
    if positive and max(positive) > 20 * min(positive):
        ax.set_xscale("log")  # one outcome dominates: keep the small ones visible
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(0.5, top * 4)  # from 0.5, so a bar of 1 row still shows
        ax.set_xlabel("recharge rows (log scale)")
    else:
        ax.set_xlim(0, max(top, 1) * 1.15)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("recharge rows")
    ax.set_ylabel("outcome")
    ax.xaxis.set_major_formatter(_THOUSANDS)
    _label_bars(ax, y, values, horizontal=True)
    ax.grid(True, axis="x", alpha=0.3)
    ax.grid(False, axis="y")
    return fig


def cohort_over_days(history: pd.DataFrame) -> Figure:
    """Participants and total entries per draw date (columns date, participants, entries),
    one panel each: two scales on one axis would hide a change in either."""
    return _panels(
        "Cohort size: this draw date and the days before",
        history["date"],
        (
            (history["participants"], "participants\n(people)", FILL),
            (history["entries"], "total entries\n(tickets)", EXPECTED),
        ),
        (8.0, 4.8),
    )


def _panels(
    title: str,
    dates: pd.Series,
    series: Sequence[tuple[pd.Series, str, str]],
    size: tuple[float, float],
) -> Figure:
    """Stacked bar panels over the same draw dates, each with its own fitted axis, every
    bar labelled with its value (only the zero bars when there are many)."""
    fig = _new_figure(size)
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(title, x=0.01, ha="left", fontsize=12)
    labels = pd.to_datetime(dates).dt.strftime("%d %b").tolist()
    x = np.arange(len(labels))
    for ax, (column, label, color) in zip(axes, series, strict=True):
        values = pd.Series(column).to_numpy(dtype=float)
        ax.bar(x, values, color=color)
        ax.set_ylabel(label)
        write = _count_axis(ax, values.max(initial=0))
        ax.grid(True, axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        _label_bars(ax, x, values, write)
    if not len(labels):
        _no_data(axes[0], "no draws yet")
    axes[-1].set_xticks(x, labels)
    if len(labels) > MAX_LABELLED_BARS:
        axes[-1].tick_params(axis="x", labelrotation=90)
    axes[-1].set_xlabel("draw date")
    fig.align_ylabels(axes)
    return fig


# ------------------------------------------------------------------ audit (notebook 03)


def wins_by_band(table: pd.DataFrame, simulations: int) -> Figure:
    """Observed picks per entry band against the Monte Carlo expectation and 95% interval."""
    fig, ax = _figure("Observed vs expected wins per entry band")
    x = np.arange(len(table))
    expected = table["expected"].to_numpy(dtype=float)
    observed = table["observed"].to_numpy(dtype=float)
    err = np.vstack([expected - table["low"], table["high"] - expected])
    ax.bar(x, expected, color=FILL, alpha=0.6, label="expected (Monte Carlo mean)")
    ax.errorbar(x, expected, yerr=err, fmt="none", ecolor=EXPECTED, capsize=6, label="95% interval")
    ax.scatter(
        x, observed, color=OBSERVED, zorder=3, s=50, clip_on=False, label="observed in this draw"
    )
    top = max(
        float(table["high"].to_numpy(dtype=float).max(initial=0)),
        float(observed.max(initial=0)),
        1.0,
    )
    for xi, exp, obs in zip(x, expected, observed, strict=True):
        ax.annotate(
            f"{obs:.0f}",
            (xi, obs),
            xytext=(7, 2),
            textcoords="offset points",
            va="bottom",
            ha="left",
            color=OBSERVED,
            fontsize=LABEL_SIZE,
        )
        ax.annotate(
            f"exp. {exp:.2f}" if exp < 1 else f"exp. {exp:.1f}",
            (xi, 0),
            xytext=(-3, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
            color=EXPECTED,
            fontsize=LABEL_SIZE - 1,
        )
    ax.set_xticks(x, table["band"])
    ax.set_xlabel(
        "entries held by the participant (band)\n"
        f"expectation from {simulations:,} simulated draws on the same cohort"
    )
    ax.set_ylabel("picks (winners + reserves)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, top * 1.35 + 0.5)
    ax.legend(frameon=False, fontsize=LABEL_SIZE, loc="upper left")
    return fig


def chi_square_axis_limit(chi: ChiSquare) -> float:
    """Where the chi-square axis ends: past the draw's value and nearly all simulated
    values (the 99.5th percentile), not at a lone far outlier; a short tail is shown whole."""
    simulated = np.asarray(chi.simulated, dtype=float)
    bulk = float(np.quantile(simulated, TAIL_QUANTILE)) if len(simulated) else 0.0
    limit = max(bulk, float(chi.statistic), 1.0) * 1.1
    most = float(simulated.max(initial=0.0))
    return max(limit, most * 1.03) if most <= limit * 1.25 else limit


def chi_square_null(chi: ChiSquare) -> Figure:
    """Simulated chi-square statistics (the null distribution) with the draw's value."""
    fig, ax = _figure(f"Chi-square over entry bands: Monte Carlo p-value {chi.pvalue:.3f}")
    simulated = np.asarray(chi.simulated, dtype=float)
    limit = chi_square_axis_limit(chi)
    shown = simulated[simulated <= limit]
    beyond = simulated[simulated > limit]
    ax.hist(
        shown,
        bins=np.linspace(0, limit, 31),
        color=FILL,
        edgecolor="white",
        label=f"{chi.simulations:,} simulated fair draws",
    )
    ax.axvline(chi.statistic, color=OBSERVED, lw=2, label=f"this draw ({chi.statistic:.2f})")
    ax.set_xlim(0, limit)
    ax.set_xlabel("Pearson chi-square statistic (no unit; 0 = picks exactly as expected)")
    ax.set_ylabel("simulated draws")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(beyond):  # said in the legend, so the axis can stay fitted to the bulk
        draws = "draw" if len(beyond) == 1 else "draws"
        ax.plot(
            [],
            [],
            ls="none",
            label=f"off the chart: {len(beyond):,} simulated {draws} "
            f"above {limit:.1f} (largest {beyond.max():.1f})",
        )
    fig.legend(
        loc="outside lower center",
        ncols=3 if len(beyond) else 2,
        frameon=False,
        fontsize=LABEL_SIZE,
    )
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
    if not len(values):
        _no_data(ax, "no winning tickets in the ledger yet")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("winning ticket position r / W (share of the tickets in play)")
    ax.set_ylabel("cumulative share of picks")
    ax.legend(frameon=False, fontsize=LABEL_SIZE, loc="upper left")
    return fig


def lorenz(observed: pd.DataFrame, expected: pd.DataFrame | None = None) -> Figure:
    """Cumulative share of wins vs share of tickets (participants by entries, fewest first)."""
    fig, ax = _figure("Share of wins vs share of tickets", (6.5, 5.0))
    ax.plot([0, 1], [0, 1], color="gray", ls=":", label="wins exactly proportional to tickets")
    if expected is not None:
        ax.plot(
            expected["ticket_share"],
            expected["win_share"],
            color=EXPECTED,
            label="simulated fair draws (pooled)",
        )
    ax.plot(observed["ticket_share"], observed["win_share"], color=OBSERVED, label="this draw")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("cumulative share of tickets\n(participants with fewest entries first)")
    ax.set_ylabel("cumulative share of wins")
    ax.legend(frameon=False, fontsize=LABEL_SIZE, loc="upper left")
    return fig


def draw_history(history: pd.DataFrame) -> Figure:
    """Entrants, tickets and winners per recorded draw (from the ledger)."""
    return _panels(
        "Draws in the ledger: entrants, tickets and winners per day",
        history["draw_date"],
        (
            (history["entrants"], "entrants\n(people)", FILL),
            (history["tickets"], "tickets\n(entries)", EXPECTED),
            (history["winners"], "winners\n(people)", OBSERVED),
        ),
        (8.0, 6.5),
    )
