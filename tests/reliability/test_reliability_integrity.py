"""Hostile inputs, hostile key holders, hostile networks (issue 16): forged results sent
with PostHog's public project key, a ledger whose tail is cut or rewritten, re-runs with
other inputs, concurrent publishers. Each check counts what was tried and what was caught.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from reliability_support import child_env

from drawkit.app import DrawJob, Runtime, SourceSpec, publish
from drawkit.audit import reconcile
from drawkit.cli import main
from drawkit.config import PrizeTier, PromotionConfig
from drawkit.contract import (
    DRAW_COMPLETED,
    SIGNATURE,
    SIGNER,
    ResultEvent,
    ResultSigner,
    event_slot,
    result_events,
)
from drawkit.draw import Ledger
from drawkit.draw.record import entry_hash

pytestmark = pytest.mark.reliability

CONFIG = PromotionConfig(
    name="Integrity promo",
    prizes=(PrizeTier("Grand", 100_000, 1), PrizeTier("Bundle", 5_000, 2)),
    reserves_per_tier=1,
)
DAY = date(2026, 11, 24)
# The uuid5 namespace of result events before they were keyed: anyone could compute them.
OLD_NAMESPACE = uuid.UUID("6f1c2e0a-8d7b-5b3e-9c41-d2a7e0b3f915")


def participants(n: int = 40, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame({
        "msisdn": [f"+23480312{10000 + 37 * i + offset:05d}" for i in range(n)],
        "entries": [1 + (7 * i) % 11 for i in range(n)],
    })


# ------------------------------------------------------------------ forged results


def old_uuid(event: ResultEvent) -> str:
    """The uuid the event had before uuids were keyed (uuid5 of the draw id and slot)."""
    parts = [event.properties["draw_id"], *map(str, event_slot(event))]
    return str(uuid.uuid5(OLD_NAMESPACE, "/".join(parts)))


def forged(real: ResultEvent, number: int, *, uid: str, signature: str | None = None,
           key_id: str | None = None) -> ResultEvent:
    """An attacker's version of ``real``: another winner, a bogus record hash."""
    props = {k: v for k, v in real.properties.items() if k not in (SIGNATURE, SIGNER)}
    distinct = real.distinct_id
    if real.event == DRAW_COMPLETED:
        props["record_hash"] = hashlib.sha256(b"bogus %d" % number).hexdigest()
    else:
        distinct = f"+23470399{number:05d}"
        props["msisdn_masked"] = f"0703****{number % 1000:03d}"
    if signature is not None:
        props[SIGNATURE], props[SIGNER] = signature, key_id
    return ResultEvent(real.event, distinct, uid, props)


def capture(server, events: list[ResultEvent], stamp: str) -> None:  # noqa: ANN001
    """Send events with the project key alone (what anyone who has it can do)."""
    from drawkit.posthog import PostHogClient, build_event

    client = PostHogClient(server.url, server.api_key, server.project_id, server.project_api_key)
    client.capture_batch([build_event(e.event, e.distinct_id, e.properties, timestamp=stamp,
                                      uuid=e.uuid) for e in events])
    client.close()


