"""Offline authentication of drand rounds: real quicknet rounds and every way to get it wrong."""

from __future__ import annotations

import hashlib

import pytest
from beacon_support import (
    RANDOMNESS_123,
    ROUND_123,
    ROUND_12040883,
    SIGNATURE_123,
    SIGNATURE_12040883,
)

from drawkit.beacon import QUICKNET, Beacon, round_message, verify_answer, verify_round
from drawkit.beacon.bls import G2_GENERATOR
from drawkit.errors import BeaconError, BeaconFormatError, BeaconNotAuthenticError, InputError

REAL = [(ROUND_123, SIGNATURE_123), (ROUND_12040883, SIGNATURE_12040883)]


@pytest.mark.parametrize(("round_number", "signature"), REAL)
def test_real_quicknet_rounds_authenticate_against_the_pinned_key(round_number, signature):
    beacon = verify_round(QUICKNET, round_number, signature)
    assert isinstance(beacon, Beacon)
    assert beacon.chain_hash == QUICKNET.hash
    assert beacon.round == round_number
    assert beacon.signature == signature
    assert beacon.randomness == hashlib.sha256(bytes.fromhex(signature)).digest()
    assert beacon.published_at == QUICKNET.round_time(round_number)


def test_round_123_randomness_matches_an_independent_computation():
    assert verify_round(QUICKNET, ROUND_123, SIGNATURE_123).randomness_hex == RANDOMNESS_123


def test_bytes_and_uppercase_hex_are_the_same_signature():
    a = verify_round(QUICKNET, ROUND_123, bytes.fromhex(SIGNATURE_123))
    b = verify_round(QUICKNET, ROUND_123, SIGNATURE_123.upper())
    assert a == b


@pytest.mark.parametrize(("round_number", "signature"), REAL)
def test_a_real_signature_fails_for_the_next_round(round_number, signature):
    with pytest.raises(BeaconNotAuthenticError, match=f"round {round_number + 1}"):
        verify_round(QUICKNET, round_number + 1, signature)


@pytest.mark.parametrize(("round_number", "signature"), REAL)
@pytest.mark.parametrize(
    ("byte", "bit"),
    [(0, 0x20), (1, 0x01), (24, 0x80), (47, 0x01)],  # (0, 0x20) is the y-sign bit: -signature
)
def test_one_flipped_bit_in_the_signature_is_refused(round_number, signature, byte, bit):
    raw = bytearray.fromhex(signature)
    raw[byte] ^= bit
    with pytest.raises(BeaconNotAuthenticError):
        verify_round(QUICKNET, round_number, bytes(raw))


def test_the_negated_signature_is_a_valid_point_refused_by_the_pairing_check():
    raw = bytearray.fromhex(SIGNATURE_123)
    raw[0] ^= 0x20
    with pytest.raises(BeaconNotAuthenticError, match="does not verify"):
        verify_round(QUICKNET, ROUND_123, bytes(raw))


def test_a_signature_of_another_round_is_refused():
    with pytest.raises(BeaconNotAuthenticError, match="does not verify"):
        verify_round(QUICKNET, ROUND_123, SIGNATURE_12040883)
    with pytest.raises(BeaconNotAuthenticError, match="does not verify"):
        verify_round(QUICKNET, ROUND_12040883, SIGNATURE_123)


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("zz" * 48, "signature is not hexadecimal"),
        (SIGNATURE_123[:-1], "signature is not hexadecimal"),
        (SIGNATURE_123[:-2], "signature must be 48 bytes, got 47"),
        (SIGNATURE_123 + "00", "signature must be 48 bytes, got 49"),
        ("", "signature must be 48 bytes, got 0"),
        ("b7 5c" + SIGNATURE_123[4:], "signature is not hexadecimal"),
        (None, "signature must be hex text, not NoneType"),
        (12345, "signature must be hex text, not int"),
        (bytes(96), "signature must be 48 bytes, got 96"),
    ],
)
def test_malformed_signatures_are_errors_naming_the_field(signature, message):
    with pytest.raises(BeaconFormatError, match=message) as caught:
        verify_round(QUICKNET, ROUND_123, signature)
    assert isinstance(caught.value, InputError)  # bad input, never a traceback


@pytest.mark.parametrize(
    ("round_number", "message"),
    [
        (0, "rounds start at 1"),
        (-5, "rounds start at 1"),
        (2**64, "beyond the 8-byte round range"),
        (True, "must be an integer round number, not bool"),
        ("123", "must be an integer round number, not str"),
        (123.0, "must be an integer round number, not float"),
    ],
)
def test_bad_rounds_are_errors(round_number, message):
    with pytest.raises(BeaconFormatError, match=message):
        verify_round(QUICKNET, round_number, SIGNATURE_123)


def test_points_that_are_not_in_g1_are_refused():
    infinity = bytes([0xC0]) + bytes(47)
    with pytest.raises(BeaconNotAuthenticError, match="point at infinity"):
        verify_round(QUICKNET, ROUND_123, infinity)
    not_compressed = bytes([0x00]) + bytes.fromhex(SIGNATURE_123)[1:]
    with pytest.raises(BeaconNotAuthenticError, match="not a point of G1"):
        verify_round(QUICKNET, ROUND_123, not_compressed)
    x_too_big = bytes([0x9F]) + b"\xff" * 47  # x >= the field modulus
    with pytest.raises(BeaconNotAuthenticError, match="not a point of G1"):
        verify_round(QUICKNET, ROUND_123, x_too_big)


def test_the_message_is_sha256_of_the_round_as_eight_bytes_big_endian():
    assert round_message(1) == hashlib.sha256(b"\x00" * 7 + b"\x01").digest()
    assert round_message(ROUND_123) == hashlib.sha256((123).to_bytes(8, "big")).digest()


def test_the_g2_generator_is_the_standard_one():
    from py_ecc.bls.g2_primitives import G2_to_signature
    from py_ecc.optimized_bls12_381 import G2

    assert G2_GENERATOR == G2_to_signature(G2)


# ------------------------------------------------------------------ relay answers


def _answer(**changes):
    payload = {"round": ROUND_123, "randomness": RANDOMNESS_123, "signature": SIGNATURE_123}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def test_a_relay_answer_is_authenticated_field_by_field():
    assert verify_answer(QUICKNET, _answer(), expected_round=ROUND_123).round == ROUND_123
    assert verify_answer(QUICKNET, _answer(randomness=None)).randomness_hex == RANDOMNESS_123


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        (["not", "an", "object"], BeaconFormatError, "must be a JSON object"),
        (_answer(signature=None), BeaconFormatError, "no 'signature' field"),
        (_answer(round=None), BeaconFormatError, "no 'round' field"),
        (_answer(round="123"), BeaconFormatError, "field 'round' must be an integer"),
        (_answer(round=ROUND_123 + 1), BeaconNotAuthenticError, "asked for round 123"),
        (_answer(randomness="00" * 32), BeaconNotAuthenticError, "not SHA-256 of its signature"),
        (_answer(randomness="00"), BeaconFormatError, "randomness must be 32 bytes"),
    ],
)
def test_a_wrong_relay_answer_is_refused(payload, error, message):
    with pytest.raises(error, match=message) as caught:
        verify_answer(QUICKNET, payload, expected_round=ROUND_123)
    assert isinstance(caught.value, BeaconError)
