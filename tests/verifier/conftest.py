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

from drawkit.beacon import QUICKNET as beacon_clock
from drawkit.config import PrizeTier, PromotionConfig
from drawkit.draw import commit_draw, run_draw
from drawkit.draw.events import record_event
from drawkit.draw.ledger import Ledger
from drawkit.draw.record import DrawRecord
from drawkit.msisdn import mask
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


# ------------------------------------------------------------------ beacon-signed records
# The record format gains the authenticated drand beacon (issue 12): beacon_signature and
# beacon_chain. Until the engine writes them, these tests make such records from an engine
# record of a real quicknet round, add the fields and re-hash, as the engine will.

QUICKNET_KEY = (
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a"
    "2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76ea"
    "e8991ef5ece45a"
)
ROUND = 12040883
SIGNATURE = (
    "929906c959032ab363c9f26570d215d66f5c06cb0c44fe508c12bb5839f04ec895bb6868e5b9ff13ab289bdb"
    "5266b394"
)
QUICKNET_CHAIN = {
    "hash": "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971",
    "public_key": QUICKNET_KEY,
    "genesis_time": 1692803367,
    "period": 3,
    "scheme": "bls-unchained-g1-rfc9380",
}


def signed_case(root: Path, name: str, *, signature: str = SIGNATURE, chain: dict | None = None,
                committed_before: int = 120) -> Case:
    """An engine draw on quicknet round 12040883, committed ``committed_before`` seconds
    before the round (with the 60 s margin), the signature and chain as given (the beacon
    value is always the real round's, so a forged signature shows on both fields)."""
    from drawkit.draw import BeaconChain, BeaconEvidence, commit_draw

    people = numbers(80, 21)
    participants = frame(people, np.arange(80) % 7 + 1)
    cfg = config("signed promo", [("Grand", 1), ("Bundle", 3)], 2)
    value = hashlib.sha256(bytes.fromhex(SIGNATURE)).digest()
    info = {**QUICKNET_CHAIN, **(chain or {})}
    chain_record = BeaconChain(info["hash"], info["public_key"], info["period"],
                               info["genesis_time"], beacon_clock.group_hash, info["scheme"],
                               beacon_clock.beacon_id)
    published = beacon_clock.round_time(ROUND)
    ledger = root / f"ledger-{name}"
    commit_draw(participants, cfg, DAY, ledger_dir=ledger, beacon_round=ROUND,
                beacon_chain=chain_record.hash, commit_margin_seconds=60,
                now=published - timedelta(seconds=committed_before), draw_id=f"signed-{DAY}")
    evidence = BeaconEvidence(ROUND, signature, value, chain_record, "test relay")
    record = run_draw(participants, cfg, DAY, ledger_dir=ledger, evidence=evidence,
                      now=published + timedelta(seconds=5), draw_id=f"signed-{DAY}")
    data = record.to_dict()
    folder = root / name
    folder.mkdir(parents=True)
    case = Case(name, record, participants, folder)
    case.private.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    public = json.loads(json.dumps(data))
    for w in public["winners"]:
        w["msisdn"] = mask(w["msisdn"])
    case.public.write_text(json.dumps(public, indent=2, ensure_ascii=False) + "\n")
    participants.to_csv(case.participants_csv, index=False)
    write_public_cohort(record, participants, folder)
    return case