def test_forged_results_sent_with_the_project_key_are_named_and_fail_the_audit(
    tmp_path: Path, signed_rounds, result_signer, reliability  # noqa: ANN001
) -> None:
    from drawkit.eligibility import draw_window
    from drawkit.offline.posthog_emulator import EmulatorServer

    ledger = tmp_path / "ledger"
    record = signed_rounds.commit_and_draw(participants(), CONFIG, DAY, ledger, 1200,
                                           secret=bytes.fromhex("5a" * 32), draw_id="forged")
    clean = signed_rounds.commit_and_draw(participants(offset=3), CONFIG, DAY, ledger, 1300,
                                          secret=bytes.fromhex("5b" * 32), draw_id="clean")
    real = result_events(record.to_outcome(), result_signer)
    stamp = draw_window(PromotionConfig(), DAY).cutoff.isoformat()
    attacker = ResultSigner.generate()
    numbers = itertools.count(1)
    before = (  # sent before the publish, to be taken for the real result
        [forged(e, next(numbers), uid=old_uuid(e)) for e in real]  # the predictable uuids
        + [forged(e, next(numbers), uid=str(uuid.uuid4()), signature=os.urandom(64).hex(),
                  key_id=result_signer.key_id) for e in real]  # a fake signature, the real key id
        + [attacker.sign(forged(e, next(numbers), uid=str(uuid.uuid4()))) for e in real]
    )
    with EmulatorServer(profile="cloud", ingestion_lag_seconds=0.5,
                        cohort_calculation_seconds=0.05) as server:
        runtime = Runtime.from_env({**os.environ, **server.env()})
        capture(server, before, stamp)
        server.ingest_pending()

        def job(draw_id: str) -> DrawJob:
            return DrawJob(DAY, source=SourceSpec("posthog"), workspace=tmp_path,
                           ledger_dir=ledger, draw_id=draw_id)

        report = publish(job("forged"), runtime)
        assert (report.sent, report.already_recorded) == (len(real), 0), "a real event was skipped"
        assert len(report.forged) == len(before)
        assert all(e.uuid in " ".join(report.forged) for e in before)
        assert report.head is not None and report.head_sent
        source = runtime.source(job("forged"))
        held = source.get_published_events("forged")
        for event in real:  # every real event is in PostHog exactly as signed
            assert any(h.uuid == event.uuid and h.properties == {
                **event.properties, **{k: v for k, v in h.properties.items() if k[0] == "$"}}
                and h.distinct_id == event.distinct_id for h in held)
        audit_before = reconcile(record, held, ledger=Ledger(ledger))
        assert not audit_before.ok and len(audit_before.forged) == len(before)
        assert bool(audit_before.table["matches"].all())  # the real result is all there

        after = (  # once the real events are out: copies that try to pass for them
            [ResultEvent(e.event, e.distinct_id, str(uuid.uuid4()), dict(e.properties))
             for e in real]  # replayed under other uuids
            + [ResultEvent(e.event, f"+23470388{i:05d}", e.uuid, dict(e.properties))
               for i, e in enumerate(real[1:])]  # moved onto other people
            + [ResultEvent(real[0].event, real[0].distinct_id, real[0].uuid,
                           {**real[0].properties, "record_hash": "00" * 32})]  # bogus hash
        )
        next_day = draw_window(PromotionConfig(), date(2026, 11, 25)).cutoff.isoformat()
        capture(server, after, next_day)
        server.ingest_pending()
        held = source.get_published_events("forged")
        result = reconcile(record, held, ledger=Ledger(ledger))
        total = len(before) + len(after)
        assert not result.ok and len(result.forged) == total
        assert sum(f.startswith("draw_completed") for f in result.forged) == 3 + 1 + 1
        assert "FORGED" in result.format()
        assert not any(re.search(r"\+?234\d{10}", f) for f in result.forged)
        again = publish(job("forged"), runtime)
        assert (again.sent, again.already_recorded) == (0, len(real))
        assert len(again.forged) == total

        publish(job("clean"), runtime)
        clean_check = reconcile(clean, source.get_published_events("clean"), ledger=Ledger(ledger))
        assert clean_check.ok, clean_check.format()
    reliability.add(
        "hostile key holders: forged results (PostHog emulator over HTTP)",
        f"{total} forged events sent with the public project key: {len(real)} with the old "
        f"predictable uuids, {len(real)} with fake signatures and the real key id, {len(real)} "
        f"signed by another key (before the publish); {len(real)} real events replayed under "
        f"other uuids, {len(real) - 1} moved onto other people, a draw_completed with a bogus "
        "record_hash (after it)",
        total,
        f"publish sent all {len(real)} real events (none skipped as already recorded) and named "
        f"the {len(before)} forgeries present; the audit's reconciliation named all {total} "
        "(numbers masked) and failed; a clean draw reconciled (no false alarm)",
    )


