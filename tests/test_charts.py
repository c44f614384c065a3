"""Charts: each function returns a titled Figure with labelled axes and renders to PNG."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from drawkit import audit, charts
from drawkit.config import PromotionConfig
from drawkit.draw import Ledger, run_draw

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    ledger_dir = tmp_path_factory.mktemp("ledger")
    rng = np.random.default_rng(3)
    n = 400
    participants = pd.DataFrame(
        {
            "msisdn": [f"+23470{i:08d}" for i in range(n)],
            "entries": np.minimum(rng.geometric(0.12, n), 90),
        }
    )
    record = run_draw(
        participants, PromotionConfig(), date(2026, 11, 24), ledger_dir=ledger_dir, beacon=b"b" * 32
    )
    cohort = audit.cohort_as_drawn(record, participants)
    sim = audit.simulate_record(record, cohort, n=100)
    observed = audit.observed_indices(record, cohort)
    table = audit.wins_by_band(cohort, observed, sim)
    return {
        "participants": participants,
        "record": record,
        "cohort": cohort,
        "sim": sim,
        "observed": observed,
        "table": table,
        "ledger": Ledger(ledger_dir),
    }


def all_figures(a) -> dict[str, Figure]:
    positions = audit.ticket_positions([a["record"]])
    wins = np.bincount(a["observed"], minlength=len(a["cohort"]))
    return {
        "entries": charts.entries_distribution(a["participants"]),
        "rows": charts.row_accounting({"counted": 900, "outside_window": 40, "invalid_msisdn": 3}),
        "cohort_days": charts.cohort_over_days(
            pd.DataFrame(
                {
                    "date": pd.to_datetime(["2026-11-22", "2026-11-23", "2026-11-24"]),
                    "participants": [380, 395, 400],
                    "entries": [5000, 5200, 5100],
                }
            )
        ),
        "bands": charts.wins_by_band(a["table"], a["sim"].n),
        "chi": charts.chi_square_null(audit.chi_square(a["table"], a["sim"])),
        "ecdf": charts.ticket_ecdf(positions["u"], audit.ks_uniform(positions["u"])),
        "lorenz": charts.lorenz(
            audit.lorenz(a["cohort"].entries, wins),
            audit.lorenz(a["cohort"].entries, a["sim"].win_counts()),
        ),
        "history": charts.draw_history(audit.daily_history(a["ledger"])),
    }


def test_every_chart_has_a_title_and_labelled_axes(audited) -> None:
    for name, fig in all_figures(audited).items():
        assert isinstance(fig, Figure), name
        axes = [ax for ax in fig.axes if ax.has_data()]
        assert axes, name
        title = fig.get_suptitle() or axes[0].get_title(loc="left")
        assert title, f"{name} has no title"
        for ax in axes:
            assert ax.get_ylabel(), f"{name} has an unlabelled y axis"
        assert any(ax.get_xlabel() for ax in fig.axes), f"{name} has no x label"


def test_save_png_writes_identical_images(audited, tmp_path) -> None:
    fig = charts.wins_by_band(audited["table"], audited["sim"].n)
    first = charts.save_png(fig, tmp_path / "a" / "bands.png").read_bytes()
    second = charts.save_png(charts.wins_by_band(audited["table"], 100), tmp_path / "b.png")
    assert first.startswith(PNG_MAGIC) and len(first) > 10_000
    assert first == second.read_bytes()
    assert charts.png_bytes(fig) == first


def test_band_chart_shows_observed_and_interval(audited) -> None:
    fig = charts.wins_by_band(audited["table"], audited["sim"].n)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == audited["table"]["band"].tolist()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "observed in this draw" in legend and "95% interval" in legend


def test_chi_square_chart_marks_the_observed_statistic(audited) -> None:
    chi = audit.chi_square(audited["table"], audited["sim"])
    fig = charts.chi_square_null(chi)
    assert f"{chi.pvalue:.3f}" in fig.axes[0].get_title(loc="left")
    assert any(line.get_xdata()[0] == pytest.approx(chi.statistic) for line in fig.axes[0].lines)


def test_describe_names_title_and_axes(audited) -> None:
    text = charts.describe(charts.wins_by_band(audited["table"], 100))
    assert text.startswith("Observed vs expected wins per entry band")
    assert "x axis: entries held by the participant (band)" in text
    assert "y axis: picks (winners + reserves)" in text
    history = charts.describe(charts.draw_history(audit.daily_history(audited["ledger"])))
    assert "entrants (people)" in history and "winners (people)" in history


# ------------------------------------------------------------------ looked-at fixes


def texts_of(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_no_label_is_clipped(audited) -> None:
    """Every tick label, axis label, title, legend and bar label lies inside the image."""
    for name, fig in all_figures(audited).items():
        renderer = fig.canvas.get_renderer()
        fig.canvas.draw()
        box = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
        inside = fig.bbox
        assert box.x0 >= inside.x0 - 1 and box.y0 >= inside.y0 - 1, (name, box, inside)
        assert box.x1 <= inside.x1 + 1 and box.y1 <= inside.y1 + 1, (name, box, inside)


def fake_chi(statistic: float, simulated: np.ndarray) -> audit.ChiSquare:
    pvalue = (1 + np.sum(simulated >= statistic)) / (len(simulated) + 1)
    return audit.ChiSquare(statistic, float(pvalue), len(simulated), 5, simulated)


def test_chi_square_axis_fits_the_bulk_not_a_lone_outlier() -> None:
    rng = np.random.default_rng(0)
    simulated = np.concatenate([np.minimum(rng.chisquare(4, 499), 14.5), [50.0]])
    fig = charts.chi_square_null(fake_chi(6.2, simulated))
    right = fig.axes[0].get_xlim()[1]
    assert 14.5 < right < 20, right  # not stretched to 50
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("off the chart: 1 simulated draw above" in t and "50.0" in t for t in legend)


def test_chi_square_axis_always_shows_the_draws_value() -> None:
    simulated = np.random.default_rng(1).chisquare(4, 500)
    for statistic in (0.5, 80.0):
        fig = charts.chi_square_null(fake_chi(statistic, simulated))
        assert fig.axes[0].get_xlim()[1] > statistic
    even = np.linspace(0.0, 10.0, 500)
    short_tail = charts.chi_square_null(fake_chi(3.0, even))
    assert short_tail.axes[0].get_xlim()[1] >= even.max()  # nothing hidden
    assert not any("off the chart" in t.get_text() for t in short_tail.legends[0].get_texts())


def test_chi_square_axis_fits_real_simulations(audited) -> None:
    chi = audit.chi_square(audited["table"], audited["sim"])
    right = charts.chi_square_null(chi).axes[0].get_xlim()[1]
    assert max(chi.statistic, np.quantile(chi.simulated, 0.99)) < right
    assert right <= max(chi.simulated.max(), chi.statistic) * 1.2


def test_every_bar_has_its_value_and_zero_bars_show() -> None:
    counts = {"counted": 900, "excluded: blacklisted": 0, "rejected: missing_amount": 3}
    fig = charts.row_accounting(counts)
    ax = fig.axes[0]
    assert texts_of(ax) == ["900", "0", "3"]
    zero_marks = [line for line in ax.lines if line.get_marker() == "|"]
    assert len(zero_marks) == 1 and zero_marks[0].get_ydata()[0] == 1  # the blacklisted row
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] < 1  # a bar of 1 row still shows


def test_history_panels_label_bars_and_fit_their_axes() -> None:
    history = pd.DataFrame(
        {
            "draw_date": pd.to_datetime(["2026-11-22", "2026-11-23", "2026-11-24"]),
            "entrants": [5_012_345, 5_400_000, 0],
            "tickets": [96_700_000, 107_000_000, 0],
            "winners": [11, 3, 0],
        }
    )
    fig = charts.draw_history(history)
    entrants, tickets, winners = fig.axes
    assert texts_of(entrants) == ["5.01M", "5.4M", "0"]
    assert texts_of(tickets) == ["96.7M", "107M", "0"]
    assert texts_of(winners) == ["11", "3", "0"]
    for ax, top in ((entrants, 5_400_000), (tickets, 107_000_000), (winners, 11)):
        low, high = ax.get_ylim()
        assert low == 0 and top < high <= top * 1.3
        assert sum(line.get_marker() == "_" for line in ax.lines) == 1  # the zero bar
    fig.canvas.draw()
    label_x = {round(ax.yaxis.label.get_window_extent().x0) for ax in fig.axes}
    assert len(label_x) == 1, "the panels' y labels are not aligned"


def test_many_bars_label_only_the_zero_ones() -> None:
    days = pd.date_range("2026-10-01", periods=30)
    winners = [11] * 29 + [0]
    fig = charts.draw_history(
        pd.DataFrame({"draw_date": days, "entrants": 100, "tickets": 900, "winners": winners})
    )
    assert texts_of(fig.axes[2]) == ["0"]


def test_cohort_over_days_has_one_panel_per_scale() -> None:
    history = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-11-22", "2026-11-23", "2026-11-24"]),
            "participants": [0, 11_000, 11_500],
            "entries": [0, 220_000, 230_000],
        }
    )
    fig = charts.cohort_over_days(history)
    participants, entries = fig.axes
    assert texts_of(participants) == ["0", "11,000", "11,500"]
    assert texts_of(entries) == ["0", "220k", "230k"]
    assert "(people)" in participants.get_ylabel() and "(tickets)" in entries.get_ylabel()


def test_band_chart_labels_observed_and_expected(audited) -> None:
    table = audited["table"]
    texts = texts_of(charts.wins_by_band(table, 100).axes[0])
    assert texts[0::2] == [f"{v}" for v in table["observed"]]
    assert all(t.startswith("exp. ") for t in texts[1::2]) and len(texts) == 2 * len(table)


def test_empty_inputs_say_so() -> None:
    fig = charts.entries_distribution(pd.DataFrame({"entries": []}))
    assert "no eligible participants" in texts_of(fig.axes[0])
    empty_history = pd.DataFrame(columns=["draw_date", "entrants", "tickets", "winners"])
    assert "no draws yet" in texts_of(charts.draw_history(empty_history).axes[0])


CHART_FUNCTIONS = (
    "entries_distribution",
    "row_accounting",
    "cohort_over_days",
    "wins_by_band",
    "chi_square_null",
    "ticket_ecdf",
    "lorenz",
    "draw_history",
)


def test_every_chart_has_a_note_explaining_its_terms() -> None:
    from drawkit.eligibility import RULES

    for name in CHART_FUNCTIONS:
        assert callable(getattr(charts, name))
        assert len(charts.chart_note(name)) > 60, name
    assert set(charts.NOTES) == set(CHART_FUNCTIONS)
    for rule in RULES:
        assert rule in charts.chart_note("row_accounting"), rule
    terms = {
        "wins_by_band": ["Monte Carlo", "95%", "Picks"],
        "chi_square_null": ["chi-square", "p-value"],
        "ticket_ecdf": ["KS (Kolmogorov–Smirnov)", "(r + ½) / W"],
        "entries_distribution": ["₦100", "logarithmic"],
        "draw_history": ["ledger"],
    }
    for name, words in terms.items():
        for word in words:
            assert word in charts.chart_note(name), (name, word)
    with pytest.raises(KeyError, match="row_accounting"):
        charts.chart_note("pie")
