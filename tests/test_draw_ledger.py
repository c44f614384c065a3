"""Ledger: hash chain, atomic append-only writes, the lock, crashes, later events."""

from __future__ import annotations

import json
import multiprocessing as mp
from datetime import date

import pandas as pd
import pytest

from drawkit.config import PrizeTier, PromotionConfig
from drawkit.draw import Ledger, record_event, run_draw, standing
from drawkit.errors import DrawError, LedgerError

DAY = date(2026, 11, 24)
SECRET = bytes.fromhex("77" * 32)
CONFIG = PromotionConfig(
    name="Ledger promo", prizes=(PrizeTier("Grand", 10, 2),), reserves_per_tier=2
)


def participants(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "msisdn": [f"+23481{20000000 + 11 * i:08d}" for i in range(n)],
            "entries": [1 + i % 5 for i in range(n)],
        }
    )


def draw(ledger_dir, **kwargs):
    return run_draw(participants(), CONFIG, DAY, ledger_dir=ledger_dir, secret=SECRET, **kwargs)


class Crash(Exception):
    pass


def crash_at(name: str):
    def step(current: str) -> None:
        if current == name:
            raise Crash(name)

    return step


def test_chain_links_every_entry(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    first = draw(tmp_path)
    second = run_draw(
        participants(), CONFIG, date(2026, 11, 25), ledger_dir=tmp_path, secret=SECRET
    )
    entries = ledger.entries()
    assert [e["sequence"] for e in entries] == [1, 2, 3, 4]
    assert [e["kind"] for e in entries] == ["commitment", "draw", "commitment", "draw"]
    assert entries[0]["previous_record_hash"] is None
    for before, after in zip(entries, entries[1:], strict=False):
        assert after["previous_record_hash"] == before["record_hash"]
    assert second.previous_record_hash == entries[2]["record_hash"]
    assert first.previous_record_hash == first.commitment.record_hash
    assert ledger.verify_chain().ok


def test_missing_entry_is_reported(tmp_path) -> None:
    draw(tmp_path)
    (commitment,) = (tmp_path / "entries").glob("00000001-*")
    commitment.unlink()
    report = Ledger(tmp_path).verify_chain()
    assert not report.ok and "entry 1 is missing" in report.problem


def test_relinked_entry_is_reported(tmp_path) -> None:
    draw(tmp_path)
    (path,) = (tmp_path / "entries").glob("00000002-*")
    data = json.loads(path.read_text())
    data["previous_record_hash"] = "00" * 32
    path.write_text(json.dumps(data))
    report = Ledger(tmp_path).verify_chain()
    assert report.sequence == 2 and "does not link" in report.problem


def test_entries_are_never_overwritten(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    draw(tmp_path)
    (path,) = (tmp_path / "entries").glob("00000002-*")
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="already exists"):
        ledger._write_atomically(path, {"draw_id": "x"})
    assert path.read_bytes() == before
    assert [p.name for p in (tmp_path / "entries").iterdir() if p.name.startswith(".tmp")] == []


def test_leftover_temporary_file_is_ignored(tmp_path) -> None:
    draw(tmp_path)
    (tmp_path / "entries" / ".tmp-999-00000003-draw-x.json").write_text("{half")
    assert Ledger(tmp_path).verify_chain().ok
    assert len(Ledger(tmp_path).records()) == 1


@pytest.mark.parametrize("step", ["locked", "committed", "seed_derived", "selected"])
def test_crash_before_the_record_then_rerun_gives_the_same_winners(tmp_path, step) -> None:
    reference = draw(tmp_path / "reference")
    with pytest.raises(Crash):
        draw(tmp_path / "crashed", on_step=crash_at(step))
    assert Ledger(tmp_path / "crashed").get(reference.draw_id) is None
    rerun = draw(tmp_path / "crashed")
    assert rerun.winners == reference.winners
    assert rerun.seed == reference.seed
    assert Ledger(tmp_path / "crashed").verify_chain().ok


def test_crash_after_the_record_returns_it(tmp_path) -> None:
    with pytest.raises(Crash):
        draw(tmp_path, on_step=crash_at("record_written"))
    written = Ledger(tmp_path).get("ledger-promo-2026-11-24")
    assert written is not None
    assert draw(tmp_path) == written


def _draw_in_child(ledger_dir: str, start, queue) -> None:  # pragma: no cover - child
    start.wait()
    record = draw(ledger_dir)
    queue.put((record.record_hash, record.sequence))


def test_concurrent_draws_of_one_id_give_one_record(tmp_path) -> None:
    ctx = mp.get_context("fork")
    start, queue = ctx.Event(), ctx.Queue()
    children = [
        ctx.Process(target=_draw_in_child, args=(str(tmp_path), start, queue)) for _ in range(3)
    ]
    for child in children:
        child.start()
    start.set()
    results = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert len(set(results)) == 1
    ledger = Ledger(tmp_path)
    assert len(ledger.records()) == 1
    assert len(ledger.entries()) == 2
    assert ledger.verify_chain().ok


def test_lock_timeout_is_a_clear_error(tmp_path) -> None:
    holder = Ledger(tmp_path)
    waiter = Ledger(tmp_path, lock_timeout=0.2)
    with holder.lock(), pytest.raises(LedgerError, match="locked by another draw"):
        with waiter.lock():
            pass


def test_unreachable_winner_promotes_reserves_in_order(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    record = draw(tmp_path)
    reserves = record.winners_of("Grand", "reserve")
    appended = record_event(ledger, record.draw_id, "unreachable", position=2, reason="no answer")
    assert [e["event"] for e in appended] == ["unreachable", "promoted"]
    assert appended[1]["details"]["reserve_position"] == 1
    # the promoted reserve is disqualified in turn: reserve 2 takes prize 2
    record_event(ledger, record.draw_id, "disqualified", role="reserve", position=1)
    now = standing(record, ledger.events(record.draw_id))
    assert now.holders[("Grand", 2)] == reserves[1]
    assert now.holders[("Grand", 1)] == record.winners[0]
    # no reserve left: the prize is recorded unfilled, nothing is redrawn
    appended = record_event(ledger, record.draw_id, "unreachable", role="reserve", position=2)
    assert [e["event"] for e in appended] == ["unreachable", "unfilled"]
    assert ledger.get(record.draw_id) == record  # the record itself never changes
    assert ledger.verify_chain().ok


def test_dropping_a_reserve_that_holds_no_prize_promotes_nobody(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    record = draw(tmp_path)
    appended = record_event(ledger, record.draw_id, "disqualified", role="reserve", position=1)
    assert [e["event"] for e in appended] == ["disqualified"]
    record_event(ledger, record.draw_id, "unreachable", position=1)
    now = standing(record, ledger.events(record.draw_id))
    assert now.holders[("Grand", 1)] == record.winners_of("Grand", "reserve")[1]


def test_claims_and_bad_events(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    record = draw(tmp_path)
    record_event(ledger, record.draw_id, "claimed", position=1)
    assert ("Grand", "winner", 1) in standing(record, ledger.events(record.draw_id)).claimed
    with pytest.raises(DrawError, match="no 'Grand' winner at position 9"):
        record_event(ledger, record.draw_id, "claimed", position=9)
    with pytest.raises(DrawError, match="unknown event"):
        record_event(ledger, record.draw_id, "vanished", position=1)
    with pytest.raises(LedgerError, match="no draw"):
        record_event(ledger, "nope", "claimed", position=1)
    record_event(ledger, record.draw_id, "unreachable", position=2)
    with pytest.raises(DrawError, match="already dropped out"):
        record_event(ledger, record.draw_id, "unreachable", position=2)


def test_bad_draw_id_is_refused(tmp_path) -> None:
    with pytest.raises(LedgerError, match="draw id"):
        draw(tmp_path, draw_id="../escape")


# ------------------------------------------------------------------ an anchored tail (issue 16)


def test_a_deleted_tail_passes_the_chain_but_not_a_published_head(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    draw(tmp_path)
    published = ledger.head()  # what publish sends and the website shows
    assert published == ledger.verify_chain().head and published.sequence == 2
    run_draw(participants(), CONFIG, date(2026, 11, 25), ledger_dir=tmp_path, secret=SECRET)
    later = ledger.head()
    assert ledger.verify_chain([published.record_hash, later.record_hash]).ok
    for path in sorted((tmp_path / "entries").iterdir())[-2:]:
        path.unlink()  # the day of 2026-11-25 removed
    assert ledger.verify_chain().ok  # the chain alone cannot tell
    assert ledger.verify_chain([published.record_hash]).ok
    report = ledger.verify_chain([published.record_hash, later.record_hash.upper()])
    assert not report.ok and later.record_hash in report.problem
    assert "removed or rewritten" in report.format() and "entry 2" in report.problem


def test_a_deleted_and_redrawn_day_fails_against_its_published_head(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    first = draw(tmp_path)
    commitment_head = first.commitment.ledger_head  # printed by commit, before the draw
    assert first.commitment.ledger_head_before is None
    assert commitment_head.record_hash in first.commitment.announcement()
    for path in (tmp_path / "entries").iterdir():
        path.unlink()
    redrawn = run_draw(participants(), CONFIG, DAY, ledger_dir=tmp_path,
                       secret=bytes.fromhex("78" * 32))
    assert redrawn.winners != first.winners and ledger.verify_chain().ok
    assert not ledger.verify_chain([commitment_head.record_hash]).ok
    assert not ledger.verify_chain([first.record_hash]).ok


def test_a_second_record_for_one_id_is_refused_and_detected(tmp_path) -> None:
    ledger = Ledger(tmp_path)
    record = draw(tmp_path)
    body = {k: v for k, v in record.to_dict().items()
            if k not in ("sequence", "previous_record_hash", "record_hash", "kind")}
    with pytest.raises(LedgerError, match="already has a draw entry"):
        ledger.append("draw", body)
    # written by hand, hashes and links correct: the chain holds, the ledger does not
    entry = {**body, "kind": "draw", "sequence": 3, "previous_record_hash": record.record_hash}
    entry["record_hash"] = ""
    from drawkit.draw.record import entry_hash

    entry["record_hash"] = entry_hash(entry)
    (tmp_path / "entries" / f"00000003-draw-{record.draw_id}.json").write_text(json.dumps(entry))
    report = ledger.verify_chain()
    assert not report.ok and report.sequence == 3
    assert "a second draw entry" in report.problem and "entry 2" in report.problem


def test_missing_folders_files_links_and_special_files_are_never_intact(tmp_path) -> None:
    import os
    import threading

    assert not Ledger(tmp_path / "typo").verify_chain().ok
    assert "does not exist" in Ledger(tmp_path / "typo").verify_chain().problem
    (tmp_path / "a-file").write_text("x")
    assert "not a folder" in Ledger(tmp_path / "a-file").verify_chain().problem
    (tmp_path / "empty").mkdir()
    assert "no entries folder" in Ledger(tmp_path / "empty").verify_chain().problem
    real = tmp_path / "real"
    draw(real)
    (tmp_path / "linked").symlink_to(real)
    assert "symbolic link" in Ledger(tmp_path / "linked").verify_chain().problem
    (tmp_path / "entries-linked").mkdir()
    (tmp_path / "entries-linked" / "entries").symlink_to(real / "entries")
    assert "symbolic link" in Ledger(tmp_path / "entries-linked").verify_chain().problem

    link = real / "entries" / "00000003-event-ledger-promo-2026-11-24.json"
    link.symlink_to(real / "entries" / "00000002-draw-ledger-promo-2026-11-24.json")
    report = Ledger(real).verify_chain()
    assert not report.ok and report.sequence == 3 and "symbolic link" in report.problem
    link.unlink()

    fifo = real / "entries" / "00000003-event-ledger-promo-2026-11-24.json"
    os.mkfifo(fifo)
    answer: list = []
    reader = threading.Thread(target=lambda: answer.append(Ledger(real).verify_chain()),
                              daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():  # release a reader blocked on the FIFO before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
    assert answer, "ledger verify hung on a FIFO planted in the ledger"
    assert not answer[0].ok and "a FIFO, not a regular file" in answer[0].problem
    with pytest.raises(LedgerError, match="FIFO"):
        Ledger(real).entries()
    fifo.unlink()
    lock = real / ".lock"
    lock.unlink()
    os.mkfifo(lock)
    with pytest.raises(LedgerError, match="lock file .* is a FIFO"):
        draw(real, draw_id="another")


def test_published_events_name_whom_each_ledger_event_concerns(tmp_path) -> None:
    """Every ledger event kind becomes a draw event: drop-outs and claims on the person,
    a promotion on the reserve promoted, an unfilled prize and a note on nobody."""
    from drawkit.draw import published_events

    ledger = Ledger(tmp_path)
    record = draw(tmp_path)
    reserves = record.winners_of("Grand", "reserve")
    record_event(ledger, record.draw_id, "unreachable", position=2, reason="no answer")
    record_event(ledger, record.draw_id, "disqualified", role="reserve", position=1)
    record_event(ledger, record.draw_id, "unreachable", role="reserve", position=2)
    record_event(ledger, record.draw_id, "claimed", position=1)
    ledger.append_event(record.draw_id, "note", {"reason": "handed over at the office"})
    entries = ledger.events(record.draw_id)
    events = published_events(record, entries)
    assert [e.kind for e in events] == [e["event"] for e in entries] == [
        "unreachable", "promoted", "disqualified", "promoted", "unreachable", "unfilled",
        "claimed", "note"]
    assert [(e.sequence, e.entry_hash) for e in events] == [
        (e["sequence"], e["record_hash"]) for e in entries]
    concerned = [(e.msisdn, e.role, e.position, e.prize_position) for e in events]
    winner1, winner2 = record.winners_of("Grand")[:2]
    assert concerned == [
        (winner2.msisdn, "winner", 2, None), (reserves[0].msisdn, "reserve", 1, 2),
        (reserves[0].msisdn, "reserve", 1, None), (reserves[1].msisdn, "reserve", 2, 2),
        (reserves[1].msisdn, "reserve", 2, None), (None, None, None, 2),
        (winner1.msisdn, "winner", 1, None), (None, None, None, None)]
    assert events[0].reason == "no answer" and events[-1].reason == "handed over at the office"