def test_forged_draw_events_are_named_and_the_real_ones_published_once(
    tmp_path: Path, signed_rounds, result_signer, reliability  # noqa: ANN001
) -> None:
    """After a winner drops out: draw events an attacker sends with the project key (a
    promotion to someone else, an unsigned claim, the real event replayed onto another
    person or under another uuid) are named; the real ones are published exactly once."""
    from drawkit.app import record_draw_event
    from drawkit.draw import published_events
    from drawkit.eligibility import draw_window
    from drawkit.offline.posthog_emulator import EmulatorServer

    ledger = tmp_path / "ledger"
    record = signed_rounds.commit_and_draw(participants(), CONFIG, DAY, ledger, 1400,
                                           secret=bytes.fromhex("5c" * 32), draw_id="dropped")
    stamp = draw_window(PromotionConfig(), DAY).cutoff.isoformat()
    job = DrawJob(DAY, source=SourceSpec("posthog"), workspace=tmp_path, ledger_dir=ledger,
                  draw_id="dropped")
    with EmulatorServer(profile="cloud", ingestion_lag_seconds=0.5,
                        cohort_calculation_seconds=0.05) as server:
        runtime = Runtime.from_env({**os.environ, **server.env()})
        publish(job, runtime)
        record_draw_event(ledger, "dropped", "unreachable", tier="Grand", position=1)
        events = published_events(record, Ledger(ledger).events("dropped"))
        real = result_events(record.to_outcome(events=events), result_signer)[-len(events):]
        promoted = real[-1]
        attacker = ResultSigner.generate()
        before = [
            attacker.sign(ResultEvent(promoted.event, "+2347039900001", str(uuid.uuid4()),
                                      {k: v for k, v in promoted.properties.items()
                                       if k not in (SIGNATURE, SIGNER)})),
            ResultEvent("draw_event", record.winners[1].msisdn, str(uuid.uuid4()),
                        {"draw_id": "dropped", "kind": "claimed", "ledger_sequence": 99}),
        ]
        capture(server, before, stamp)
        server.ingest_pending()
        report = publish(job, runtime)
        assert report.sent == len(events) == 2 and len(report.forged) == len(before)
        after = [ResultEvent(promoted.event, "+2347039900002", promoted.uuid,
                             dict(promoted.properties)),
                 ResultEvent(promoted.event, promoted.distinct_id, str(uuid.uuid4()),
                             dict(promoted.properties))]
        capture(server, after, stamp)
        server.ingest_pending()
        source = runtime.source(job)
        result = reconcile(record, source.get_published_events("dropped"), ledger=Ledger(ledger))
        total = len(before) + len(after)
        assert not result.ok and len(result.forged) == total
        assert all(f.startswith("draw_event") for f in result.forged)
        assert bool(result.table["matches"].all())  # the real result and events are all there
        assert not any(re.search(r"\+?234\d{10}", f) for f in result.forged)
        again = publish(job, runtime)
        assert (again.sent, len(again.forged)) == (0, total)
        held = server.store.events
        assert int((held["event"] == "draw_event").sum()) == len(events) + total
    reliability.add(
        "hostile key holders: forged draw events (PostHog emulator over HTTP)",
        f"after a winner dropped out: {total} forged draw events sent with the public project "
        "key (a promotion of someone else signed by another key, an unsigned claim, the real "
        "promotion replayed onto another person and under another uuid)",
        total,
        f"publish sent the {len(events)} real draw events once (none on a repeat) and named the "
        f"forgeries; the reconciliation named all {total} (numbers masked) and failed, with "
        "every real event matched",
    )


# ------------------------------------------------------------------ the anchored tail


DAYS = 4


def build_ledger(path: Path, signed_rounds) -> list[str]:  # noqa: ANN001
    """Four days committed and drawn; returns every head published on the way (after each
    commitment and each draw)."""
    for day in range(DAYS):
        draw_day(path, signed_rounds, day, "1a")
    return [e["record_hash"] for e in Ledger(path).entries()]


