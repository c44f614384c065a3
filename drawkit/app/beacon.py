"""The beacon round a draw commits to (light: no data libraries imported)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from drawkit.draw import beacon as quicknet


@dataclass(frozen=True)
class RoundChoice:
    """The first drand round published after a time, when, and where to fetch it."""

    round: int
    published_at: datetime
    url: str

    def format(self) -> str:
        """Three lines for an operator."""
        return (
            f"beacon round {self.round} (drand quicknet), published at "
            f"{self.published_at.isoformat()}\n"
            f"commit to it:  drawkit commit ... --beacon-round {self.round}\n"
            f"once published, its value is the 'randomness' field of {self.url}"
        )


def round_after(when: datetime) -> RoundChoice:
    """The first quicknet round published strictly after ``when``."""
    chosen = quicknet.round_after(when)
    return RoundChoice(chosen, quicknet.round_time(chosen), quicknet.round_url(chosen))
