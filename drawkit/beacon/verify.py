"""Authenticate a drand round offline: its BLS signature under the chain's public key.

Scheme ``bls-unchained-g1-rfc9380``: the message is SHA-256 of the round as 8 bytes
big-endian; the signature is a G1 point hashed to per RFC 9380 with DST
``BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_``; the public key is a G2 point. The round is
authentic when e(signature, g2) == e(H(message), public_key). Its randomness is
SHA-256(signature). Nothing here uses the network: a relay's answer is checked the same way
as a value typed by an operator (docs/beacon.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drawkit.beacon.bls import SIGNATURE_BYTES, check_round, decode_hex, signature_verifies
from drawkit.beacon.chain import ChainInfo
from drawkit.errors import BeaconFormatError, BeaconNotAuthenticError

RANDOMNESS_BYTES = 32


@dataclass(frozen=True)
class Beacon:
    """A round of a chain as :func:`verify_round` returns it, after its signature verified.

    A Beacon built by hand is not authenticated: pass values through :func:`verify_round`.
    """

    chain_hash: str
    round: int
    signature: str  # hex of the 48-byte compressed G1 signature
    randomness: bytes  # SHA-256(signature), 32 bytes
    published_at: datetime  # the round's scheduled publication time (UTC)

    @property
    def randomness_hex(self) -> str:
        """The randomness as lowercase hex (drand's ``randomness`` field)."""
        return self.randomness.hex()

    def to_json(self) -> dict[str, Any]:
        """The round in the shape of a relay's ``/public/{round}`` answer."""
        return {"round": self.round, "randomness": self.randomness_hex,
                "signature": self.signature}  # fmt: skip


def randomness_of(signature: bytes) -> bytes:
    """A round's randomness: SHA-256 of its signature bytes."""
    return hashlib.sha256(signature).digest()


def verify_round(chain: ChainInfo, round_number: int, signature: str | bytes) -> Beacon:
    """Check ``signature`` (hex or bytes) for ``round_number`` of ``chain``; return the Beacon.

    Raises BeaconFormatError for a bad round, bad hex or a wrong length, and
    BeaconNotAuthenticError when the signature is not a valid point or does not verify.
    """
    check_round(round_number)
    raw = decode_hex(signature, "signature", SIGNATURE_BYTES)
    if not signature_verifies(chain.public_key, round_number, raw):
        raise BeaconNotAuthenticError(
            f"signature does not verify for round {round_number} of chain {chain.hash[:12]}…: "
            "it was not made by the chain's key for this round"
        )
    return Beacon(
        chain_hash=chain.hash,
        round=round_number,
        signature=raw.hex(),
        randomness=randomness_of(raw),
        published_at=chain.round_time(round_number),
    )


def verify_answer(
    chain: ChainInfo, payload: object, expected_round: int | None = None
) -> Beacon:
    """Authenticate a relay's JSON answer ``{round, randomness, signature}``.

    The signature must verify, the ``randomness`` field (when present) must be
    SHA-256(signature), and with ``expected_round`` the answer must be that round.
    """
    if not isinstance(payload, Mapping):
        raise BeaconFormatError("a round answer must be a JSON object")
    for name in ("round", "signature"):
        if name not in payload:
            raise BeaconFormatError(f"round answer has no {name!r} field")
    round_number = check_round(payload["round"], "round answer field 'round'")
    if expected_round is not None and round_number != expected_round:
        raise BeaconNotAuthenticError(
            f"asked for round {expected_round}, the answer is round {round_number}"
        )
    beacon = verify_round(chain, round_number, payload["signature"])
    if "randomness" in payload:
        claimed = decode_hex(payload["randomness"], "randomness", RANDOMNESS_BYTES)
        if claimed != beacon.randomness:
            raise BeaconNotAuthenticError(
                f"round {round_number}'s randomness is not SHA-256 of its signature"
            )
    return beacon