def draw_day(path: Path, signed_rounds, day: int, secret: str) -> None:  # noqa: ANN001
    signed_rounds.commit_and_draw(participants(offset=day), CONFIG, date(2026, 11, 20 + day),
                                  path, 2000 + 100 * day, secret=bytes.fromhex(secret * 32),
                                  draw_id=f"day-{day}")


def second_entry(path: Path, kind: str) -> None:
    """A second commitment or record for day-0, appended by hand with correct hashes."""
    ledger = Ledger(path)
    entries = ledger.entries()
    original = next(e for e in entries if e["kind"] == kind and e["draw_id"] == "day-0")
    entry = {**original, "sequence": len(entries) + 1,
             "previous_record_hash": entries[-1]["record_hash"], "record_hash": ""}
    entry["record_hash"] = entry_hash(entry)
    name = f"{entry['sequence']:08d}-{kind}-day-0.json"
    (path / "entries" / name).write_text(json.dumps(entry), encoding="utf-8")


def verify_exit(ledger: Path, heads: list[str]) -> tuple[int | None, str]:
    """``drawkit ledger verify`` (exit code, output), bounded at 15 s: a hang is a failure."""
    out: list = []

    def run() -> None:
        import contextlib
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(["ledger", "verify", "--ledger", str(ledger),
                         *[a for h in heads for a in ("--head", h)]])
        out.append((code, buffer.getvalue()))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=15)
    return out[0] if out else (None, "hung")


def test_a_cut_or_rewritten_ledger_tail_and_special_files_never_verify(
    tmp_path: Path, signed_rounds, reliability  # noqa: ANN001
) -> None:
    pristine = tmp_path / "pristine"
    heads = build_ledger(pristine, signed_rounds)
    assert verify_exit(pristine, heads)[0] == 0
    cases: dict[str, Path] = {}
    chain_only = 0  # of the tail cases, how many the hash chain alone catches

    def copy(name: str) -> Path:
        target = tmp_path / f"case-{len(cases)}"
        shutil.copytree(pristine, target, symlinks=True)
        cases[name] = target
        return target

    entries = sorted((pristine / "entries").iterdir())
    tail_cases = []
    for k in range(1, len(entries) + 1):
        path = copy(f"last {k} entries deleted")
        for entry in sorted((path / "entries").iterdir())[-k:]:
            entry.unlink()
        tail_cases.append(path)
    for day in range(DAYS):
        path = copy(f"day {day} and later deleted, re-drawn with a new secret")
        for entry in sorted((path / "entries").iterdir())[2 * day:]:
            entry.unlink()
        for again in range(day, DAYS):
            draw_day(path, signed_rounds, again, "2b")
        tail_cases.append(path)
    for path in tail_cases:
        chain_only += verify_exit(path, [])[0] != 0
    for kind in ("draw", "commitment"):
        second_entry(copy(f"a second {kind} entry for one draw id"), kind)

    special = {
        "a FIFO as the next entry": lambda p: os.mkfifo(p / "entries" / next_name(p)),
        "a FIFO in place of an entry": lambda p: replace_entry(p, os.mkfifo),
        "a symlink as the next entry": lambda p: (p / "entries" / next_name(p)).symlink_to(
            sorted((p / "entries").iterdir())[0]),
        "a symlink to an identical copy in place of an entry": lambda p: replace_entry(
            p, lambda e, keep: e.symlink_to(keep)),
        "a folder as the next entry": lambda p: (p / "entries" / next_name(p)).mkdir(),
        "a unix socket as the next entry": lambda p: bind_socket(p / "entries" / next_name(p)),
        "the entries folder a symlink to a copy": lambda p: link_folder(p / "entries"),
    }
    for name, tamper in special.items():
        tamper(copy(name))
    linked = copy("the ledger folder a symlink to a copy")
    link_folder(linked)
    cases["a mistyped ledger folder"] = tmp_path / "no-such-ledger"
    (tmp_path / "a-file").write_text("not a ledger")
    cases["a file instead of the ledger folder"] = tmp_path / "a-file"
    (tmp_path / "unrelated").mkdir()
    cases["a folder that is not a ledger"] = tmp_path / "unrelated"

    outcomes = {name: verify_exit(path, heads) for name, path in cases.items()}
    hung = [name for name, (code, _) in outcomes.items() if code is None]
    passed = [name for name, (code, _) in outcomes.items() if code == 0]
    assert not hung, f"ledger verify hung on: {hung}"
    assert not passed, f"reported intact: {passed}"
    assert all(code == 1 and ("BROKEN" in out) for code, out in outcomes.values())
    assert verify_exit(pristine, heads)[0] == 0  # the untouched ledger still verifies
    reliability.add(
        "hostile inputs: ledger tail and files",
        f"drawkit ledger verify --head (the {len(heads)} heads published after each commit and "
        f"draw) on {len(tail_cases)} cut or rewritten tails (the last 1..{len(entries)} entries "
        f"deleted; a day and the days after it deleted and re-drawn with a new secret), a second "
        "commitment or record for one id, FIFOs, symlinks, a folder and a socket as entries, "
        "symlinked folders, a mistyped, a non-folder and a non-ledger path",
        len(cases),
        f"exit 1 naming the problem in {len(cases)} of {len(cases)} cases, none hung, none "
        f"'intact' (the hash chain alone caught {chain_only} of the {len(tail_cases)} tail "
        "cases); the untouched ledger with every head: exit 0",
    )


