"""verify_record: an untouched record verifies; each kind of change is found and named."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date

import pandas as pd
import pytest

from drawkit.config import PrizeTier, PromotionConfig
from drawkit.draw import DrawRecord, Ledger, run_draw, verify_record
from drawkit.errors import LedgerError
from drawkit.msisdn import mask

DAY = date(2026, 11, 24)
SECRET = bytes.fromhex("11" * 32)
ROUND = 99  # a round of the conftest's offline test chain (its key is made per run)
CONFIG = PromotionConfig(
    name="Verify promo",
    prizes=(PrizeTier("Grand", 50_000, 1), PrizeTier("Bundle", 1_000, 4)),
    reserves_per_tier=2,
)


def participants(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "msisdn": [f"+23490{10000000 + 37 * i:08d}" for i in range(n)],
            "entries": [1 + (i * 7) % 13 for i in range(n)],
        }
    )


@pytest.fixture
def drawn(tmp_path, signed_rounds) -> tuple[DrawRecord, pd.DataFrame, Ledger]:
    frame = participants()
    ledger = Ledger(tmp_path / "ledger")
    record = signed_rounds.commit_and_draw(frame, CONFIG, DAY, ledger.path, ROUND, secret=SECRET)
    assert record.beacon_value == hashlib.sha256(signed_rounds.chain.sign(ROUND)).hexdigest()
    return record, frame, ledger


def verify(record, frame, **options):
    """verify_record accepting the local test chain the fixtures draw on."""
    return verify_record(record, frame, accept_test_chain=True, **options)


def changed(record: DrawRecord, **fields) -> DrawRecord:
    return dataclasses.replace(record, **fields)


def test_untouched_record_verifies(drawn) -> None:
    record, frame, ledger = drawn
    report = verify(record, frame, ledger=ledger, beacon=bytes.fromhex(record.beacon_value))
    assert report.ok, report.format()
    assert report.differences == ()
    assert report.chain is not None and report.chain.ok
    assert report.format().startswith("MATCH")


def test_public_copy_verifies_with_the_participants_file(drawn) -> None:
    record, frame, ledger = drawn
    assert verify(DrawRecord.from_json(record.to_json()), frame).ok
    public = DrawRecord.from_json(record.public().to_json())
    assert public.is_public and not record.is_public
    assert verify(public, frame, ledger=ledger).ok
    # the full numbers it re-derives must hash to the record's hash: any other edit shows
    edited = dataclasses.replace(public, created_at="2026-01-01T00:00:00+00:00")
    assert verify(edited, frame).first.field == "record_hash"
    wrong = dataclasses.replace(
        public, winners=(dataclasses.replace(public.winners[0], msisdn="0801****234"),)
        + public.winners[1:]
    )
    report = verify(wrong, frame)
    assert report.first.field == "winners[0].msisdn"
    assert "record has 0801****234" in report.format()
    assert mask(record.winners[0].msisdn) in report.format()


def test_changed_entry_in_participants_file(drawn) -> None:
    record, frame, _ = drawn
    winner = record.winners[0].msisdn
    frame = frame.copy()
    frame.loc[frame["msisdn"] == winner, "entries"] += 1
    report = verify(record, frame)
    assert not report.ok
    assert report.first.field == "cohort_digest"
    fields = [d.field for d in report.differences]
    assert any(f.startswith("participants[") and f.endswith("].entries") for f in fields)
    assert "total_entries" in fields
    assert winner not in report.format()  # masked


def test_changed_winner(drawn) -> None:
    record, frame, _ = drawn
    others = [m for m in frame["msisdn"] if m not in {w.msisdn for w in record.winners}]
    winners = list(record.winners)
    winners[2] = dataclasses.replace(winners[2], msisdn=others[0])
    report = verify(changed(record, winners=tuple(winners)), frame)
    assert not report.ok
    assert report.first.field == "winners[2].msisdn"
    assert report.first.note == "draw order 3"
    assert "record_hash" in [d.field for d in report.differences]
    assert others[0] not in report.format()


def test_changed_ticket_number(drawn) -> None:
    record, frame, _ = drawn
    winners = list(record.winners)
    winners[0] = dataclasses.replace(winners[0], ticket=winners[0].ticket + 1)
    report = verify(changed(record, winners=tuple(winners)), frame)
    assert report.first.field == "winners[0].ticket"


def test_changed_seed(drawn) -> None:
    record, frame, _ = drawn
    report = verify(changed(record, seed="00" * 32), frame)
    assert not report.ok
    assert report.first.field == "seed"
    assert report.first.found == "00" * 32
    assert report.first.expected == record.seed


def test_changed_beacon_value(drawn) -> None:
    record, frame, _ = drawn
    forged = changed(record, beacon_value="33" * 32)
    report = verify(forged, frame)
    assert report.first.field == "seed"  # the seed no longer follows from the beacon
    report = verify(forged, frame, beacon=bytes.fromhex(record.beacon_value))
    assert report.first.field == "beacon_value"
    assert report.first.expected == record.beacon_value


def test_beacon_fetched_independently_must_match(drawn) -> None:
    record, frame, _ = drawn
    report = verify(record, frame, beacon=b"\x00" * 32)
    assert [d.field for d in report.differences] == ["beacon_value"]


def test_revealed_secret_not_matching_commitment(drawn) -> None:
    record, frame, _ = drawn
    report = verify(changed(record, secret="44" * 32), frame)
    assert report.first.field == "secret"


def test_changed_previous_record_link(drawn) -> None:
    record, frame, ledger = drawn
    report = verify(changed(record, previous_record_hash="ab" * 32), frame, ledger=ledger)
    assert report.first.field == "previous_record_hash"
    assert report.first.expected == record.commitment.record_hash


def test_tampered_ledger_entry_breaks_the_chain(drawn) -> None:
    record, frame, ledger = drawn
    (path,) = ledger.entries_dir.glob("*-commitment-*.json")
    data = json.loads(path.read_text())
    data["participants"] += 1
    path.write_text(json.dumps(data))
    report = verify(record, frame, ledger=ledger)
    assert not report.ok
    assert report.chain is not None and not report.chain.ok
    assert report.chain.sequence == 1
    assert "record_hash" in report.chain.problem
    assert report.first.field == "ledger"


def test_record_rewritten_with_a_new_hash_differs_from_the_ledger(drawn) -> None:
    record, frame, ledger = drawn
    forged = changed(record, created_at="2026-11-24T00:00:00+00:00")
    forged = changed(forged, record_hash=forged.computed_hash())
    assert verify(forged, frame).ok  # alone it is self-consistent...
    report = verify(forged, frame, ledger=ledger)
    assert [d.field for d in report.differences] == ["record_hash"]  # ...the ledger is not fooled


def test_recent_winner_exclusion_is_checked_against_the_ledger(tmp_path) -> None:
    config = dataclasses.replace(CONFIG, exclude_recent_winners_days=3)
    ledger = Ledger(tmp_path / "l")
    frame = participants()
    run_draw(frame, config, date(2026, 11, 22), ledger_dir=ledger.path, secret=SECRET)
    record = run_draw(frame, config, DAY, ledger_dir=ledger.path, secret=SECRET)
    assert len(record.excluded_msisdns) == 5
    accept = {"ledger": ledger, "accept_operator_randomness": True}  # secret-only draws
    assert verify(record, frame, **accept).ok
    # the full eligible file and the drawn cohort (recent winners removed) both verify
    drawn_only = frame[~frame["msisdn"].isin(record.excluded_msisdns)]
    assert verify(record, drawn_only, **accept).ok
    # the public copy masks the excluded numbers too; they are matched back by their mask
    assert verify(record.public(), frame, **accept).ok


def test_a_later_promotion_does_not_break_an_earlier_draw(tmp_path) -> None:
    """verify reads the ledger as it stood when the draw ran: a reserve promoted after a
    draw does not turn that draw's exclusions wrong."""
    from drawkit.draw import record_event

    config = dataclasses.replace(CONFIG, exclude_recent_winners_days=3)
    ledger = Ledger(tmp_path / "l")
    frame = participants()
    first = run_draw(frame, config, date(2026, 11, 22), ledger_dir=ledger.path, secret=SECRET)
    record = run_draw(frame, config, DAY, ledger_dir=ledger.path, secret=SECRET)
    record_event(ledger, first.draw_id, "unreachable", tier="Grand", position=1)
    accept = {"ledger": ledger, "accept_operator_randomness": True}
    assert verify(record, frame, **accept).ok, verify(record, frame, **accept).format()


