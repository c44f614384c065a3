"""The landing page (index.html): the data it refuses, what it says, and how a browser
shows and prints it (headless Debian chromium, as for the other reports).

A real draw on a small synthetic cohort fills the page, with a replacement (an unreachable
winner, the reserve promoted) and a claim; FAIL and not-yet-audited variants change the
verdict. Chromium and pdftotext come from ``make browser``; when either is missing the
browser tests FAIL rather than skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from drawkit import audit
from drawkit.beacon import QUICKNET as beacon
from drawkit.config import PromotionConfig
from drawkit.draw import Ledger, record_event, verify_record
from drawkit.reports.landing import (
    SECTIONS,
    TERMS,
    CheckLine,
    Commitments,
    KeyFigures,
    LandingPage,
    Link,
    Links,
    Replacement,
    Timeline,
    Verdict,
    WinnerLine,
    instant,
    render_landing,
    winners_from_record,
    write_landing,
)

DRAW_DATE = date(2026, 11, 24)
CHROMIUM_FLAGS = ["--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars"]
WIDTH = 800
FULL_NUMBER = re.compile(r"(?<!\d)(\+?234|0)[789][01]\d{8}(?!\d)")
# Set DRAWKIT_LANDING_SCREENS=reports/landing-screens to keep the screenshots to look at.
SCREENSHOTS = os.environ.get("DRAWKIT_LANDING_SCREENS")


# ------------------------------------------------------------------ a real draw to show


@pytest.fixture(scope="module")
def drawn(tmp_path_factory, signed_rounds):
    """See :func:`make_draw`."""
    return make_draw(tmp_path_factory.mktemp("ledger"), signed_rounds)


def make_draw(ledger_dir: Path, signed_rounds) -> dict:  # noqa: ANN001
    """A draw of 1 + 10 prizes with reserves on 400 participants, committed to a signed
    round of a local test chain before it existed, winner 1 of the grand prize unreachable
    (reserve 1 promoted) and airtime winner 2 claimed."""
    rng = np.random.default_rng(5)
    n = 400
    participants = pd.DataFrame(
        {
            "msisdn": [f"+23480{i:08d}" for i in range(10_000_000, 10_000_000 + n)],
            "entries": np.minimum(rng.geometric(0.1, n), 120),
        }
    )
    config = replace(PromotionConfig(), permit="LSLGA/PROMO/2026/001")
    record = signed_rounds.commit_and_draw(participants, config, DRAW_DATE, ledger_dir, 2000)
    commitment = record.commitment
    ledger = Ledger(ledger_dir)
    record_event(ledger, record.draw_id, "unreachable", position=1, reason="no answer in 48 h")
    record_event(ledger, record.draw_id, "claimed", tier="Airtime bundle", position=2)
    verification = verify_record(record, participants, accept_test_chain=True)
    checks = audit.fairness_checks(record, verification=verification,
                                   chain_ok=ledger.verify_chain().ok)
    return {
        "record": record,
        "commitment": commitment,
        "events": ledger.events(record.draw_id),
        "checks": checks,
        "ledger": ledger,
    }


def report_files(folder: Path) -> Links:
    """Create the files the page links (as a report run leaves them) and link them."""
    names = ["01_daily_cohort.html", "02_draw_run.html", "03_audit.html"]
    for name in [*names, "record.public.json", "audit.json", "draw-spec.md"]:
        (folder / name).write_text("{}\n" if name.endswith(".json") else "<p>report</p>\n")
    (folder / "verifier").mkdir(exist_ok=True)
    (folder / "verifier" / "index.html").write_text("<p>verifier</p>\n")
    (folder / "charts").mkdir(exist_ok=True)
    charts = ["01_row_outcomes.png", "03_wins_by_band.png", "03 chi square.png"]
    for name in charts:
        (folder / "charts" / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    titles = ["Daily cohort", "Draw run", "Audit"]
    return Links(
        reports=tuple(Link(t, n) for t, n in zip(titles, names, strict=True)),
        public_record=Link("Public record", "record.public.json", "numbers masked"),
        audit=Link("Audit results", "audit.json"),
        spec=Link("Draw specification", "draw-spec.md"),
        verifier=Link("Browser verifier", "verifier/index.html", "works offline"),
        charts=tuple(Link(Path(c).stem, f"charts/{c}") for c in charts),
    )


def landing_page(drawn, folder: Path, variant: str = "pass") -> LandingPage:
    """The page a report run would write for ``drawn``; ``fail`` and ``pending`` variants."""
    record, commitment = drawn["record"], drawn["commitment"]
    winners, replacements = winners_from_record(record.public(), drawn["events"])
    checks = list(drawn["checks"])
    notes: tuple[str, ...] = ("local test chain — not public randomness",)
    if variant == "fail":
        checks.append(
            audit.Check(
                "Published results match",
                False,
                "2 of 33 events are missing in PostHog: draw_winner #4 and #7",
            )
        )
        checks.append(audit.Check("Cohort digest", False, "participants give a different digest"))
        notes = ("operator-chosen randomness: no public beacon",)
    verdict = Verdict.from_checks(checks, notes)
    if variant == "pending":
        verdict = Verdict(None, (), notes)
    head = drawn["ledger"].entries()[-1]["record_hash"]
    published = instant(record.created_at) + timedelta(seconds=41)
    return LandingPage(
        verdict=verdict,
        figures=KeyFigures(
            draw_id=record.draw_id,
            draw_date=record.draw_date,
            promotion=record.promotion,
            permit=record.permit,
            participants=record.participants,
            total_entries=record.total_entries,
            rows_read=1_884_512,
            rows_counted=1_803_114,
            rows_excluded=79_120,
            rows_rejected=2_278,
            window_start=record.window_start,
            window_cutoff=record.window_cutoff,
        ),
        timeline=Timeline(
            committed_at=commitment.committed_at,
            beacon_published_at=beacon.round_time(commitment.beacon_round),
            drawn_at=record.created_at,
            published_at=None if variant == "pending" else published,
            beacon_round=commitment.beacon_round,
        ),
        winners=winners,
        replacements=replacements,
        commitments=Commitments(
            cohort_digest=record.cohort_digest,
            beacon_round=commitment.beacon_round,
            secret_commitment=None,
            ledger_head=head,
            record_hash=record.record_hash,
            beacon_source="local test chain",
            result_public_key=record.commitment.result_public_key,
        ),
        links=report_files(folder),
        verify_command=(
            "drawkit verify record.public.json --participants private/participants.csv "
            "--ledger ../../ledger"
        ),
        generated_at=datetime(2026, 11, 23, 23, 32, tzinfo=UTC),
        drawkit_version="0.1.0",
    )


def soup_of(text: str) -> BeautifulSoup:
    return BeautifulSoup(text, "html.parser")


# ------------------------------------------------------------------ what the page says


def test_verdict_is_the_first_heading_and_names_failed_checks(drawn, tmp_path) -> None:
    passed = soup_of(render_landing(landing_page(drawn, tmp_path)))
    first = passed.find(re.compile(r"^h[1-6]$"))
    assert first.name == "h1" and first.get_text(" ", strip=True).startswith("PASS")
    assert "checks passed" in passed.select_one("#verdict").get_text()
    failed = soup_of(render_landing(landing_page(drawn, tmp_path, "fail")))
    heading = failed.find(re.compile(r"^h[1-6]$")).get_text(" ", strip=True)
    assert heading.startswith("FAIL")
    items = [li.get_text(" ", strip=True) for li in failed.select("#verdict ul.failed li")]
    assert items == [
        "Published results match : 2 of 33 events are missing in PostHog: draw_winner #4 and #7",
        "Cohort digest : participants give a different digest",
    ]
    note = failed.select_one("#verdict .note").get_text()
    assert note == "Note: operator-chosen randomness: no public beacon"
    pending = soup_of(render_landing(landing_page(drawn, tmp_path, "pending")))
    assert pending.find("h1").get_text(" ", strip=True).startswith("NOT CHECKED")


def test_every_section_in_order(drawn, tmp_path) -> None:
    soup = soup_of(render_landing(landing_page(drawn, tmp_path)))
    assert [s["id"] for s in soup.find_all("section")] == [sid for sid, _ in SECTIONS]
    assert [h.get_text() for h in soup.find_all("h2")] == [title for _, title in SECTIONS]


def test_winners_in_draw_order_with_the_replacement_and_the_claim(drawn, tmp_path) -> None:
    page = landing_page(drawn, tmp_path)
    record = drawn["record"]
    assert [w.draw_order for w in page.winners] == list(range(1, len(record.winners) + 1))
    rows = soup_of(render_landing(page)).select("table.winners tbody tr")
    cells = [[td.get_text(" ", strip=True) for td in row.find_all("td")] for row in rows]
    assert len(cells) == len(record.winners)
    first, reserve = (
        record.winners_of("Grand prize")[0],
        record.winners_of("Grand prize", "reserve")[0],
    )
    by_order = {int(c[0]): c for c in cells}
    assert by_order[first.draw_order][-1] == (
        "unreachable: no answer in 48 h; replaced by reserve 1"
    )
    assert by_order[reserve.draw_order][-1] == "promoted: holds Grand prize 1"
    claimed = record.winners_of("Airtime bundle")[1]
    assert by_order[claimed.draw_order][-1] == "prize claimed"
    assert by_order[claimed.draw_order][3] == "₦5,000"
    assert [r.replaced_by for r in page.replacements] == [
        page.winners[reserve.draw_order - 1].number
    ]
    replacement = soup_of(render_landing(page)).select("table.replacements tbody tr")
    assert len(replacement) == 1
    text = replacement[0].get_text(" ", strip=True)
    assert "Grand prize 1" in text and "unreachable: no answer in 48 h" in text
    assert "(reserve 1)" in text


def test_an_unfilled_prize_is_said(drawn) -> None:
    record = drawn["record"]
    events = [
        {
            "event": "unreachable",
            "details": {"tier": "Grand prize", "role": "winner", "position": 1, "reason": ""},
        },
        {
            "event": "unfilled",
            "details": {"tier": "Grand prize", "prize_position": 1},
            "recorded_at": "2026-11-25T10:00:00+00:00",
        },
    ]
    winners, replacements = winners_from_record(record, events)
    assert winners[0].status == "unreachable; no reserve left: unfilled"
    assert replacements[0].replaced_by is None and replacements[0].reason == "unreachable"
    html_text = render_landing(_minimal_page(winners, replacements))
    assert "no reserve left: prize unfilled" in html_text


def _minimal_page(winners, replacements) -> LandingPage:
    return LandingPage(
        verdict=Verdict(None),
        figures=KeyFigures("d-1", "2026-11-24", "p", None, 1, 1),
        timeline=Timeline(),
        winners=winners,
        replacements=replacements,
        commitments=Commitments("ab" * 32, None, None, "cd" * 32),
        links=Links(),
        verify_command="drawkit verify record.public.json",
    )


def test_the_result_signing_key_is_among_the_commitments(drawn, tmp_path) -> None:
    soup = soup_of(render_landing(landing_page(drawn, tmp_path)))
    row = next(th.parent for th in soup.select("table.commitments th")
               if th.get_text(strip=True) == "Result signing key")
    key = drawn["record"].commitment.result_public_key
    assert key and key in row.get_text(" ")


def test_only_masked_numbers_reach_the_page(drawn, tmp_path) -> None:
    text = render_landing(landing_page(drawn, tmp_path))
    assert not FULL_NUMBER.search(text)
    assert re.search(r"0803\*{4}\d{3}", text)
    with pytest.raises(ValueError, match="must be masked") as caught:
        WinnerLine(1, "+2348031234567", "Grand prize", 100_000, "winner", 1)
    assert "8031234567" not in str(caught.value)
    with pytest.raises(ValueError, match="must be masked"):
        Replacement("Grand prize", 1, "0803****567", "unreachable", "08031234567", 1)
    winners, _ = winners_from_record(drawn["record"])  # the private record works too
    assert all("****" in w.number for w in winners)


def test_everything_is_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    page = replace(
        _minimal_page((), ()),
        figures=KeyFigures("d-1", "2026-11-24", hostile, f"P{hostile}", 1, 1),
        verdict=Verdict(False, (CheckLine(hostile, False, f"found {hostile}"),), (hostile,)),
        links=Links(reports=(Link(hostile, "a b/<x>.html", hostile),)),
        verify_command=f"drawkit verify '{hostile}' && rm -rf /",
    )
    text = render_landing(page)
    assert "<script" not in text and "alert(&quot;x&quot;)" in text
    soup = soup_of(text)
    assert soup.find("a")["href"] == "a%20b/%3Cx%3E.html"
    assert soup.select_one("pre.command").get_text() == f"drawkit verify '{hostile}' && rm -rf /"


def test_self_contained_no_network_no_script(drawn, tmp_path) -> None:
    soup = soup_of(render_landing(landing_page(drawn, tmp_path)))
    assert not soup.find_all(["script", "link", "img", "iframe", "object"])
    assert "@import" not in soup.style.get_text() and "url(" not in soup.style.get_text()
    for a in soup.find_all("a"):
        assert "://" not in a["href"] and not a["href"].startswith("/")
    for href in ("https://example.com/x", "/etc/passwd", "//host/x", ""):
        with pytest.raises(ValueError, match="relative path"):
            Link("x", href)


def test_timeline_in_utc_and_lagos_time_with_missing_steps() -> None:
    timeline = Timeline(
        committed_at="2026-11-23T23:10:00+00:00",
        beacon_published_at=datetime(2026, 11, 23, 23, 15, tzinfo=UTC),
        drawn_at="2026-11-24T00:30:05+01:00",
        beacon_round=4_242_424,
    )
    soup = soup_of(render_landing(replace(_minimal_page((), ()), timeline=timeline)))
    rows = soup.select("table.timeline tbody tr")
    cells = [[td.get_text(" ", strip=True) for td in row.find_all("td")] for row in rows]
    assert cells == [
        [
            "Committed (cohort, round, secret hash fixed)",
            "2026-11-23 23:10:00 UTC",
            "2026-11-24 00:10:00 WAT",
        ],
        ["Beacon round 4,242,424 published", "2026-11-23 23:15:00 UTC", "2026-11-24 00:15:00 WAT"],
        ["Drawn", "2026-11-23 23:30:05 UTC", "2026-11-24 00:30:05 WAT"],
        ["Result published", "not yet", "not yet"],
    ]
    header = [th.get_text() for th in soup.select("table.timeline th")]
    assert header == ["step", "UTC", "WAT (Africa/Lagos)"]
    with pytest.raises(ValueError, match="no UTC offset"):
        Timeline(committed_at="2026-11-24T00:10:00")
    assert instant("2026-11-23T23:10:00Z") == datetime(2026, 11, 23, 23, 10, tzinfo=UTC)


def test_verdict_cannot_contradict_its_checks() -> None:
    bad = CheckLine("Ledger chain intact", False, "entry 3 does not link")
    with pytest.raises(ValueError, match="cannot PASS"):
        Verdict(True, (bad,))
    with pytest.raises(ValueError, match="needs a failed check"):
        Verdict(False, (CheckLine("x", True, "ok"),))
    assert Verdict.from_checks([]).passed is None  # no check run: not checked, never PASS
    text = render_landing(replace(_minimal_page((), ()), verdict=Verdict(False)))
    assert "The audit did not complete" in text and "0 of 0" not in text
    assert Verdict.from_checks([bad]).failed == (bad,)


def test_terms_explain_the_page_in_a_line_each(drawn, tmp_path) -> None:
    text = soup_of(render_landing(landing_page(drawn, tmp_path))).get_text(" ")
    for term in (
        "cohort digest",
        "beacon round",
        "secret commitment",
        "ledger head",
        "record hash",
        "result key",
        "draw order",
        "reserve",
        "masked number",
        "entries",
    ):
        assert TERMS[term] in text, term
    assert all("\n" not in line and len(line) < 240 for line in TERMS.values())


# ------------------------------------------------------------------ in a browser


def chromium() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        pytest.fail("chromium is not installed: run `make browser` (Debian package chromium)")
    return path


def pdftotext() -> str:
    path = shutil.which("pdftotext")
    if path is None:
        pytest.fail("pdftotext is not installed: run `make browser` (Debian poppler-utils)")
    return path


def run_chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


PROBE = """<script>
(function () {
  var first = document.querySelector('h1, h2, h3, h4, h5, h6');
  var wide = [];
  document.querySelectorAll('body *').forEach(function (e) {
    if (e.getBoundingClientRect().right > window.innerWidth + 0.5) {
      wide.push(e.tagName + '.' + e.className);
    }
  });
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    firstHeading: first.textContent,
    firstTop: first.getBoundingClientRect().top,
    wide: wide.slice(0, 10)
  });
  document.body.appendChild(out);
})();
</script>"""


@pytest.fixture(scope="module")
def rendered(drawn, tmp_path_factory) -> dict[str, Path]:
    """index.html of each variant in its own report folder, with the linked files."""
    pages = {}
    for variant in ("pass", "fail", "pending"):
        folder = tmp_path_factory.mktemp(f"landing-{variant}")
        pages[variant] = write_landing(landing_page(drawn, folder, variant), folder / "index.html")
    folder = tmp_path_factory.mktemp("landing-long")
    page = landing_page(drawn, folder, "fail")
    long_page = replace(
        page,
        figures=replace(
            page.figures,
            promotion="Festive Mega Recharge and Win Promotion " * 3,
            permit="LSLGA/PROMO/2026/" + "0" * 90,
        ),
        verify_command="drawkit verify /srv/drawkit/reports/" + "very-long-folder-name/" * 12,
    )
    pages["long"] = write_landing(long_page, folder / "index.html")
    return pages


def measure(page: Path) -> dict:
    """Layout facts from chromium at an 800 px window (a probe script in a copy)."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    dom = run_chromium(f"--window-size={WIDTH},1000", "--dump-dom", probe.as_uri()).stdout
    found = soup_of(dom).find("pre", id="probe")
    assert found is not None, "the probe did not run"
    return json.loads(found.get_text())