def next_name(path: Path) -> str:
    count = len(list((path / "entries").iterdir()))
    return f"{count + 1:08d}-event-day-0.json"


def replace_entry(path: Path, make) -> None:  # noqa: ANN001
    """Move the ledger's third entry aside and put ``make(entry[, kept copy])`` there."""
    entry = sorted((path / "entries").iterdir())[2]
    keep = path / f"kept-{entry.name}"
    entry.rename(keep)
    if make is os.mkfifo:
        os.mkfifo(entry)
    else:
        make(entry, keep)


def link_folder(path: Path) -> None:
    copy = path.with_name(path.name + "-real")
    path.rename(copy)
    path.symlink_to(copy)


def bind_socket(path: Path) -> None:
    """A unix socket at ``path`` (bound from a short folder: socket paths are short)."""
    short = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(short / "s"))
        server.close()
        (short / "s").rename(path)
    finally:
        shutil.rmtree(short, ignore_errors=True)


# ------------------------------------------------------------------ honest re-runs


RERUN_TOML = """
[promotion]
name = "Rerun promo"
[[prizes]]
name = "Grand"
value_ngn = 1000
count = 1
[draw]
reserves_per_tier = 1
[beacon]
commit_margin_seconds = 1
"""


def test_rerunning_a_drawn_id_with_other_inputs_is_refused_naming_each_one(
    tmp_path: Path, monkeypatch, drand_env, drand_chain, capsys, reliability  # noqa: ANN001
) -> None:
    first = tmp_path / "participants.csv"
    participants().to_csv(first, index=False)
    other = tmp_path / "other.csv"
    participants(offset=5).to_csv(other, index=False)
    config = tmp_path / "promo.toml"
    config.write_text(RERUN_TOML)
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", "3c" * 32)
    base = ["--date", "2026-11-24", "--config", str(config), "--workspace", str(tmp_path / "ws")]
    assert main(["commit", *base, "--participants", str(first)]) == 0
    assert main(["draw", *base, "--participants", str(first), "--wait"]) == 0
    capsys.readouterr()
    record = Ledger(tmp_path / "ws" / "ledger").records()[0]
    later = record.beacon_round + 3
    signature = drand_chain.sign(later)
    changes = {
        "operator secret": ("secret", None),
        "participants file": ("participants", str(other)),
        "beacon round": ("--beacon-round", str(later)),
        "beacon signature": ("--beacon-signature", signature.hex()),
        "beacon value": ("--beacon", hashlib.sha256(signature).hexdigest()),
    }
    refused = 0
    for size in range(1, len(changes) + 1):
        for combo in itertools.combinations(changes, size):
            args = [*base, "--participants", str(other if "participants file" in combo else first)]
            for name in combo:
                option, value = changes[name]
                if option.startswith("--"):
                    args += [option, value]
            monkeypatch.setenv("DRAWKIT_DRAW_SECRET",
                               ("4d" if "operator secret" in combo else "3c") * 32)
            assert main(["draw", *args]) == 2, combo
            err = capsys.readouterr().err
            assert f"draw {record.draw_id} already ran" in err
            assert all(name in err for name in combo), (combo, err)
            assert "4d" * 32 not in err and "3c" * 32 not in err
            refused += 1
    monkeypatch.setenv("DRAWKIT_DRAW_SECRET", "3c" * 32)
    assert main(["draw", *base, "--participants", str(first)]) == 0
    assert "already drawn" in capsys.readouterr().out
    assert len(Ledger(tmp_path / "ws" / "ledger").records()) == 1
    reliability.add(
        "hostile inputs: re-runs of a drawn id",
        f"drawkit draw again for a drawn id with every combination of another operator secret, "
        f"participants file, beacon round, beacon signature and beacon value ({refused} "
        "combinations), then with the same inputs",
        refused + 1,
        f"{refused} of {refused} refused (exit 2) naming every input that differs, no secret "
        "shown, the ledger still one record; the same inputs show the record (exit 0)",
    )


