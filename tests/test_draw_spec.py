"""The test vectors of docs/draw-spec.md, parsed out of the markdown, against both the
engine and the plain-Python reference. A change to either that moves a winner fails here."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from drawkit.config import PrizeTier, PromotionConfig
from drawkit.draw import canonical_cohort, run_draw, select
from drawkit.draw.cohort import canonical_lines
from drawkit.draw.engine import draw_winners
from drawkit.draw.record import Prize, canonical_json, entry_hash
from drawkit.draw.reference import (
    ReferenceDrbg,
    reference_digest,
    reference_draw,
    reference_entry_hash,
    reference_next_below,
    reference_seed,
    reference_seed_material,
)
from drawkit.draw.rng import SPEC_VERSION, derive_seed, drbg_for_seed, seed_material

SPEC = Path(__file__).resolve().parents[1] / "docs" / "draw-spec.md"
BLOCK = re.compile(r"^```json vector\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def vectors() -> list[dict[str, Any]]:
    return [json.loads(block) for block in BLOCK.findall(SPEC.read_text(encoding="utf-8"))]


def draw_vectors() -> list[dict[str, Any]]:
    return [v for v in vectors() if "participants" in v]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [v["vector"] for v in items]


def as_bytes(text: str | None) -> bytes | None:
    return bytes.fromhex(text) if text is not None else None


def frame(vector: dict[str, Any]) -> pd.DataFrame:
    rows = vector["participants"]
    return pd.DataFrame({"msisdn": [m for m, _ in rows], "entries": [e for _, e in rows]})


def prizes(vector: dict[str, Any]) -> tuple[Prize, ...]:
    return tuple(Prize(p["name"], 1000, p["count"], p["reserves"]) for p in vector["prizes"])


def test_spec_has_the_vectors_and_names_its_version() -> None:
    found = vectors()
    assert len(found) == 5
    assert len(draw_vectors()) == 3
    assert f"`{SPEC_VERSION}`" in SPEC.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize("vector", draw_vectors(), ids=ids(draw_vectors()))
def test_cohort_digest_and_seed(vector: dict[str, Any]) -> None:
    cohort = canonical_cohort(frame(vector))
    assert canonical_lines(cohort).decode("utf-8").splitlines() == vector["canonical_lines"]
    assert cohort.digest == vector["cohort_digest"]
    assert cohort.total_entries == vector["total_entries"]
    rows = [tuple(r) for r in vector["participants"]]
    assert reference_digest(rows) == vector["cohort_digest"]
    inputs = {
        "draw_id": vector["draw_id"],
        "cohort_digest": vector["cohort_digest"],
        "beacon": as_bytes(vector["beacon"]),
        "secret": as_bytes(vector["secret"]),
    }
    assert seed_material(**inputs).hex() == vector["seed_material"]
    assert derive_seed(**inputs).hex() == vector["seed"]
    positional = list(inputs.values())
    assert reference_seed_material(*positional).hex() == vector["seed_material"]
    assert reference_seed(*positional).hex() == vector["seed"]


@pytest.mark.parametrize("vector", draw_vectors(), ids=ids(draw_vectors()))
def test_first_words(vector: dict[str, Any]) -> None:
    seed = bytes.fromhex(vector["seed"])
    count = len(vector["first_words"])
    assert [f"{w:016x}" for w in drbg_for_seed(seed).words(count)] == vector["first_words"]
    reference = ReferenceDrbg(seed)
    assert [f"{reference.word():016x}" for _ in range(count)] == vector["first_words"]


@pytest.mark.parametrize("vector", draw_vectors(), ids=ids(draw_vectors()))
def test_picks_of_engine_and_reference(vector: dict[str, Any]) -> None:
    seed = bytes.fromhex(vector["seed"])
    expected = vector["picks"]
    for pick in expected:  # the document is consistent with itself
        assert int(pick["words"][-1], 16) % pick["tickets_in_play"] == pick["ticket"]
    cohort = canonical_cohort(frame(vector))
    winners, _ = draw_winners(cohort, prizes(vector), seed, award_partial=False)
    engine = [
        {
            "draw_order": w.draw_order,
            "tier": w.tier,
            "role": w.role,
            "position": w.position,
            "tickets_in_play": w.total_tickets_at_pick,
            "ticket": w.ticket,
            "msisdn": w.msisdn,
            "entries": w.entries,
        }
        for w in winners
    ]
    without_words = [{k: v for k, v in p.items() if k != "words"} for p in expected]
    assert engine == without_words
    words_used = [p.attempt for p in select(cohort.entries, len(expected), drbg_for_seed(seed))]
    assert words_used == [len(p["words"]) for p in expected]
    reference = reference_draw(
        [tuple(r) for r in vector["participants"]],
        [(p["name"], p["count"], p["reserves"]) for p in vector["prizes"]],
        vector["draw_id"],
        as_bytes(vector["beacon"]),
        as_bytes(vector["secret"]),
    )
    assert reference["seed"] == vector["seed"]
    assert reference["picks"] == without_words


@pytest.mark.parametrize("vector", draw_vectors(), ids=ids(draw_vectors()))
def test_run_draw_reproduces_the_vector(vector: dict[str, Any], tmp_path) -> None:
    reserves = {p["reserves"] for p in vector["prizes"]}
    assert len(reserves) == 1  # the config has one reserves_per_tier
    config = PromotionConfig(
        name="spec vectors",
        prizes=tuple(PrizeTier(p["name"], 1000, p["count"]) for p in vector["prizes"]),
        reserves_per_tier=reserves.pop(),
    )
    record = run_draw(
        frame(vector),
        config,
        date(2026, 11, 24),
        ledger_dir=tmp_path,
        beacon=as_bytes(vector["beacon"]),
        secret=as_bytes(vector["secret"]),
        draw_id=vector["draw_id"],
    )
    assert record.cohort_digest == vector["cohort_digest"]
    assert record.seed == vector["seed"]
    assert list(record.first_words) == vector["first_words"][: len(record.first_words)]
    assert [(w.msisdn, w.ticket, w.total_tickets_at_pick) for w in record.winners] == [
        (p["msisdn"], p["ticket"], p["tickets_in_play"]) for p in vector["picks"]
    ]
    wanted = sum(p["count"] + p["reserves"] for p in vector["prizes"])
    assert sum(s.wanted - s.drawn for s in record.shortfall) == wanted - len(vector["picks"])


def test_rejection_sampling_vector() -> None:
    (vector,) = [v for v in vectors() if v["vector"] == "rejection sampling"]
    n, limit = vector["n"], vector["limit"]
    assert limit == 2**64 - 2**64 % n
    seed = bytes.fromhex(vector["seed"])
    raw = drbg_for_seed(seed)
    for row in vector["words"]:
        word = raw.next_word()
        assert f"{word:016x}" == row["word"]
        assert (word < limit) is row["accepted"]
        assert row["value"] == (word % n if row["accepted"] else None)
    # next_below consumes rejected words and returns the accepted values in order
    expected, used = [], 0
    for row in vector["words"]:
        used += 1
        if row["accepted"]:
            expected.append((row["value"], used))
            used = 0
    engine, reference = drbg_for_seed(seed), ReferenceDrbg(seed)
    assert [engine.next_below_counted(n) for _ in expected] == expected
    assert [reference_next_below(reference, n) for _ in expected] == expected


def test_ledger_entry_hash_vector() -> None:
    (vector,) = [v for v in vectors() if v["vector"] == "ledger entry hash"]
    entry = vector["entry"]
    body = {k: v for k, v in entry.items() if k != "record_hash"}
    assert canonical_json(body).decode("utf-8") == vector["canonical_json"]
    assert entry_hash(entry) == entry["record_hash"]
    assert reference_entry_hash(entry) == entry["record_hash"]
