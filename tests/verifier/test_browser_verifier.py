"""The verifier page as a user meets it: headless Debian chromium, opened from file://,
files chosen in its inputs, the Verify button pressed. Chromium is installed by ``make
browser`` (``make test`` runs it); when it is missing these tests FAIL rather than skip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from drawkit.cli.demo import DEMO_DATE
from drawkit.config import PromotionConfig
from drawkit.msisdn import mask
from drawkit.sources.local import LocalDataSource
from drawkit.synth import generate
from drawkit.verifier import copy_verifier, write_public_cohort
from drawkit.verifier.headless import BrowserError, HeadlessPage, find_chromium, verify_in_page
from tests.verifier.conftest import SIGNATURE, Case, signed_case

pytestmark = pytest.mark.browser
FULL_NUMBER = re.compile(r"(?<!\d)(\+?234|0)[789][01]\d{8}(?!\d)")


@pytest.fixture(scope="module")
def browser():
    try:
        find_chromium()
    except BrowserError as exc:
        pytest.fail(str(exc))
    with HeadlessPage() as page:
        yield page


@pytest.fixture(scope="module")
def demo(tmp_path_factory, signed_rounds) -> tuple[Case, Path]:
    """The demo's draw, made as `drawkit demo` makes it (synthetic subscribers, the demo
    promotion, committed to a round of a local test chain before it exists and drawn on
    its signed output), in a report folder with the verifier copied in and the public
    record built into the page."""
    root = tmp_path_factory.mktemp("demo")
    config = PromotionConfig()
    data = generate(3000, 3, DEMO_DATE, seed=2026)
    source = LocalDataSource(data.recharges, data.blacklist, config)
    participants = source.get_eligible_participants(DEMO_DATE).participants
    ledger = root / "ledger"
    record = signed_rounds.commit_and_draw(participants, config, DEMO_DATE, ledger, 5000)
    folder = root / "reports" / DEMO_DATE.isoformat()
    (folder / "private").mkdir(parents=True)
    case = Case("demo", record, participants, folder)
    case.private.write_text(record.to_json(), encoding="utf-8")
    case.public.write_text(record.public().to_json(), encoding="utf-8")
    participants.to_csv(folder / "private" / "participants.csv", index=False)
    write_public_cohort(record, participants, folder)
    index = copy_verifier(folder, public_record=case.public)
    return case, index


def _participants(case: Case) -> Path:
    return case.folder / "private" / "participants.csv"


def test_the_demo_draw_verifies_in_the_page(browser, demo) -> None:
    case, index = demo
    refused = verify_in_page(browser, index, participants=_participants(case))
    assert refused["verdict"] != "MATCH" and "beacon_chain" in " ".join(refused["lines"])
    result = verify_in_page(browser, index, participants=_participants(case),
                            accept_local_chain=True)
    assert result["verdict"] == "MATCH", result["lines"]
    assert result["shown"]["verdict"] == "MATCH"
    assert "NOT public randomness" in result["shown"]["text"]
    assert browser.errors() == []
    statuses = {c["title"]: c["status"] for c in result["checks"]}
    assert statuses["Cohort digest"] == statuses["Record hash"] == statuses["Winners"] == "match"
    assert not FULL_NUMBER.search(result["shown"]["text"])


def test_the_public_cohort_list_lets_anyone_redo_the_picks(browser, demo) -> None:
    case, index = demo
    result = verify_in_page(browser, index, public_cohort=case.public_cohort,
                            accept_local_chain=True)
    assert result["verdict"] == "MATCH", result["lines"]
    statuses = {c["title"]: c["status"] for c in result["checks"]}
    assert statuses["Winners"] == "match"
    assert statuses["Cohort digest"] == statuses["Record hash"] == "not checked"


def test_a_changed_entry_is_a_mismatch_naming_the_field(browser, demo, tmp_path) -> None:
    case, index = demo
    frame = case.participants.copy()
    winner = case.record.winners[0].msisdn
    frame.loc[frame["msisdn"] == winner, "entries"] += 1
    changed = tmp_path / "participants.csv"
    frame.to_csv(changed, index=False)
    result = verify_in_page(browser, index, record=case.private, participants=changed)
    assert result["shown"]["verdict"] == "MISMATCH"
    assert result["lines"][0].startswith("cohort_digest: expected ")
    assert f"participants[{mask(winner)}].entries" in result["shown"]["text"]
    assert "the participants file is not the cohort that was drawn" in result["shown"]["text"]


def test_a_changed_byte_of_the_record_is_a_mismatch_naming_the_field(browser, demo,
                                                                    tmp_path) -> None:
    case, index = demo
    text = case.public.read_text(encoding="utf-8")
    at = text.index('"created_at": "') + len('"created_at": "2026')
    changed = tmp_path / "record.public.json"
    changed.write_text(text[:at] + "7" + text[at + 1:] if text[at] != "7" else
                       text[:at] + "8" + text[at + 1:], encoding="utf-8")
    result = verify_in_page(browser, index, record=changed, participants=_participants(case))
    assert result["shown"]["verdict"] == "MISMATCH"
    assert any(line.startswith("record_hash: expected ") and
               "the record was changed after it was written" in line for line in result["lines"])


def test_a_forged_beacon_signature_is_a_mismatch_naming_the_field(browser, tmp_path) -> None:
    flipped = SIGNATURE[:10] + format(int(SIGNATURE[10], 16) ^ 8, "x") + SIGNATURE[11:]
    valid = signed_case(tmp_path, "valid")
    forged = signed_case(tmp_path, "forged", signature=flipped)
    index = copy_verifier(tmp_path / "page")
    good = verify_in_page(browser, index, record=valid.public, participants=valid.participants_csv)
    assert good["verdict"] == "MATCH", good["lines"]
    assert "a valid BLS signature of round 12040883" in good["shown"]["text"]
    bad = verify_in_page(browser, index, record=forged.public, participants=forged.participants_csv)
    assert bad["shown"]["verdict"] == "MISMATCH"
    assert bad["lines"][0].startswith("beacon_signature: expected the chain's BLS signature of "
                                      "round 12040883")


def test_an_entrant_sees_their_entries_without_seeing_others(browser, demo) -> None:
    case, index = demo
    browser.open(index)
    browser.choose_files("#cohort-file", [case.public_cohort])
    winner = case.record.winners[0]
    national = "0" + winner.msisdn[4:]
    typed = f"{national[:4]} {national[4:7]} {national[7:]}"
    answer = browser.evaluate(
        f"document.getElementById('entrant-number').value = {json.dumps(typed)};"
        "document.getElementById('entrant-check').click(); window.drawkitVerifierRun")
    assert answer["masked"] == mask(winner.msisdn)
    assert f"{winner.entries:,} entries" in answer["text"]
    assert f"A winner of {winner.tier} (position 1) has the number {mask(winner.msisdn)}" in \
        answer["text"]
    shown = browser.evaluate("document.getElementById('entrant-answer').textContent")
    assert shown == answer["text"] and not FULL_NUMBER.search(shown)
    absent = browser.evaluate(
        "document.getElementById('entrant-number').value = '0701 000 0001';"
        "document.getElementById('entrant-check').click(); window.drawkitVerifierRun")
    assert "you were not in the cohort" in absent["text"]
    assert browser.errors() == []


def test_the_page_loads_nothing_from_the_network(demo) -> None:
    _, index = demo
    html = index.read_text(encoding="utf-8")
    assert "connect-src 'none'" in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources)
    for script in index.parent.rglob("*.js"):
        assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket)\s*\(", script.read_text()), script