def test_operator_chosen_randomness_is_named_and_fails_unless_accepted(tmp_path) -> None:
    record = run_draw(participants(), CONFIG, DAY, ledger_dir=tmp_path / "l", secret=SECRET)
    report = verify_record(record, participants())
    assert report.rederives and not report.ok
    assert "operator-chosen randomness" in report.format() and "VERDICT: FAIL" in report.format()


def test_a_test_chain_fails_unless_accepted_and_a_forged_signature_fails(drawn) -> None:
    record, frame, _ = drawn
    plain = verify_record(record, frame)
    assert plain.rederives and not plain.ok
    assert "local test chain — not public randomness" in plain.format()
    flipped = bytearray(bytes.fromhex(record.beacon_signature))
    flipped[-1] ^= 1
    forged = changed(record, beacon_signature=flipped.hex())
    report = verify(forged, frame)
    assert not report.ok
    assert "beacon_signature" in report.finding("Beacon authentic").detail


def test_timing_a_round_published_before_the_commitment_fails(drawn) -> None:
    record, frame, _ = drawn
    late = changed(record, commitment=dataclasses.replace(
        record.commitment, committed_at="2030-01-01T00:00:00+00:00"))
    report = verify(late, frame)
    assert not report.finding("Beacon unknown when committed").passed
    early = changed(record, created_at="2020-01-01T00:00:00+00:00")
    assert "before the round was published" in verify(early, frame).format()