@pytest.mark.browser
@pytest.mark.parametrize("variant", ["pass", "fail", "pending", "long"])
def test_fits_800px_with_the_verdict_on_top(rendered, variant) -> None:
    facts = measure(rendered[variant])
    assert facts["innerWidth"] == WIDTH
    assert facts["scrollWidth"] <= WIDTH, facts["wide"]
    assert facts["wide"] == []
    word = {"pass": "PASS", "fail": "FAIL", "pending": "NOT CHECKED", "long": "FAIL"}[variant]
    assert facts["firstHeading"].startswith(word)
    assert facts["firstTop"] < 100  # at the top, not 5,000 px down


@pytest.mark.browser
def test_every_link_resolves_to_a_file(rendered) -> None:
    page = rendered["pass"]
    dom = soup_of(run_chromium("--dump-dom", page.as_uri()).stdout)
    hrefs = [a["href"] for a in dom.find_all("a")]
    assert len(hrefs) == 3 + 4 + 3
    for href in hrefs:
        target = (page.parent / re.sub(r"%20", " ", href)).resolve()
        assert target.is_file(), href
        assert page.parent in target.parents


@pytest.mark.browser
@pytest.mark.parametrize("variant", ["pass", "fail"])
def test_pdf_print_has_every_section(rendered, drawn, variant, tmp_path) -> None:
    page = rendered[variant]
    pdf = tmp_path / "landing.pdf"
    run_chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        [pdftotext(), "-raw", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    assert flat.startswith("PASS" if variant == "pass" else "FAIL")
    for _, heading in SECTIONS:
        assert heading in flat, f"{heading!r} is not in the printed page"
    soup = soup_of(page.read_text(encoding="utf-8"))
    for cell in soup.select("table.winners td:nth-child(2), table.checks td:first-child"):
        assert cell.get_text(strip=True) in flat  # no table row lost across pages
    for head in soup.select("thead tr"):  # headers whole: no column squeezed to a letter
        assert " ".join(th.get_text(" ", strip=True) for th in head.find_all("th")) in flat
    assert "drawkit verify record.public.json" in flat
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert 1 < pages <= 8, pages


@pytest.mark.browser
@pytest.mark.parametrize("variant", ["pass", "fail", "pending"])
def test_screenshot_at_800px(rendered, variant, tmp_path) -> None:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / f"landing-{variant}.png"
    run_chromium(f"--screenshot={shot}", f"--window-size={WIDTH},2600", rendered[variant].as_uri())
    with Image.open(shot) as image:
        assert image.size == (WIDTH, 2600)
        top = image.convert("RGB").crop((0, 0, WIDTH, 120))
        colours = {"pass": (232, 245, 233), "fail": (253, 236, 234), "pending": (255, 248, 225)}[
            variant
        ]
        assert top.getpixel((WIDTH // 2, 60)) == colours  # the verdict box is on top
        assert len(image.convert("RGB").resize((80, 260)).getcolors(100_000)) > 40