# ------------------------------------------------------------------ concurrent publishes


PUBLISHERS = 5


def test_concurrent_publishes_send_each_event_once(
    tmp_path: Path, signed_rounds, reliability  # noqa: ANN001
) -> None:
    from drawkit.offline.posthog_emulator import EmulatorServer

    workspace = tmp_path / "ws"
    record = signed_rounds.commit_and_draw(participants(), PromotionConfig(), DAY,
                                           workspace / "ledger", 1500,
                                           secret=bytes.fromhex("6e" * 32))
    expected = len(record.winners) + 1
    with EmulatorServer(profile="cloud", ingestion_lag_seconds=2.0,
                        cohort_calculation_seconds=0.05) as server:
        command = [sys.executable, "-m", "drawkit", "publish", record.draw_id, "--source",
                   "posthog", "--workspace", str(workspace)]
        children = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=child_env(**server.env()))
                    for _ in range(PUBLISHERS)]
        outputs = [child.communicate(timeout=300) for child in children]
        for child, (_out, err) in zip(children, outputs, strict=True):
            assert child.returncode == 0, err
        server.ingest_pending()
        events = server.store.events
        mine = events[events["properties"].map(lambda p: p.get("draw_id") == record.draw_id)
                      & events["event"].isin(["draw_completed", "draw_winner"])]
        heads = events[events["event"] == "draw_ledger_head"]
        received = len(mine) + len(heads) + server.store.duplicates_dropped
    sent = [int(re.search(r"(\d+) event\(s\) sent", out).group(1)) for out, _ in outputs]
    assert sorted(sent) == [0] * (PUBLISHERS - 1) + [expected], sent
    assert len(mine) == expected and mine["uuid"].is_unique
    assert received == expected + 1, "an event was sent more than once"
    reliability.add(
        "hostile networks: concurrent publishes (PostHog emulator over HTTP)",
        f"{PUBLISHERS} drawkit publish --source posthog processes started at once for one draw "
        f"({expected} result events and the ledger head; 2 s ingestion lag)",
        PUBLISHERS,
        f"the emulator received {received} events in all, each once (one process sent "
        f"{expected}, the others found them recorded: {sorted(sent)}), through the ledger's "
        "publish lock",
    )
