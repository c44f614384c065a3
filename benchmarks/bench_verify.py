"""verify over a ledger: re-deriving every draw of a promotion, beacon authentication
included, against the time the engine took to make those draws in the same run.

A ledger like the demo's (seven daily draws, 20,000 subscribers each in a full run) is drawn
on offline-signed rounds of a local test chain; then every record is verified with the
ledger (chain, commitment, recent winners, BLS signature, timing). Target: verifying all
draws costs at most 3× drawing them.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, run_isolated  # noqa: E402

DAYS = 7


def _child(subscribers: int) -> dict:
    import hashlib
    import tempfile

    import numpy as np
    import pandas as pd

    from drawkit.config import PromotionConfig
    from drawkit.draw import (
        BeaconChain,
        BeaconEvidence,
        Ledger,
        commit_draw,
        run_draw,
        verify_record,
    )
    from drawkit.offline.drand_chain import LocalDrandChain

    chain = LocalDrandChain(period=3, genesis_time=1_700_000_000, key_seed=b"bench")
    info = chain.info()
    record_chain = BeaconChain(info["hash"], info["public_key"], info["period"],
                               info["genesis_time"], info["groupHash"], info["schemeID"],
                               info["metadata"]["beaconID"])
    rng = np.random.default_rng(1)
    numbers = [f"+23480{30000000 + i:08d}" for i in range(subscribers)]
    config = PromotionConfig(exclude_recent_winners_days=3)
    ledger_dir = Path(tempfile.mkdtemp()) / "ledger"
    frames, records = [], []
    draw_seconds = 0.0
    for k in range(DAYS):
        day = date(2026, 11, 18) + timedelta(days=k)
        frame = pd.DataFrame({"msisdn": numbers, "entries": rng.integers(1, 60, subscribers)})
        round_number = 1000 + 100 * k
        published = datetime.fromtimestamp(chain.round_time(round_number), UTC)
        signature = chain.sign(round_number)
        evidence = BeaconEvidence(round_number, signature.hex(),
                                  hashlib.sha256(signature).digest(), record_chain, "bench")
        started = time.perf_counter()
        commit_draw(frame, config, day, ledger_dir=ledger_dir, beacon_round=round_number,
                    beacon_chain=record_chain.hash, now=published - timedelta(minutes=2))
        records.append(run_draw(frame, config, day, ledger_dir=ledger_dir, evidence=evidence,
                                now=published + timedelta(seconds=5)))
        draw_seconds += time.perf_counter() - started
        frames.append(frame)
    ledger = Ledger(ledger_dir)
    started = time.perf_counter()
    for record, frame in zip(records, frames, strict=True):
        report = verify_record(record, frame, ledger=ledger, accept_test_chain=True)
        if not report.ok:
            raise RuntimeError(report.format())
    verify_seconds = time.perf_counter() - started
    return {"draw": draw_seconds, "verify": verify_seconds}


def run(quick: bool) -> list[Figure]:
    import bench_verify as me

    subscribers = 2_000 if quick else 20_000
    result = run_isolated(me._child, subscribers)
    ratio = result["verify"] / result["draw"]
    return [Figure(
        f"verify: ledger of {DAYS} draws", result["verify"], "s", result["draw"], ratio,
        "<= 3x drawing them", ratio <= 3.0,
        f"{DAYS} daily draws of {subscribers:,} subscribers on signed local-chain rounds; "
        "verify with the ledger (chain, commitment, recent winners, BLS, timing); baseline: "
        "commit + draw of the same seven days",
    )]
