"""Crash safety of the draw: SIGKILL at every durable step, then re-run; concurrent draws.

A child process runs the draw and parks itself at a step (run_draw's ``on_step`` hook);
the test kills it with SIGKILL, checks the ledger's hash chain, re-runs the draw and
compares with an uninterrupted reference draw of the same inputs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import crash_child
import numpy as np
import pandas as pd
import pytest
from reliability_support import child_env

from drawkit.contract import completed_uuid, winner_uuid
from drawkit.draw import DrawRecord, Ledger, publish, verify_record
from drawkit.sources.local import LocalDataSource

pytestmark = pytest.mark.reliability

CHILD = Path(__file__).with_name("crash_child.py")
DRAW_STEPS = ("locked", "committed", "seed_derived", "selected", "record_written")
DRAW_ID = "crash-promo-2026-11-24"


def participants(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "msisdn": [f"+23481{20000000 + 104729 * i % 10**8:08d}" for i in range(n)],
            "entries": rng.integers(1, 80, n),
        }
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DrawRecord]:
    """The participants file and the reference record of an uninterrupted draw."""
    base = tmp_path_factory.mktemp("crash-inputs")
    csv = base / "participants.csv"
    participants().to_csv(csv, index=False)
    reference = crash_child.draw(participants(), base / "reference-ledger", DRAW_ID)
    return csv, reference


def start_child(spec: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def wait_for(path: Path, child: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if child.poll() is not None:
            raise AssertionError(f"child ended before {path.name}: {child.stderr.read()}")
        if time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"child never reached {path.name}")
        time.sleep(0.01)


def kill_at(step: str, spec: dict, tmp_path: Path) -> None:
    """Start the child, wait until it parks at ``step``, SIGKILL it."""
    marker = tmp_path / f"at-{step}"
    child = start_child({**spec, "stop_at": step, "marker": str(marker)})
    wait_for(marker, child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def same_draw(record: DrawRecord, reference: DrawRecord) -> None:
    assert record.winners == reference.winners
    assert record.seed == reference.seed
    assert record.cohort_digest == reference.cohort_digest


def entry_kinds(ledger: Ledger) -> list[str]:
    return [e["kind"] for e in ledger.entries()]


@pytest.mark.parametrize("step", DRAW_STEPS)
def test_draw_killed_at_each_step_reruns_to_the_same_record(
    step: str,
    inputs,
    tmp_path: Path,
    reliability,  # noqa: ANN001
) -> None:
    csv, reference = inputs
    ledger_dir = tmp_path / "ledger"
    spec = {"ledger": str(ledger_dir), "participants": str(csv), "draw_id": DRAW_ID}
    kill_at(step, spec, tmp_path)

    ledger = Ledger(ledger_dir)
    chain = ledger.verify_chain()
    assert chain.ok, chain.format()
    before = ledger.get(DRAW_ID)
    assert (before is not None) == (step == "record_written")
    assert not list(ledger.entries_dir.glob(".tmp-*")), "a temporary file was left behind"

    rerun = crash_child.draw(participants(), ledger_dir, DRAW_ID)  # lock must not be stale
    again = crash_child.draw(participants(), ledger_dir, DRAW_ID)
    same_draw(rerun, reference)
    assert again.record_hash == rerun.record_hash
    if before is not None:
        assert rerun.record_hash == before.record_hash
    assert entry_kinds(ledger) == ["commitment", "draw"]
    assert ledger.verify_chain().ok
    assert verify_record(rerun, participants(), ledger=ledger, accept_test_chain=True).ok
    reliability.add(
        "crash safety: draw",
        f"SIGKILL of the draw process at step '{step}', then two re-runs",
        1,
        "ledger chain intact after the kill, no stale lock or temp file; re-run gives the "
        "reference winners and seed"
        + (", the same record hash as written before the kill" if before else "")
        + "; one commitment + one record; verify_record MATCH",
    )


def test_concurrent_draws_of_one_id_give_one_record(inputs, tmp_path: Path, reliability) -> None:  # noqa: ANN001
    csv, reference = inputs
    rounds, width = 2, 3
    for r in range(rounds):
        ledger_dir = tmp_path / f"ledger-{r}"
        go = tmp_path / f"go-{r}"
        spec = {
            "ledger": str(ledger_dir),
            "participants": str(csv),
            "draw_id": DRAW_ID,
            "go": str(go),
        }
        children = [start_child(spec) for _ in range(width)]
        time.sleep(1.5)  # let every child import drawkit and wait at the start line
        go.touch()
        outputs = [c.communicate(timeout=120) for c in children]
        for child, (_, err) in zip(children, outputs, strict=True):
            assert child.returncode == 0, err
        records = [DrawRecord.from_json(out) for out, _ in outputs]
        assert len({rec.record_hash for rec in records}) == 1
        same_draw(records[0], reference)
        ledger = Ledger(ledger_dir)
        assert entry_kinds(ledger) == ["commitment", "draw"]
        assert ledger.verify_chain().ok
    reliability.add(
        "crash safety: draw",
        f"{width} processes start the same draw id at the same instant ({rounds} rounds)",
        rounds * width,
        "one commitment and one record per ledger; every process returned that record "
        "(same hash, reference winners)",
    )


# ------------------------------------------------------------------ publishing


def expected_uuids(record: DrawRecord) -> set[str]:
    key = crash_child.signer()
    return {completed_uuid(record.draw_id, key=key)} | {
        winner_uuid(record.draw_id, w.tier, w.role, w.position, key=key) for w in record.winners
    }


def local_source(results_dir: Path) -> LocalDataSource:
    empty = pd.DataFrame(columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])
    return LocalDataSource(empty, results_dir=results_dir)


def jsonl_uuids(path: Path) -> list[str]:
    return [json.loads(line)["uuid"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("first", [0, 3])
@pytest.mark.parametrize("torn", [False, True], ids=["clean-kill", "torn-line"])
def test_local_publish_killed_midway_completes_with_each_event_once(
    first: int,
    torn: bool,
    inputs,
    tmp_path: Path,
    reliability,  # noqa: ANN001
) -> None:
    csv, reference = inputs
    results = tmp_path / "results"
    spec = {
        "ledger": str(tmp_path / "ledger"),
        "participants": str(csv),
        "draw_id": DRAW_ID,
        "publish": "local",
        "results_dir": str(results),
        "publish_first": first,
    }
    kill_at("published_part", spec, tmp_path)
    path = results / "results.jsonl"
    assert len(jsonl_uuids(path)) == first + 1  # draw_completed + the first winners
    if torn:  # the kill landed in the middle of writing a line
        with path.open("a", encoding="utf-8") as handle:
            handle.write('{"event": "draw_winner", "uuid": "')
    record = Ledger(tmp_path / "ledger").get(DRAW_ID)
    same_draw(record, reference)
    report = publish(record, local_source(results), crash_child.signer())
    assert report.sent == len(record.winners) - first
    again = publish(record, local_source(results), crash_child.signer())
    assert again.sent == 0
    uuids = jsonl_uuids(path)
    assert sorted(uuids) == sorted(expected_uuids(record)), "an event is missing or doubled"
    published = local_source(results).get_published_results(DRAW_ID)
    assert len(published) == len(record.winners) + 1
    reliability.add(
        "crash safety: publish (local results)",
        f"SIGKILL after {first} of {len(record.winners)} winner events were written"
        + (", with a torn half-written last line" if torn else "")
        + "; publish re-run twice",
        1,
        "results.jsonl ends with every event exactly once (draw_completed + each winner); "
        "the second re-run sends nothing",
    )


@pytest.fixture
def emulator():  # noqa: ANN201
    from drawkit.offline.posthog_emulator import EmulatorServer

    server = EmulatorServer(calculation_seconds=0.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_posthog_publish_killed_midway_completes_with_each_event_once(
    inputs,
    emulator,
    tmp_path: Path,
    reliability,  # noqa: ANN001
) -> None:
    from drawkit.posthog import PostHogClient
    from drawkit.sources.posthog import PostHogDataSource

    csv, reference = inputs
    spec = {
        "ledger": str(tmp_path / "ledger"),
        "participants": str(csv),
        "draw_id": DRAW_ID,
        "publish": "posthog",
        "publish_first": 4,
    }
    marker = tmp_path / "at-published_part"
    child = subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            json.dumps({**spec, "stop_at": "published_part", "marker": str(marker)}),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(**emulator.env()),
    )
    wait_for(marker, child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)

    def draw_event_uuids() -> list[str]:
        events = emulator.store.events
        return list(events.loc[events["event"].isin(["draw_completed", "draw_winner"]), "uuid"])

    assert len(draw_event_uuids()) == 5
    record = Ledger(tmp_path / "ledger").get(DRAW_ID)
    same_draw(record, reference)
    client = PostHogClient(
        emulator.url, emulator.api_key, emulator.project_id, emulator.project_api_key
    )
    source = PostHogDataSource(client, crash_child.CONFIG)
    report = publish(record, source, crash_child.signer())
    assert report.sent == len(record.winners) - 4
    assert publish(record, source, crash_child.signer()).sent == 0
    uuids = draw_event_uuids()
    assert sorted(uuids) == sorted(expected_uuids(record))
    assert emulator.store.duplicates_dropped == 0, "a draw event was sent twice"
    published = source.get_published_results(DRAW_ID)
    assert len(published) == len(record.winners) + 1
    client.close()
    reliability.add(
        "crash safety: publish (PostHog emulator)",
        f"SIGKILL after 4 of {len(record.winners)} winner events were captured; publish "
        "re-run twice from a new process",
        1,
        "each draw event in PostHog exactly once, none re-sent (uuids already recorded are "
        "skipped); the second re-run sends nothing",
    )


def test_concurrent_publishers_record_each_event_once(inputs, tmp_path: Path, reliability) -> None:  # noqa: ANN001
    csv, reference = inputs
    go = tmp_path / "go"
    results = tmp_path / "results"
    spec = {
        "ledger": str(tmp_path / "ledger"),
        "participants": str(csv),
        "draw_id": DRAW_ID,
        "go": str(go),
        "publish": "local",
        "results_dir": str(results),
    }
    children = [start_child(spec) for _ in range(3)]
    time.sleep(1.5)
    go.touch()
    outputs = [c.communicate(timeout=120) for c in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    record = Ledger(tmp_path / "ledger").get(DRAW_ID)
    same_draw(record, reference)
    uuids = jsonl_uuids(results / "results.jsonl")
    assert sorted(uuids) == sorted(expected_uuids(record))
    reliability.add(
        "crash safety: publish (local results)",
        "3 processes run and publish the same draw to one results directory at once",
        3,
        "one record; results.jsonl holds every event exactly once",
    )


def test_leftovers_of_a_crash_mid_write_are_ignored(inputs, tmp_path: Path, reliability) -> None:  # noqa: ANN001
    """A process killed while writing an entry leaves a temporary file (never a half
    entry, since entries appear by hard link); the ledger and the draw ignore it."""
    csv, reference = inputs
    ledger_dir = tmp_path / "ledger"
    entries = ledger_dir / "entries"
    entries.mkdir(parents=True)
    (entries / f".tmp-99999-00000001-commitment-{DRAW_ID}.json").write_text('{"draw_id": "cr')
    (entries / f".tmp-99998-00000001-draw-{DRAW_ID}.json").write_bytes(b"")
    (ledger_dir / ".lock").write_text("")
    ledger = Ledger(ledger_dir)
    assert ledger.verify_chain().ok and ledger.get(DRAW_ID) is None
    record = crash_child.draw(participants(), ledger_dir, DRAW_ID)
    same_draw(record, reference)
    assert ledger.verify_chain().ok
    assert entry_kinds(ledger) == ["commitment", "draw"]
    reliability.add(
        "crash safety: draw",
        "ledger holding a half-written and an empty temporary entry and a stale lock file "
        "from a killed process",
        1,
        "chain reported intact, the draw runs and gives the reference winners",
    )
