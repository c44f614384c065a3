"""Every HogQL string drawkit sends is parsed by PostHog's own parser (hogql-parser),
and every function it calls exists in HogQL, in an old and in the current PostHog."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import pytest

from drawkit.config import PromotionConfig
from drawkit.eligibility import draw_window
from drawkit.posthog.rules import classify_json_amount
from drawkit.sources.posthog import HogQLBuilder

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "hogql_stub"))  # posthog.hogql.errors, which the parser imports
hogql_parser = pytest.importorskip("hogql_parser")  # the test extra installs it
FUNCTIONS = json.loads((HERE / "data" / "hogql_functions.json").read_text(encoding="utf-8"))


@cache
def _queries() -> dict[str, str]:
    config = replace(PromotionConfig(), window="cumulative", start_date=date(2026, 11, 1))
    builder = HogQLBuilder(PromotionConfig()).with_lookups(
        datetime(2026, 11, 27, 1, tzinfo=UTC),
        {"0803 1": "not a Nigerian phone number", "x'y\\z": "missing phone number"},
        {raw: classify_json_amount(raw) for raw in ("1e308", "5e2", "Infinity", "true")},
    )
    window = draw_window(PromotionConfig(), date(2026, 11, 27))
    cumulative = draw_window(config, date(2026, 11, 27))
    from drawkit.posthog.upload import _QUERYABLE

    return {
        "odd values": builder.odd_values(),
        "points": builder.points(window, "+23480312", 5000),
        "points, cumulative window": builder.points(cumulative),
        "one subscriber": builder.per_id(window, did="+2348031234567") + " LIMIT 1",
        "accounting": builder.accounting(window),
        "rejected rows": builder.rejected("0f2c"),
        "cohort members' events": builder.window_events(window, ["+2348031234567"], ""),
        "published results": builder.recorded("draw-2026-11-27-a"),
        "upload visibility": _QUERYABLE.format(event="recharge", upload="0123abcd"),
        "doctor": "SELECT 1",
    }


def _calls(node: object, found: list[tuple[str, int]]) -> list[tuple[str, int]]:
    if isinstance(node, dict):
        if node.get("node") == "Call":
            found.append((node["name"], len(node.get("args") or [])))
        for value in node.values():
            _calls(value, found)
    elif isinstance(node, list):
        for value in node:
            _calls(value, found)
    return found


@cache
def _parse(text: str) -> dict:
    return json.loads(hogql_parser.parse_select_json(text, is_internal=True))


@pytest.mark.parametrize("name", sorted(_queries()))
def test_posthogs_parser_accepts_the_query(name):
    ast = _parse(_queries()[name])
    assert not ast.get("error"), ast.get("message")
    assert ast["node"] in ("SelectQuery", "SelectSetQuery")


@pytest.mark.parametrize("version", ["old", "current"])
def test_every_function_exists_in_hogql(version):
    table = FUNCTIONS[version]
    names = set(table["names"])
    lower = {n.lower() for n in table.get("case_insensitive", [])}
    used: set[tuple[str, int]] = set()
    for text in _queries().values():
        used |= set(_calls(_parse(text), []))
    missing = sorted({f for f, _ in used if f not in names and f.lower() not in lower})
    assert missing == [], f"not HogQL functions in {table['source']}: {missing}"
    assert {f for f, _ in used} >= {"JSONExtractRaw", "replaceRegexpAll", "match", "argMin"}
    assert "toFloatOrNull" not in {f for f, _ in used}  # missing from older PostHog
    assert {n for f, n in used if f == "toDateTime"} == {1}  # one argument: every version


def test_a_broken_query_is_refused_by_the_parser():
    assert _parse("SELECT count() FROM events WHERE")["error"] is True
    assert _parse("SELECT 1")["node"] == "SelectQuery"