def test_public_summary_masks_each_number_once(drawn) -> None:
    record = drawn[0]
    for text in (record.summary(), record.public().summary()):
        assert all(f": {mask(w.msisdn)} (" in text for w in record.winners)
        assert all(w.msisdn not in text for w in record.winners)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("participants", "12", "draw record: participants must be an integer"),
        ("seed", "zz", "draw record: seed must be hexadecimal"),
        ("draw_date", "2026-13-45", "draw record: draw_date must be a date"),
        ("excluded_msisdns", None, "draw record: excluded_msisdns must be a list"),
        ("excluded_msisdns", [2348031234567], r"excluded_msisdns\[0\] must be str, not int$"),
    ],
)
def test_a_record_with_a_wrong_typed_field_is_refused_naming_it(
    drawn, field, value, message
) -> None:
    data = drawn[0].to_dict()
    data[field] = value
    with pytest.raises(LedgerError, match=message):
        DrawRecord.from_json(json.dumps(data))


def test_a_changed_row_is_named_once_and_the_record_is_not_blamed(drawn) -> None:
    """One changed non-winner row of the participants file: the report says the file is
    not the drawn cohort, once, and does not claim the public record was changed."""
    record, frame, _ = drawn
    winners = {w.msisdn for w in record.winners}
    frame = frame.copy()
    row = next(i for i, m in enumerate(frame["msisdn"]) if m not in winners)
    frame.loc[row, "entries"] += 1
    report = verify(record.public(), frame)
    text = report.format()
    assert report.first.field == "cohort_digest" and "not the cohort that was drawn" in text
    assert "changed after it was written" not in text
    assert not [d for d in report.differences if d.field.startswith("winners[")]
    assert len(report.differences) <= 2  # the digest, and the total entries


def test_a_broken_ledger_is_not_headlined_as_a_mismatch(drawn) -> None:
    record, frame, ledger = drawn
    (path,) = ledger.entries_dir.glob("*-commitment-*.json")
    data = json.loads(path.read_text())
    data["participants"] += 1
    path.write_text(json.dumps(data))
    report = verify(record, frame, ledger=ledger)
    assert report.rederives and not report.ok
    assert report.format().startswith("MATCH") and "BROKEN" in report.format()
    assert "VERDICT: FAIL" in report.format()
