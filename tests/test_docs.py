"""The operator docs say what the code does: their examples run through the real readers."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import date
from pathlib import Path

import pytest

from drawkit.config import (
    _PRIZE_KEYS,
    _SCHEMA,
    DEFAULT_PROMOTION_TOML,
    PostHogNames,
    parse_promotion,
)
from drawkit.sources.local import LocalDataSource, read_participants

DOCS = Path(__file__).resolve().parents[1] / "docs"


def blocks(name: str, language: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_promotion_doc_shows_the_default_exactly() -> None:
    default, example = blocks("promotion-config.md", "toml")
    assert default == DEFAULT_PROMOTION_TOML
    config = parse_promotion(example, source="promotion-config.md example")
    assert config.points_mode == "summed" and [p.name for p in config.prizes][0] == "Car"


def test_promotion_doc_explains_every_key() -> None:
    text = (DOCS / "promotion-config.md").read_text(encoding="utf-8")
    keys = [key for section in _SCHEMA.values() for key in section]
    keys += list(_PRIZE_KEYS) + [f.name for f in fields(PostHogNames)]
    for key in keys:
        assert f"| `{key}` |" in text, key


@pytest.fixture
def examples(tmp_path) -> dict[str, Path]:
    recharges, blacklist, participants = blocks("input-formats.md", "csv")
    paths = {}
    for name, text in (
        ("recharges", recharges),
        ("blacklist", blacklist),
        ("participants", participants),
    ):
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_input_doc_examples_read_as_described(examples) -> None:
    result = LocalDataSource(examples["recharges"]).get_eligible_participants(date(2026, 11, 25))
    summary = result.summary
    assert summary.rows_in == 3 and summary.rows_counted == 3 and not summary.rows_rejected
    assert result.participants["entries"].tolist() == [5, 2, 10]  # ₦500, ₦250.50, ₦1,000
    banned = LocalDataSource(examples["recharges"], examples["blacklist"])
    assert (
        banned.get_eligible_participants(date(2026, 11, 25)).summary.rows_excluded["blacklisted"]
        == 1
    )
    frame = read_participants(examples["participants"])
    assert frame.to_dict("list") == {
        "msisdn": ["+2348031234567", "+2348031234568"],
        "points": [7, 2],
        "entries": [7, 2],
    }
