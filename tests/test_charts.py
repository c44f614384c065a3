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
