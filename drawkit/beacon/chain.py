"""A drand chain's parameters and its round arithmetic; quicknet pinned.

A chain publishes round ``r`` at ``genesis_time + (r - 1) * period``. Its chain hash is
SHA-256 over the period (4 bytes), the genesis time (8 bytes), the public key, the group
hash and, unless it is ``default``, the beacon id, as drand computes it: so a chain hash
alone authenticates the rest of the parameters. :class:`ChainInfo` refuses to exist with
a hash that does not match them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from drawkit.beacon.bls import (
    PUBLIC_KEY_BYTES,
    SCHEME_ID,
    check_round,
    decode_hex,
    public_key_point,
)
from drawkit.errors import BeaconFormatError, BeaconNotAuthenticError, InputError

DEFAULT_RELAY = "https://api.drand.sh"
DEFAULT_BEACON_ID = "default"
# The beacon id drawkit's local test chain (drawkit.offline.drand_chain) gives itself.
LOCAL_TEST_BEACON_ID = "drawkit-local-test"
_HEX32 = re.compile(r"^[0-9a-f]{64}$")


def chain_hash(
    period: int, genesis_time: int, public_key: bytes, group_hash: str, beacon_id: str
) -> str:
    """drand's chain hash of these parameters (lowercase hex)."""
    digest = hashlib.sha256()
    digest.update(period.to_bytes(4, "big"))
    digest.update(genesis_time.to_bytes(8, "big", signed=True))
    digest.update(public_key)
    digest.update(bytes.fromhex(group_hash))
    if beacon_id != DEFAULT_BEACON_ID:
        digest.update(beacon_id.encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class ChainInfo:
    """One drand chain: what a relay's ``/info`` says, checked against its own hash."""

    hash: str
    public_key: bytes = field(repr=False)
    period: int
    genesis_time: int
    group_hash: str
    scheme: str = SCHEME_ID
    beacon_id: str = DEFAULT_BEACON_ID

    def __post_init__(self) -> None:
        _hex32(self.hash, "hash")
        _hex32(self.group_hash, "groupHash")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != PUBLIC_KEY_BYTES:
            raise BeaconFormatError(f"public_key must be {PUBLIC_KEY_BYTES} bytes")
        _positive_int(self.period, "period", low=1, high=2**32 - 1)
        _positive_int(self.genesis_time, "genesis_time", low=0, high=2**63 - 1)
        if self.scheme != SCHEME_ID:
            raise BeaconFormatError(
                f"schemeID {self.scheme!r} is not supported: drawkit verifies {SCHEME_ID} only"
            )
        if not isinstance(self.beacon_id, str) or not self.beacon_id:
            raise BeaconFormatError("metadata.beaconID must be a non-empty string")
        public_key_point(self.public_key)  # on the curve, in G2, not infinity
        computed = chain_hash(
            self.period, self.genesis_time, self.public_key, self.group_hash, self.beacon_id
        )
        if computed != self.hash:
            raise BeaconNotAuthenticError(
                f"chain hash {self.hash} does not match its parameters (they hash to "
                f"{computed}): the public key, period, genesis time, group hash or beacon id "
                "was altered"
            )

    # ------------------------------------------------------------------ JSON

    @classmethod
    def from_json(cls, payload: object, *, expected_hash: str | None = None) -> ChainInfo:
        """Parse a relay's ``/info`` answer strictly; every problem names the field.

        With ``expected_hash``, the answer must be that chain (a relay may be asked for
        one chain and answer another)."""
        if not isinstance(payload, Mapping):
            raise BeaconFormatError("chain info must be a JSON object")
        for name in ("public_key", "period", "genesis_time", "hash", "groupHash", "schemeID"):
            if name not in payload:
                raise BeaconFormatError(f"chain info has no {name!r} field")
        metadata = payload.get("metadata", {})
        if not isinstance(metadata, Mapping):
            raise BeaconFormatError("chain info field 'metadata' must be an object")
        beacon_id = metadata.get("beaconID") or DEFAULT_BEACON_ID
        for name in ("hash", "groupHash", "schemeID"):
            if not isinstance(payload[name], str):
                raise BeaconFormatError(f"chain info field {name!r} must be a string")
        info = cls(
            hash=payload["hash"],
            public_key=decode_hex(payload["public_key"], "public_key", PUBLIC_KEY_BYTES),
            period=_json_int(payload["period"], "period"),
            genesis_time=_json_int(payload["genesis_time"], "genesis_time"),
            scheme=payload["schemeID"],
            group_hash=payload["groupHash"],
            beacon_id=beacon_id,
        )
        if expected_hash is not None and info.hash != expected_hash.strip().lower():
            raise BeaconNotAuthenticError(
                f"chain info is for chain {info.hash}, not the expected {expected_hash}"
            )
        return info

    def to_json(self) -> dict[str, Any]:
        """The chain in the shape of a relay's ``/info`` answer."""
        return {
            "public_key": self.public_key.hex(),
            "period": self.period,
            "genesis_time": self.genesis_time,
            "hash": self.hash,
            "groupHash": self.group_hash,
            "schemeID": self.scheme,
            "metadata": {"beaconID": self.beacon_id},
        }

    # ------------------------------------------------------------------ naming

    @property
    def is_quicknet(self) -> bool:
        """True for the League of Entropy's quicknet chain that drawkit pins."""
        return self.hash == QUICKNET_HASH

    @property
    def is_local_test_chain(self) -> bool:
        """True for drawkit's local test chain: never public randomness."""
        return self.beacon_id == LOCAL_TEST_BEACON_ID

    @property
    def genesis(self) -> datetime:
        """The genesis time as an aware UTC datetime (round 1 is published then)."""
        return datetime.fromtimestamp(self.genesis_time, tz=UTC)

    # ------------------------------------------------------------------ rounds

    def round_time(self, round_number: int) -> datetime:
        """When this chain publishes ``round_number`` (round 1 at genesis)."""
        check_round(round_number)
        return self.genesis + (round_number - 1) * timedelta(seconds=self.period)

    def round_at(self, when: datetime) -> int:
        """The latest round published at or before ``when`` (an aware datetime)."""
        if when.tzinfo is None:
            raise InputError(f"{when.isoformat()} has no timezone: give the offset (e.g. +01:00)")
        elapsed = when - self.genesis
        if elapsed < timedelta(0):
            raise InputError(f"{when.isoformat()} is before drand {self.beacon_id}'s genesis")
        return elapsed // timedelta(seconds=self.period) + 1

    def round_after(self, when: datetime) -> int:
        """The first round published strictly after ``when``: its value cannot be known
        at ``when``, so it is the round to commit to."""
        return self.round_at(when) + 1

    def round_url(self, round_number: int, relay: str = DEFAULT_RELAY) -> str:
        """Where anyone can fetch the round (JSON: ``round``, ``randomness``, ``signature``)."""
        check_round(round_number)
        return f"{relay.rstrip('/')}/{self.hash}/public/{round_number}"


def _hex32(value: object, name: str) -> None:
    if not isinstance(value, str) or not _HEX32.match(value):
        raise BeaconFormatError(f"chain info field {name!r} must be 64 lowercase hex digits")


def _positive_int(value: object, name: str, *, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BeaconFormatError(f"chain info field {name!r} must be an integer >= {low}")


def _json_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BeaconFormatError(
            f"chain info field {name!r} must be an integer, not {type(value).__name__}"
        )
    return value


QUICKNET_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
QUICKNET = ChainInfo(
    hash=QUICKNET_HASH,
    public_key=bytes.fromhex(
        "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5"
        "776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a"
        "4bc09e76eae8991ef5ece45a"
    ),
    period=3,
    genesis_time=1692803367,
    group_hash="f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e",
    scheme=SCHEME_ID,
    beacon_id="quicknet",
)
"""drand quicknet (League of Entropy): one round every 3 s since 2023-08-23T15:09:27Z."""
