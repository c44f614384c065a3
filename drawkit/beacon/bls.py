"""BLS12-381 primitives for drand's ``bls-unchained-g1-rfc9380`` scheme, over pyblst (blst).

This is the only module that touches the curve library. Signatures are G1 points (48 bytes
compressed), public keys G2 points (96 bytes compressed): drand's "min-sig" variant.
Every point is decompressed with blst's on-curve and subgroup checks, and the point at
infinity is refused.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from pyblst import BlstP1Element, BlstP2Element, final_verify, miller_loop

from drawkit.errors import BeaconFormatError, BeaconNotAuthenticError

SCHEME_ID = "bls-unchained-g1-rfc9380"
DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
SIGNATURE_BYTES = 48
PUBLIC_KEY_BYTES = 96
MAX_ROUND = 2**64 - 1  # the message is the round as an 8-byte unsigned integer

# The standard generator of G2, compressed (ZCash serialisation, as blst and drand use).
G2_GENERATOR = bytes.fromhex(
    "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d05"
    "5d042b7e024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bb"
    "efd48056c8c121bdb8"
)
_INFINITY_FLAG = 0x40  # second-highest bit of the first byte of a compressed point


def round_message(round_number: int) -> bytes:
    """What drand signs for an unchained round: SHA-256 of the round, 8 bytes big-endian."""
    check_round(round_number)
    return hashlib.sha256(round_number.to_bytes(8, "big")).digest()


def check_round(round_number: object, field: str = "round") -> int:
    """``round_number`` as an int in 1 .. 2**64 - 1, else a BeaconFormatError naming ``field``."""
    if isinstance(round_number, bool) or not isinstance(round_number, int):
        raise BeaconFormatError(
            f"{field} must be an integer round number, not {type(round_number).__name__}"
        )
    if round_number < 1:
        raise BeaconFormatError(f"{field} {round_number} does not exist: drand rounds start at 1")
    if round_number > MAX_ROUND:
        raise BeaconFormatError(f"{field} {round_number} is beyond the 8-byte round range")
    return round_number


def decode_hex(value: object, field: str, length: int) -> bytes:
    """Hex text (or raw bytes) of exactly ``length`` bytes, else an error naming ``field``."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise BeaconFormatError(f"{field} is not hexadecimal text") from None
        if len(text) != 2 * len(raw):  # fromhex skips inner spaces; a value has none
            raise BeaconFormatError(f"{field} is not hexadecimal text")
    else:
        raise BeaconFormatError(f"{field} must be hex text, not {type(value).__name__}")
    if len(raw) != length:
        raise BeaconFormatError(f"{field} must be {length} bytes, got {len(raw)}")
    return raw


def _not_infinity(raw: bytes, field: str) -> None:
    if raw[0] & _INFINITY_FLAG:
        raise BeaconNotAuthenticError(f"{field} is the point at infinity")


def signature_point(signature: bytes) -> BlstP1Element:
    """The G1 point of a 48-byte compressed signature (on the curve, in the subgroup)."""
    if len(signature) != SIGNATURE_BYTES:
        raise BeaconFormatError(f"signature must be {SIGNATURE_BYTES} bytes, got {len(signature)}")
    _not_infinity(signature, "signature")
    try:
        return BlstP1Element.uncompress(signature)
    except ValueError as exc:
        raise BeaconNotAuthenticError(f"signature is not a point of G1 ({_reason(exc)})") from None


@lru_cache(maxsize=16)
def public_key_point(public_key: bytes) -> BlstP2Element:
    """The G2 point of a 96-byte compressed public key (on the curve, in the subgroup)."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise BeaconFormatError(
            f"public_key must be {PUBLIC_KEY_BYTES} bytes, got {len(public_key)}"
        )
    _not_infinity(public_key, "public_key")
    try:
        return BlstP2Element.uncompress(public_key)
    except ValueError as exc:
        raise BeaconNotAuthenticError(f"public_key is not a point of G2 ({_reason(exc)})") from None


_G2 = BlstP2Element.uncompress(G2_GENERATOR)


def signature_verifies(public_key: bytes, round_number: int, signature: bytes) -> bool:
    """True when e(signature, g2) == e(H(message), public_key) (RFC 9380 hash to G1)."""
    key = public_key_point(public_key)
    point = signature_point(signature)
    hashed = BlstP1Element.hash_to_group(round_message(round_number), DST)
    return bool(final_verify(miller_loop(point, _G2), miller_loop(hashed, key)))


def _reason(exc: ValueError) -> str:
    text = str(exc)
    for code, words in (
        ("BAD_ENCODING", "bad encoding"),
        ("NOT_ON_CURVE", "not on the curve"),
        ("NOT_IN_GROUP", "not in the prime-order subgroup"),
    ):
        if code in text:
            return words
    return "rejected by blst"
