"""The result-event contract: keyed uuids, Ed25519 signatures, forgeries named; the spec's
signed-result vector (docs/draw-spec.md, section 12)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drawkit.contract import (
    DRAW_COMPLETED,
    SIGNATURE,
    DrawOutcome,
    LedgerHead,
    PublishedWinner,
    ResultEvent,
    ResultSigner,
    check_published,
    completed_uuid,
    ledger_head_event,
    result_events,
    signed_message,
    verify_event,
    winner_uuid,
)
from drawkit.errors import ConfigError

SPEC = Path(__file__).resolve().parents[1] / "docs" / "draw-spec.md"
VECTOR = re.compile(r"^```json signed-result\n(.*?)\n```$", re.MULTILINE | re.DOTALL)
# The uuid5 namespace drawkit used for result events before they were keyed: anyone could
# compute those uuids from the draw id (the forged-publish attack of issue 16).
OLD_NAMESPACE = uuid.UUID("6f1c2e0a-8d7b-5b3e-9c41-d2a7e0b3f915")


def outcome(draw_id: str = "draw-2026-11-27", head: LedgerHead | None = None) -> DrawOutcome:
    winners = (
        PublishedWinner("+2348031234567", "Grand prize", 100000, "winner", 1, 1, 5, 42),
        PublishedWinner("08051234569", "Grand prize", 100000, "reserve", 1, 2, 1, 7),
    )
    return DrawOutcome(draw_id, date(2026, 11, 27), "demo", "ab" * 32, 2, 6, "cd" * 32,
                       winners, head)


def altered(original: ResultEvent, **changes) -> ResultEvent:
    fields = {"event": original.event, "distinct_id": original.distinct_id, "uuid": original.uuid,
              "properties": dict(original.properties)}
    props = changes.pop("properties", {})
    fields.update(changes)
    fields["properties"].update(props)
    return ResultEvent(**fields)


def test_uuids_are_keyed_so_nobody_without_the_key_predicts_them() -> None:
    one, two = ResultSigner.generate(), ResultSigner.generate()
    draw_id = "promo-2026-11-27"
    assert completed_uuid(draw_id, key=one) == completed_uuid(draw_id, key=one)
    assert completed_uuid(draw_id, key=one) != completed_uuid(draw_id, key=two)
    old = str(uuid.uuid5(OLD_NAMESPACE, f"{draw_id}/{DRAW_COMPLETED}"))
    assert completed_uuid(draw_id, key=one) != old
    uuids = {completed_uuid(draw_id, key=one)} | {
        winner_uuid(draw_id, "Grand", role, position, key=one)
        for role in ("winner", "reserve") for position in (1, 2, 3)
    }
    assert len(uuids) == 7
    assert all(uuid.UUID(u).version == 4 for u in uuids)


def test_every_result_event_is_signed_and_any_change_breaks_the_signature() -> None:
    signer = ResultSigner.generate()
    events = result_events(outcome(), signer)
    assert [e.event for e in events] == ["draw_completed", "draw_winner", "draw_winner"]
    for event in events:
        assert verify_event(event, signer.public_key) is None
        assert event.properties["signer_key_id"] == signer.key_id
    winner = events[1]
    tampered = [
        altered(winner, properties={"ticket": 43}),
        altered(winner, distinct_id="+2348039999999"),  # a real event moved to another person
        altered(winner, uuid=str(uuid.uuid4())),  # a real event copied under another uuid
        altered(winner, properties={"note": "extra"}),
        altered(winner, event="draw_completed"),
    ]
    for event in tampered:
        assert "does not verify" in verify_event(event, signer.public_key)
    # PostHog's own properties are not signed: adding them changes nothing
    assert verify_event(altered(winner, properties={"$lib": "x", "$ip": "1.2.3.4"}),
                        signer.public_key) is None
    other = ResultSigner.generate()
    assert "not signed by the draw's result key" in verify_event(winner, other.public_key)
    unsigned = ResultEvent(winner.event, winner.distinct_id, winner.uuid,
                           {k: v for k, v in winner.properties.items() if k != SIGNATURE})
    assert verify_event(unsigned, signer.public_key) == "unsigned"
    assert "malformed" in verify_event(altered(winner, properties={SIGNATURE: "zz"}),
                                       signer.public_key)
    assert "names no result signing key" in verify_event(winner, None)


def test_check_published_takes_only_identical_events_as_recorded_and_names_the_rest() -> None:
    signer = ResultSigner.generate()
    head = LedgerHead(4, "ef" * 32)
    expected = [*result_events(outcome(head=head), signer),
                ledger_head_event(outcome(head=head), signer)]
    completed, winner, reserve, head_event = expected
    old_head = ledger_head_event(outcome(head=LedgerHead(2, "aa" * 32)), signer)
    forged_winner = ResultEvent("draw_winner", "+2348037777777", str(uuid.uuid4()),
                                {**winner.properties, "msisdn_masked": "0803****777"})
    forged_completed = altered(completed, properties={"record_hash": "00" * 32})  # same uuid
    published = [winner, winner, reserve, forged_winner, forged_completed, old_head]
    check = check_published(expected, published, signer.public_key)
    assert check.recorded == {winner.uuid, reserve.uuid}  # the copy of the winner counts once
    assert len(check.forged) == 2  # an earlier signed head is not a forgery
    assert any("draw_winner Grand prize winner 1 (0803****777" in f and "does not verify" in f
               for f in check.forged)
    assert any(f.startswith(f"draw_completed (uuid {completed.uuid})") for f in check.forged)
    assert not any("7777777" in f for f in check.forged)  # numbers masked in the names
    assert head_event.uuid not in check.recorded


def test_the_signing_key_is_read_from_hex_or_pem_and_never_shown() -> None:
    text = "11" * 32
    key = ResultSigner.from_text(text)
    pem = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text)).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    assert ResultSigner.from_text(pem).public_key == key.public_key
    assert text not in repr(key) and key.key_id in repr(key)
    for bad in ("", "not hex", "ab" * 31, "ab" * 33, "-----BEGIN PRIVATE KEY-----\nxx\n"):
        with pytest.raises(ConfigError, match="DRAWKIT_SIGNING_KEY") as caught:
            ResultSigner.from_text(bad)
        assert not bad.strip() or bad.strip() not in str(caught.value)


def test_the_spec_vector_signs_and_verifies_as_documented() -> None:
    (block,) = VECTOR.findall(SPEC.read_text(encoding="utf-8"))
    vector = json.loads(block)
    signer = ResultSigner.from_text(vector["private_key"])
    assert signer.public_key == vector["public_key"] and signer.key_id == vector["key_id"]
    o = vector["outcome"]
    drawn = DrawOutcome(o["draw_id"], date.fromisoformat(o["draw_date"]), o["promotion"],
                        o["cohort_digest"], o["participants"], o["total_entries"],
                        o["record_hash"], tuple(PublishedWinner(*w) for w in o["winners"]))
    events = result_events(drawn, signer)
    assert len(events) == len(vector["events"])
    for event, want in zip(events, vector["events"], strict=True):
        assert event.event == want["event"] and event.uuid == want["uuid"]
        assert signed_message(event) == b"drawkit-result/1\n" + want["message"].encode()
        assert event.properties[SIGNATURE] == want["signature"]
        assert verify_event(event, vector["public_key"]) is None
