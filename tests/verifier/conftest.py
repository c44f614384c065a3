"""Draws made by the Python engine for the verifier tests: private record, public copy,
participants file (as the reports write it) and public cohort list, per case."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drawkit.config import PrizeTier, PromotionConfig
from drawkit.draw import beacon as beacon_clock
from drawkit.draw import commit_draw, run_draw
from drawkit.draw.events import record_event
from drawkit.draw.ledger import Ledger
from drawkit.draw.record import DrawRecord
from drawkit.verifier import write_public_cohort

HERE = Path(__file__).resolve().parent
DAY = date(2026, 11, 24)


@dataclass(frozen=True)
class Case:
    """One draw the engine made, with the files an auditor or an entrant has."""

    name: str
    record: DrawRecord
    participants: pd.DataFrame
    folder: Path

    @property
    def private(self) -> Path:
        return self.folder / "record.json"

    @property
    def public(self) -> Path:
        return self.folder / "record.public.json"

    @property
    def participants_csv(self) -> Path:
        return self.folder / "participants.csv"

    @property
    def public_cohort(self) -> Path:
        return self.folder / "cohort.public.csv"


def node() -> str:
    path = shutil.which("node") or shutil.which("nodejs")
    if path is None:
        pytest.fail("node is not installed: run `make node` (Debian package nodejs)")
    return path


def run_node_cases(cases: list[dict], tmp: Path) -> dict[str, dict]:
    """Verify cases with the page's JavaScript under Node; results by case name."""
    listing = tmp / f"cases-{hashlib.sha256(json.dumps(cases).encode()).hexdigest()[:8]}.json"
    listing.write_text(json.dumps(cases))
    out = subprocess.run(
        [node(), str(HERE / "verify_files.mjs"), str(listing)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return {r["name"]: r for r in json.loads(out.stdout)}


def numbers(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    prefixes = np.array(["803", "806", "703", "813", "816", "903", "706", "810"])
    national = rng.choice(prefixes, n).astype(object) + np.char.zfill(
        rng.choice(10_000_000, n, replace=False).astype(str), 7
    ).astype(object)
    return ["+234" + x for x in national]


def write_case(name: str, record: DrawRecord, participants: pd.DataFrame, root: Path) -> Case:
    folder = root / name
    folder.mkdir(parents=True)
    case = Case(name, record, participants, folder)
    case.private.write_text(record.to_json(), encoding="utf-8")
    case.public.write_text(record.public().to_json(), encoding="utf-8")
    participants.to_csv(case.participants_csv, index=False)  # as drawkit.reports writes it
    write_public_cohort(record, participants, folder)
    return case


def config(name: str, tiers: list[tuple[str, int]], reserves: int, **extra) -> PromotionConfig:
    prizes = tuple(PrizeTier(t, 1000 * (i + 1), c) for i, (t, c) in enumerate(tiers))
    return PromotionConfig(name=name, prizes=prizes, reserves_per_tier=reserves, **extra)


def frame(msisdns: list[str], entries) -> pd.DataFrame:
    entries = np.asarray(entries, dtype=np.int64)
    return pd.DataFrame({"msisdn": msisdns, "points": entries, "entries": entries})


def await_next_round(participants, cfg, ledger: Path, secret: bytes | None) -> int:
    """Commit to the first drand round at least a second away and wait until it is
    published, as an operator does (the round's value itself is a stand-in here)."""
    round_number = beacon_clock.round_after(datetime.now(UTC) + timedelta(seconds=1))
    commit_draw(participants, cfg, DAY, ledger_dir=ledger, beacon_round=round_number,
                secret=secret, draw_id=f"bs-{DAY}")
    wait = (beacon_clock.round_time(round_number) - datetime.now(UTC)).total_seconds()
    time.sleep(max(wait, 0.0) + 0.05)
    return round_number


@pytest.fixture(scope="session")
def engine_cases(tmp_path_factory) -> list[Case]:
    """Records of the Python engine: every randomness mode, shortfalls, big entries,
    several tiers, and recent-winner exclusions with a promoted reserve."""
    root = tmp_path_factory.mktemp("engine-cases")
    cases: list[Case] = []
    beacon = hashlib.sha256(b"beacon").digest()
    secret = bytes(range(32))

    def draw(name, participants, cfg, day=DAY, ledger=None, **kw) -> DrawRecord:
        record = run_draw(participants, cfg, day, ledger_dir=ledger or root / f"ledger-{name}",
                          draw_id=kw.pop("draw_id", None) or f"{name}-{day}", **kw)
        return record

    rng = np.random.default_rng(5)
    people = numbers(400, 1)
    entries = rng.integers(1, 60, len(people))
    p = frame(people, entries)
    cfg = config("verifier promo", [("Grand", 1), ("Bundle", 5)], 2)
    ledger = root / "ledger-bs"
    round_number = await_next_round(p, cfg, ledger, secret)
    cases.append(write_case("beacon-and-secret", draw("bs", p, cfg, ledger=ledger, beacon=beacon,
                                                     beacon_round=round_number, secret=secret),
                            p, root))
    cases.append(write_case("beacon-alone", draw("b", p, cfg, beacon=beacon), p, root))
    cases.append(write_case("secret-alone", draw("s", p, cfg, secret=secret), p, root))

    few = frame(people[:5], [3, 1, 4, 1, 5])
    partial = config("partial promo", [("Car", 2), ("Phone", 4)], 3, award_partial=True)
    cases.append(write_case("shortfall", draw("short", few, partial, secret=secret), few, root))

    big = frame(people[:6], [900_000_000_000, 1, 123_456_789_012, 5_000_000_000_000, 77,
                             2_000_000_000_000])
    cases.append(write_case("large-entries", draw("big", big, cfg, beacon=beacon), big, root))

    # Recent winners: three days of draws in one ledger, a reserve promoted on day 1.
    ledger = root / "ledger-recent"
    recent = config("recent promo", [("Grand", 1), ("Bundle", 3)], 2, exclude_recent_winners_days=2)
    pool = numbers(60, 9)
    weights = rng.integers(1, 9, len(pool))
    for k in range(3):
        day = DAY - timedelta(days=2 - k)
        today = frame(pool, weights)
        record = draw("recent", today, recent, day=day, ledger=ledger, beacon=beacon,
                      draw_id=f"recent-{day}")
        if k == 0:
            record_event(Ledger(ledger), record.draw_id, "unreachable", tier="Bundle",
                         position=1, reason="no answer")
        cases.append(write_case(f"recent-day-{k}", record, today, root))
    assert cases[-1].record.excluded_msisdns, "the exclusion case must exclude someone"
    return cases
