"""Child process of the crash tests: runs a draw (and optionally publishes it), and can
stop at a named step, write a marker file and wait there to be killed.

Usage: python crash_child.py SPEC_JSON
SPEC keys: ledger, participants (CSV), draw_id, stop_at ("" = never), marker, go (a file
to wait for before starting, or ""), publish ("" | "local" | "posthog"), results_dir,
publish_first (publish only this many winners, then stop at step "published_part").
Prints the record as JSON on success.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from drawkit.config import PrizeTier, PromotionConfig
from drawkit.contract import ResultSigner
from drawkit.draw import BeaconChain, BeaconEvidence, commit_draw, run_draw
from drawkit.offline.drand_chain import LocalDrandChain

DAY = date(2026, 11, 24)
SECRET = bytes.fromhex("5e" * 32)
CONFIG = PromotionConfig(
    name="Crash promo",
    prizes=(PrizeTier("Grand", 100_000, 1), PrizeTier("Bundle", 5_000, 3)),
    reserves_per_tier=2,
)


ROUND = 42
# A local test chain with a fixed throwaway key, so the child and the parent sign alike.
CHAIN = LocalDrandChain(period=3, genesis_time=1_700_000_000, key_seed=b"crash tests")


def evidence() -> BeaconEvidence:
    """Round ``ROUND`` of the crash tests' chain, signed offline."""
    info = CHAIN.info()
    chain = BeaconChain(info["hash"], info["public_key"], info["period"], info["genesis_time"],
                        info["groupHash"], info["schemeID"], info["metadata"]["beaconID"])
    signature = CHAIN.sign(ROUND)
    return BeaconEvidence(ROUND, signature.hex(), hashlib.sha256(signature).digest(), chain,
                          "offline test signature")


def signer() -> ResultSigner | None:
    """The test session's throwaway result key (DRAWKIT_SIGNING_KEY, inherited by the
    children), or None outside a test."""
    value = os.environ.get("DRAWKIT_SIGNING_KEY")
    return ResultSigner.from_text(value) if value else None


def committed_at() -> datetime:
    return datetime.fromtimestamp(CHAIN.round_time(ROUND) - 120, UTC)


def draw(participants: pd.DataFrame, ledger: str | Path, draw_id: str, on_step=None):  # noqa: ANN001, ANN201
    """The draw every crash test runs (same inputs in the child and the parent): committed
    two minutes before its round, drawn once the round exists."""
    drawn_at = datetime.fromtimestamp(CHAIN.round_time(ROUND) + 5, UTC)
    key = signer()
    commit_draw(participants, CONFIG, DAY, ledger_dir=ledger, beacon_round=ROUND,
                beacon_chain=CHAIN.chain_hash, secret=SECRET, draw_id=draw_id,
                result_public_key=key.public_key if key else None,
                now=committed_at())  # the same commitment again is a no-op
    return run_draw(
        participants,
        CONFIG,
        DAY,
        ledger_dir=ledger,
        secret=SECRET,
        draw_id=draw_id,
        on_step=on_step,
        evidence=evidence(),
        now=drawn_at,
    )


def stopper(stop_at: str, marker: str):  # noqa: ANN201
    """An on_step hook that parks the process at ``stop_at`` after writing ``marker``."""

    def on_step(name: str) -> None:
        if name == stop_at:
            Path(marker).write_text(name, encoding="utf-8")
            time.sleep(120)  # the parent kills us here

    return on_step


def source_for(spec: dict):  # noqa: ANN201
    """The data source the record is published to."""
    if spec["publish"] == "local":
        from drawkit.sources.local import LocalDataSource

        empty = pd.DataFrame(columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])
        return LocalDataSource(empty, results_dir=spec["results_dir"])
    from drawkit.posthog import PostHogClient
    from drawkit.sources.posthog import PostHogDataSource

    return PostHogDataSource(PostHogClient.from_env(), CONFIG)


def crash_after(source, count: int, on_step) -> None:  # noqa: ANN001
    """Make the real publish write only its first ``count`` events, then park at step
    "published_part" (to be killed there): a crash in the middle of publishing."""
    if spec_is_local(source):
        import drawkit.sources.local as local

        write = local._append_lines

        def partial_lines(path, events):  # noqa: ANN001, ANN202
            write(path, events[:count])
            on_step("published_part")

        local._append_lines = partial_lines
        return
    capture = source.client.capture_batch

    def partial_capture(events, **options):  # noqa: ANN001, ANN003, ANN202
        capture(list(events)[:count], **options)
        on_step("published_part")

    source.client.capture_batch = partial_capture


def spec_is_local(source) -> bool:  # noqa: ANN001
    return type(source).__name__ == "LocalDataSource"


def main() -> None:
    spec = json.loads(sys.argv[1])
    participants = pd.read_csv(spec["participants"], dtype={"msisdn": str})
    if spec.get("go"):
        while not Path(spec["go"]).exists():
            time.sleep(0.005)
    on_step = stopper(spec.get("stop_at", ""), spec.get("marker", ""))
    record = draw(participants, spec["ledger"], spec["draw_id"], on_step)
    if spec.get("publish"):
        source = source_for(spec)
        first = spec.get("publish_first")
        if first is not None:
            crash_after(source, first + 1, on_step)  # draw_completed + the first winners
        from drawkit.draw import publish

        publish(record, source, signer())
    print(record.to_json(indent=None), end="")


if __name__ == "__main__":
    main()
