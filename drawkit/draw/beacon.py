"""The public beacon: drand's quicknet chain, one round every 3 seconds since its genesis.

A draw commits to a round whose randomness does not exist yet (a round after the commitment)
and uses that round's value once drand has published it. drawkit does not fetch it: the
operator passes the value (``--beacon``), and an auditor fetches it independently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from drawkit.errors import InputError

QUICKNET_CHAIN_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
QUICKNET_GENESIS = datetime.fromtimestamp(1692803367, tz=UTC)
QUICKNET_PERIOD = timedelta(seconds=3)
DRAND_API = "https://api.drand.sh"


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise InputError(f"{when.isoformat()} has no timezone: give the offset (e.g. +01:00)")
    return when


def round_time(round_number: int) -> datetime:
    """When quicknet publishes ``round_number`` (round 1 at genesis)."""
    if round_number < 1:
        raise InputError(f"drand round {round_number} does not exist: rounds start at 1")
    return QUICKNET_GENESIS + (round_number - 1) * QUICKNET_PERIOD


def round_at(when: datetime) -> int:
    """The latest round published at or before ``when``."""
    elapsed = _aware(when) - QUICKNET_GENESIS
    if elapsed < timedelta(0):
        raise InputError(f"{when.isoformat()} is before drand quicknet's genesis")
    return elapsed // QUICKNET_PERIOD + 1


def round_after(when: datetime) -> int:
    """The first round published strictly after ``when``: its value cannot be known at
    ``when``, so it is the round to commit to."""
    return round_at(when) + 1


def round_url(round_number: int) -> str:
    """Where anyone can fetch the round's value (JSON; the value is its ``randomness``)."""
    round_time(round_number)
    return f"{DRAND_API}/{QUICKNET_CHAIN_HASH}/public/{round_number}"
