"""The auditor's HTML reports as a browser renders them (headless Debian chromium).

Chromium is installed by ``make browser`` (``make test`` runs it). When it is missing this
test FAILS rather than skips: an unchecked report must not look like a passing one.
"""

from __future__ import annotations

import base64
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from PIL import Image

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars"]
ANSI = re.compile(r"\x1b\[[0-9;]*m|\[0;3\dm")
DATAFRAME_REPR = re.compile(r"\[\d+ rows x \d+ columns\]|<pandas\.|dtype: (int64|object)")

# Axis labels the chart functions write (drawkit/charts.py); each must reach the page.
AXIS_LABELS = {
    "01_daily_cohort.html": ["entries per participant", "participants (log scale)", "outcome"],
    "03_audit.html": [
        "entries held by the participant (band)",
        "picks (winners + reserves)",
        "Pearson chi-square statistic",
        "winning ticket position r / W",
        "cumulative share of picks",
        "cumulative share of tickets",
        "cumulative share of wins",
        "draw date",
    ],
}


def chromium() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        pytest.fail("chromium is not installed: run `make browser` (Debian package chromium)")
    return path


def dump_dom(page: Path) -> str:
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def pages(local_reports) -> dict[str, BeautifulSoup]:
    run, _ = local_reports
    return {path.name: BeautifulSoup(dump_dom(path), "html.parser") for path in run.html}


def test_auditor_pages_render_readable_tables(pages) -> None:
    assert set(pages) == {"01_daily_cohort.html", "02_draw_run.html", "03_audit.html"}
    for name, soup in pages.items():
        tables = soup.find_all("table")
        assert len(tables) >= 3, name
        for table in tables:
            headers = [th.get_text(strip=True) for th in table.find_all("th")]
            assert headers and all(headers), f"{name}: a table without column headers"
            assert table.find("td") is not None, name
        text = soup.get_text(" ")
        assert not DATAFRAME_REPR.search(text), f"{name} shows a raw DataFrame repr"
        for bad in ("Traceback", "DEBUG", "Error:", "Warning:"):
            assert bad not in text, f"{name} shows {bad!r}"
        assert not ANSI.search(str(soup)), f"{name} has ANSI colour codes"


def test_auditor_pages_hold_no_code(pages) -> None:
    for name, soup in pages.items():
        assert not soup.select(".jp-CodeMirrorEditor, .highlight, .jp-InputPrompt"), name
        text = soup.get_text(" ")
        assert "import " not in text and "app." not in text and "tables." not in text, name
        assert "injected-parameters" not in str(soup), name


def test_charts_are_real_images_with_axis_labels(pages) -> None:
    for name, labels in AXIS_LABELS.items():
        images = pages[name].find_all("img")
        assert len(images) >= 3, name
        alts = " ".join(img.get("alt", "") for img in images)
        for img in images:
            src = img["src"]
            assert src.startswith("data:image/png;base64,"), name
            width, height = png_size(base64.b64decode(src.split(",", 1)[1]))
            assert width >= 500 and height >= 300, (name, width, height)
            assert "x axis:" in img["alt"] and "y axis:" in img["alt"], img["alt"]
        for label in labels:
            assert label in alts, f"{name}: axis label {label!r} missing"


def test_masked_numbers_only(pages) -> None:
    draw = pages["02_draw_run.html"].get_text(" ")
    assert re.search(r"0[789][01]\d\*{4}\d{3}", draw), "winners should appear masked"
    assert not re.search(r"(?<!\d)(\+?234|0)[789][01]\d{8}(?!\d)", draw)


def test_screenshot_is_a_rendered_page(local_reports, tmp_path) -> None:
    run, _ = local_reports
    shot = tmp_path / "03_audit.png"
    subprocess.run(
        [
            chromium(),
            *CHROMIUM_FLAGS,
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            (run.output_dir / "03_audit.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    with Image.open(shot) as image:
        assert image.size == (1200, 2400)
        colours = image.convert("RGB").resize((120, 240)).getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 50, "the page looks blank"
