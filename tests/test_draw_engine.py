"""run_draw / commit_draw: records, commitments, errors, idempotency, prefix stability."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from drawkit.config import PrizeTier, PromotionConfig
from drawkit.draw import (
    DrawRecord,
    Ledger,
    canonical_cohort,
    commit_draw,
    run_draw,
    select,
)
from drawkit.draw.engine import draw_winners
from drawkit.draw.record import Prize
from drawkit.draw.reference import reference_digest, reference_draw, reference_select
from drawkit.draw.rng import commitment_of, derive_seed, drbg_for_seed
from drawkit.errors import (
    CommitmentError,
    ConfigError,
    DrawError,
    EmptyCohortError,
    InputError,
    NotEnoughParticipantsError,
)

DAY = date(2026, 11, 24)
SECRET = bytes.fromhex("5e" * 32)
BEACON = bytes.fromhex("be" * 32)


def participants(n: int = 40, seed: int = 0, shuffle: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "msisdn": [f"+23480{30000000 + 7919 * i:08d}" for i in range(n)],
            "points": rng.integers(1, 50, n),
        }
    )
    frame["entries"] = frame["points"]
    return frame.sample(frac=1, random_state=1) if shuffle else frame


def config(**changes) -> PromotionConfig:
    base = PromotionConfig(
        name="Test promo",
        prizes=(PrizeTier("Grand", 100_000, 1), PrizeTier("Bundle", 5_000, 3)),
        reserves_per_tier=2,
    )
    return dataclasses.replace(base, **changes)


def draw(tmp_path, frame=None, cfg=None, **kwargs) -> DrawRecord:
    kwargs.setdefault("beacon", BEACON)
    kwargs.setdefault("beacon_round", 7)
    kwargs.setdefault("secret", SECRET)
    return run_draw(
        participants() if frame is None else frame,
        cfg or config(),
        DAY,
        ledger_dir=tmp_path / "ledger",
        **kwargs,
    )


# ------------------------------------------------------------------ cohort


def test_cohort_is_sorted_and_digest_matches_reference() -> None:
    frame = participants(shuffle=True)
    cohort = canonical_cohort(frame)
    assert list(cohort.msisdns) == sorted(frame["msisdn"])
    rows = list(zip(frame["msisdn"], frame["entries"].astype(int), strict=True))
    assert cohort.digest == reference_digest(rows)
    assert cohort.total_entries == int(frame["entries"].sum())


def test_cohort_digest_covers_every_entry() -> None:
    frame = participants(shuffle=False)
    changed = frame.copy()
    changed.loc[5, "entries"] += 1
    assert canonical_cohort(frame).digest != canonical_cohort(changed).digest


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (0, "at least 1, got 0"),
        (-3, "at least 1, got -3"),
        (2.5, "not a whole number"),
        (None, "not a whole number"),
    ],
)
def test_cohort_rejects_bad_entries(entries, message) -> None:
    frame = participants(5, shuffle=False).astype({"entries": object})
    frame.loc[2, "entries"] = entries
    with pytest.raises(InputError, match=message) as info:
        canonical_cohort(frame)
    assert "row 2" in str(info.value)
    assert frame.loc[2, "msisdn"] not in str(info.value)  # masked


def test_cohort_rejects_duplicates_with_masked_number() -> None:
    frame = participants(6, shuffle=False)
    frame.loc[4, "msisdn"] = frame.loc[1, "msisdn"]
    with pytest.raises(InputError, match="duplicate msisdn") as info:
        canonical_cohort(frame)
    assert frame.loc[1, "msisdn"] not in str(info.value)
    assert "****" in str(info.value)


@pytest.mark.parametrize("bad", ["08031234567", "+23480312345678", "+2348O31234567", 2348031234567])
def test_cohort_rejects_numbers_not_in_e164(bad) -> None:
    frame = participants(4, shuffle=False).astype({"msisdn": object})
    frame.loc[3, "msisdn"] = bad
    with pytest.raises(InputError, match="row 3.*not an E.164"):
        canonical_cohort(frame)


def test_empty_cohort_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(EmptyCohortError, match="empty"):
        draw(tmp_path, frame=participants(0))


# ------------------------------------------------------------------ selection


def test_select_matches_plain_python_reference() -> None:
    for case in range(25):
        rng = np.random.default_rng(case)
        n = int(rng.integers(1, 80))
        entries = rng.integers(1, 30, n)
        count = int(rng.integers(0, n + 1))
        seed = bytes([case]) * 32
        fast = [
            (p.index, p.ticket, p.total_tickets)
            for p in select(entries, count, drbg_for_seed(seed))
        ]
        assert fast == reference_select([int(e) for e in entries], count, seed)


def test_select_is_prefix_stable_and_never_repeats() -> None:
    entries = np.random.default_rng(3).integers(1, 9, 60)
    seed = b"\x07" * 32
    short = select(entries, 10, drbg_for_seed(seed))
    long = select(entries, 60, drbg_for_seed(seed))
    assert long[:10] == short
    assert sorted(p.index for p in long) == list(range(60))
    for before, pick in zip(long, long[1:], strict=False):
        assert pick.total_tickets == before.total_tickets - int(entries[before.index])
        assert 0 <= pick.ticket < pick.total_tickets


# ------------------------------------------------------------------ the draw


def test_draw_record_holds_inputs_and_winners_in_order(tmp_path) -> None:
    record = draw(tmp_path)
    assert [(w.tier, w.role, w.position) for w in record.winners] == [
        ("Grand", "winner", 1),
        ("Bundle", "winner", 1),
        ("Bundle", "winner", 2),
        ("Bundle", "winner", 3),
        ("Grand", "reserve", 1),
        ("Bundle", "reserve", 1),
        ("Grand", "reserve", 2),
        ("Bundle", "reserve", 2),
    ]
    assert [w.draw_order for w in record.winners] == list(range(1, 9))
    assert len({w.msisdn for w in record.winners}) == 8  # one prize per participant
    assert record.participants == 40
    assert record.beacon_value == BEACON.hex() and record.beacon_round == 7
    assert record.secret == SECRET.hex()
    assert record.commitment.secret_commitment == commitment_of(SECRET)
    # a raw value handed to the engine is labelled as what it is: nothing authenticated it
    assert record.randomness == "an unauthenticated beacon value (no signature) and operator secret"
    assert record.beacon_signature is None and record.beacon_chain is None
    assert record.record_hash == record.computed_hash()
    assert record.window_cutoff.startswith("2026-11-23T23:00:00")  # midnight WAT in UTC
    assert DrawRecord.from_json(record.to_json()) == record
    frame = participants()
    owners = dict(zip(frame["msisdn"], frame["entries"], strict=True))
    assert all(w.entries == owners[w.msisdn] for w in record.winners)


def test_winners_are_those_of_the_reference_selection(tmp_path) -> None:
    record = draw(tmp_path)
    cohort = canonical_cohort(participants())
    picks = reference_select([int(e) for e in cohort.entries], 8, bytes.fromhex(record.seed))
    assert [(cohort.msisdns[i], t, w) for i, t, w in picks] == [
        (w.msisdn, w.ticket, w.total_tickets_at_pick) for w in record.winners
    ]


def test_more_reserves_never_change_winners(tmp_path) -> None:
    few = draw(tmp_path / "a", cfg=config(reserves_per_tier=1))
    many = draw(tmp_path / "b", cfg=config(reserves_per_tier=5))
    assert few.seed == many.seed
    assert [w for w in many.winners if w.role == "winner"] == [
        w for w in few.winners if w.role == "winner"
    ]
    # every winner and reserve of the smaller draw keeps its place, person and ticket
    assert many.winners[: len(few.winners)] == few.winners
    assert len(many.winners) == len(few.winners) + 2 * 4


def test_same_draw_id_returns_the_existing_record_unchanged(tmp_path) -> None:
    first = draw(tmp_path)
    steps: list[str] = []
    again = draw(tmp_path, on_step=steps.append)
    assert again == first
    assert steps == ["locked", "existing"]
    assert len(Ledger(tmp_path / "ledger").records()) == 1


def test_no_beacon_says_secret_alone(tmp_path) -> None:
    record = draw(tmp_path, beacon=None, beacon_round=None)
    assert record.randomness == "operator-chosen randomness (no public beacon)"
    assert record.beacon_value is None


def test_signed_round_is_recorded_with_its_chain_and_label(tmp_path, signed_rounds) -> None:
    record = signed_rounds.commit_and_draw(participants(), config(), DAY, tmp_path / "ledger",
                                           round_number=1000, secret=SECRET)
    assert record.beacon_round == 1000 and record.beacon_chain == signed_rounds.record_chain
    assert record.beacon_signature == signed_rounds.chain.sign(1000).hex()
    assert record.randomness.startswith("local test chain — not public randomness")
    assert record.commitment.beacon_chain == signed_rounds.chain.chain_hash


def test_a_beacon_without_a_committed_round_is_refused(tmp_path) -> None:
    """Grinding: commit with a secret and no round, then mix in a beacon chosen later."""
    commit_draw(participants(), config(), DAY, ledger_dir=tmp_path / "ledger", secret=SECRET)
    with pytest.raises(CommitmentError, match="no beacon round was committed"):
        draw(tmp_path, beacon_round=None)
    assert Ledger(tmp_path / "ledger").records() == []


def test_neither_beacon_nor_secret_is_refused(tmp_path) -> None:
    with pytest.raises(DrawError, match="beacon value, an operator secret"):
        draw(tmp_path, beacon=None, beacon_round=None, secret=None)


def test_too_many_prizes_names_the_short_tier(tmp_path) -> None:
    with pytest.raises(NotEnoughParticipantsError, match="'Bundle' needs 3 winner.*only 2"):
        draw(tmp_path, frame=participants(3))


def test_award_partial_awards_what_it_can(tmp_path) -> None:
    record = draw(tmp_path, frame=participants(3), cfg=config(award_partial=True))
    assert [(w.tier, w.role) for w in record.winners] == [
        ("Grand", "winner"),
        ("Bundle", "winner"),
        ("Bundle", "winner"),
    ]
    short = {(s.tier, s.role): (s.wanted, s.drawn) for s in record.shortfall}
    assert short == {
        ("Bundle", "winner"): (3, 2),
        ("Grand", "reserve"): (2, 0),
        ("Bundle", "reserve"): (2, 0),
    }


def test_reserves_short_is_recorded_not_an_error(tmp_path) -> None:
    record = draw(tmp_path, frame=participants(6))
    assert len(record.winners) == 6
    assert [(w.tier, w.role, w.position) for w in record.winners][4:] == [
        ("Grand", "reserve", 1),
        ("Bundle", "reserve", 1),
    ]
    assert [(s.tier, s.role, s.wanted, s.drawn) for s in record.shortfall] == [
        ("Grand", "reserve", 2, 1),
        ("Bundle", "reserve", 2, 1),
    ]


# ------------------------------------------------------------------ commitments


def test_commit_then_draw_checks_the_commitment(tmp_path) -> None:
    ledger_dir = tmp_path / "ledger"
    commitment = commit_draw(
        participants(), config(), DAY, ledger_dir=ledger_dir, beacon_round=7, secret=SECRET
    )
    assert commitment.made_at_draw is False
    assert commitment.cohort_digest == canonical_cohort(participants()).digest
    assert "secret commitment" in commitment.announcement()
    record = draw(tmp_path)
    assert record.commitment == commitment
    assert record.commitment.sequence < record.sequence


def test_secret_not_matching_commitment(tmp_path) -> None:
    commit_draw(
        participants(), config(), DAY, ledger_dir=tmp_path / "ledger", beacon_round=7, secret=SECRET
    )
    with pytest.raises(CommitmentError, match="secret does not match"):
        draw(tmp_path, secret=b"another secret, 32 bytes long...")
    assert Ledger(tmp_path / "ledger").records() == []


def test_a_short_secret_is_refused_at_commit_and_draw(tmp_path) -> None:
    for call in (commit_draw, run_draw):
        with pytest.raises(ConfigError, match="too short .15 bytes.*at least 16"):
            call(participants(), config(), DAY, ledger_dir=tmp_path / "ledger", secret=b"x" * 15)
    assert not (tmp_path / "ledger" / "entries").exists() or not any(
        (tmp_path / "ledger" / "entries").iterdir()
    )


def test_cohort_changed_after_commitment(tmp_path) -> None:
    commit_draw(
        participants(), config(), DAY, ledger_dir=tmp_path / "ledger", beacon_round=7, secret=SECRET
    )
    changed = participants()
    changed.iloc[0, changed.columns.get_loc("entries")] += 1
    with pytest.raises(CommitmentError, match="cohort digest .* differs from the committed"):
        draw(tmp_path, frame=changed)


def test_beacon_round_must_be_the_committed_one(tmp_path) -> None:
    commit_draw(
        participants(), config(), DAY, ledger_dir=tmp_path / "ledger", beacon_round=7, secret=SECRET
    )
    with pytest.raises(CommitmentError, match="beacon round 8 differs"):
        draw(tmp_path, beacon_round=8)
    # a beacon value given without its round is the committed round's value
    record = draw(tmp_path, beacon_round=None)
    assert record.beacon_round == 7 and record.beacon_value == BEACON.hex()


def test_committed_beacon_round_needs_its_value(tmp_path) -> None:
    commit_draw(
        participants(), config(), DAY, ledger_dir=tmp_path / "ledger", beacon_round=7, secret=SECRET
    )
    with pytest.raises(CommitmentError, match="value of committed beacon round 7 is missing"):
        draw(tmp_path, beacon=None, beacon_round=7)


def test_recommitting_differently_is_refused(tmp_path) -> None:
    kwargs = {"ledger_dir": tmp_path / "ledger", "beacon_round": 7, "secret": SECRET}
    first = commit_draw(participants(), config(), DAY, **kwargs)
    assert commit_draw(participants(), config(), DAY, **kwargs) == first
    with pytest.raises(CommitmentError, match="already committed .*beacon round 9"):
        commit_draw(participants(), config(), DAY, **{**kwargs, "beacon_round": 9})


# ------------------------------------------------------------------ recent winners


def test_recent_winners_are_excluded_and_counted(tmp_path) -> None:
    cfg = config(exclude_recent_winners_days=7)
    frame = participants()
    first = run_draw(frame, cfg, date(2026, 11, 20), ledger_dir=tmp_path / "l", secret=SECRET)
    second = run_draw(
        frame, cfg, DAY, ledger_dir=tmp_path / "l", secret=SECRET, exclusions={"blacklisted": 2}
    )
    won = {w.msisdn for w in first.winners if w.role == "winner"}
    assert set(second.excluded_msisdns) == won
    assert second.exclusions == {"blacklisted": 2, "recent_winner": 4}
    assert second.participants == 40 - 4
    assert not won & {w.msisdn for w in second.winners}
    later = run_draw(frame, cfg, date(2026, 12, 10), ledger_dir=tmp_path / "l", secret=SECRET)
    assert later.excluded_msisdns == ()  # outside the 7 days


def test_a_canonical_cohort_given_is_reused_only_when_it_is_the_participants(tmp_path) -> None:
    """The frozen cohort's canonical cohort saves building it again: same record; one of
    other participants is refused; with recent winners removed it is built afresh."""
    frame = participants()
    plain = draw(tmp_path / "a")
    given = draw(tmp_path / "b", canonical=canonical_cohort(frame))
    assert given.computed_hash() == given.record_hash
    assert (given.cohort_digest, given.seed, given.winners) == (
        plain.cohort_digest, plain.seed, plain.winners)
    with pytest.raises(DrawError, match="not the one of the participants given"):
        draw(tmp_path / "c", canonical=canonical_cohort(participants(n=39)))
    with pytest.raises(DrawError, match="not the one of the participants given"):
        other = frame.assign(entries=frame["entries"] + 1)
        draw(tmp_path / "c", frame=other, canonical=canonical_cohort(frame))
    cfg = config(exclude_recent_winners_days=7)
    ledger = tmp_path / "d"
    run_draw(frame, cfg, date(2026, 11, 20), ledger_dir=ledger, secret=SECRET)
    second = run_draw(frame, cfg, DAY, ledger_dir=ledger, secret=SECRET,
                      canonical=canonical_cohort(frame))
    assert second.participants == 40 - 4 and len(second.excluded_msisdns) == 4
    assert commit_draw(frame, config(), DAY, ledger_dir=tmp_path / "e", secret=SECRET,
                       canonical=canonical_cohort(frame)).cohort_digest == plain.cohort_digest


def test_record_file_is_the_ledger_entry(tmp_path) -> None:
    record = draw(tmp_path)
    (entry,) = (tmp_path / "ledger" / "entries").glob("*-draw-*.json")
    assert json.loads(entry.read_text()) == record.to_dict()
    assert entry.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("case", range(6))
def test_engine_and_reference_agree_on_random_draws(case: int) -> None:
    rng = np.random.default_rng(100 + case)
    n = int(rng.integers(3, 60))
    frame = participants(n, seed=case)
    frame["entries"] = np.floor(rng.pareto(1.1, n)).astype(np.int64) + 1
    tiers = [(f"T{t}", int(rng.integers(1, 4)), int(rng.integers(0, 4))) for t in range(3)]
    reserves = max(r for _, _, r in tiers)
    tiers = [(name, count, reserves) for name, count, _ in tiers]  # config: one reserves value
    beacon = rng.bytes(32) if case % 2 else None
    rows = list(zip(frame["msisdn"], frame["entries"].astype(int), strict=True))
    expected = reference_draw(rows, tiers, f"case-{case}", beacon, SECRET)
    cohort = canonical_cohort(frame)
    prizes = tuple(Prize(name, 1, count, r) for name, count, r in tiers)
    seed = bytes.fromhex(expected["seed"])
    assert (
        derive_seed(
            draw_id=f"case-{case}", cohort_digest=cohort.digest, beacon=beacon, secret=SECRET
        )
        == seed
    )
    winners, _ = draw_winners(cohort, prizes, seed, award_partial=True)
    assert [
        (
            w.draw_order,
            w.tier,
            w.role,
            w.position,
            w.msisdn,
            w.entries,
            w.ticket,
            w.total_tickets_at_pick,
        )
        for w in winners
    ] == [
        (
            p["draw_order"],
            p["tier"],
            p["role"],
            p["position"],
            p["msisdn"],
            p["entries"],
            p["ticket"],
            p["tickets_in_play"],
        )
        for p in expected["picks"]
    ]


@pytest.mark.parametrize("block", [1, 3, 7, 64])
def test_ticket_index_owner_is_a_search_of_the_prefix_sums(block) -> None:
    from drawkit.draw.sampling import TicketIndex

    entries = np.random.default_rng(block).integers(1, 50, 500)
    prefix = np.cumsum(entries)
    index = TicketIndex(entries, block=block)
    assert index.total == int(prefix[-1])
    for ticket in [0, 1, *np.random.default_rng(0).integers(0, index.total, 300), index.total - 1]:
        owner, end = index.owner(int(ticket))
        assert owner == int(np.searchsorted(prefix, ticket, side="right"))
        assert end == int(prefix[owner])


def test_select_matches_the_reference_across_many_blocks() -> None:
    entries = np.random.default_rng(11).integers(1, 40, 3 * 4096 + 17)
    seed = b"\x2a" * 32
    fast = [(p.index, p.ticket, p.total_tickets) for p in select(entries, 120, drbg_for_seed(seed))]
    assert fast == reference_select([int(e) for e in entries], 120, seed)
