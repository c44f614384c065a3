"""The beacon round a draw commits to, and one round checked or fetched (light imports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drawkit.app.runtime import Runtime
    from drawkit.beacon.verify import Beacon


@dataclass(frozen=True)
class RoundChoice:
    """The first round one can commit to after a time, when it is published, where."""

    round: int
    published_at: datetime
    url: str
    chain: str

    def format(self) -> str:
        """Three lines for an operator."""
        return (
            f"beacon round {self.round} ({self.chain}), published at "
            f"{self.published_at.isoformat()}\n"
            f"commit to it:  drawkit commit ... --beacon-round {self.round}\n"
            f"once published, anyone can fetch it: {self.url}"
        )


def round_after(
    when: datetime, *, margin_seconds: int = 0, runtime: Runtime | None = None
) -> RoundChoice:
    """The first round of the run's chain (quicknet by default) published at least
    ``margin_seconds`` after ``when``."""
    from drawkit.beacon.chain import QUICKNET

    if when.tzinfo is None:
        from drawkit.errors import InputError

        raise InputError(f"{when.isoformat()} has no timezone: give the offset (e.g. +01:00)")
    chain = runtime.beacon_chain() if runtime is not None else QUICKNET
    chosen = chain.round_after(when + timedelta(seconds=margin_seconds))
    name = "drand quicknet" if chain.is_quicknet else f"chain {chain.hash[:12]}…"
    return RoundChoice(chosen, chain.round_time(chosen), chain.round_url(chosen), name)


@dataclass(frozen=True)
class RoundCheck:
    """One round, authenticated: its randomness, and where it came from."""

    beacon: Beacon
    chain: str
    relay: str | None

    def format(self) -> str:
        """The round for people (the values are public)."""
        lines = [
            f"round {self.beacon.round} of {self.chain}: GENUINE (BLS signature valid)",
            f"  published   {self.beacon.published_at.isoformat()}",
            f"  randomness  {self.beacon.randomness.hex()}",
            f"  signature   {self.beacon.signature}",
        ]
        if self.relay:
            lines.append(f"  relay       {self.relay}")
        return "\n".join(lines)


def check_round(runtime: Runtime, round_number: int, signature: str) -> RoundCheck:
    """Authenticate one round offline against the run's chain (BeaconError when not)."""
    from drawkit.beacon.verify import verify_round

    chain = runtime.beacon_chain()
    return RoundCheck(verify_round(chain, round_number, signature), _name(chain), None)


def fetch_round(runtime: Runtime, round_number: int) -> RoundCheck:
    """Fetch one round from the relays, authenticated."""
    client = runtime.drand()
    beacon = client.round(round_number)
    return RoundCheck(beacon, _name(client.chain), client.last_relay)


def _name(chain: object) -> str:
    hash_ = getattr(chain, "hash", "")
    return "drand quicknet" if getattr(chain, "is_quicknet", False) else f"chain {hash_[:12]}…"
