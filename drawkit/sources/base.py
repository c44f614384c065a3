"""The DrawDataSource interface every participant source implements.

A source answers three questions for a draw date: who is eligible and with how many
entries, how many entries one subscriber has, and where a draw's result is recorded.
The draw layer hands results over as a :class:`drawkit.contract.DrawOutcome`, a plain
structure of the event contract, so that sources never import the draw engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from drawkit.contract import DrawOutcome, LedgerHead, ResultEvent, ResultSigner

if TYPE_CHECKING:
    import pandas as pd

    from drawkit.eligibility import EligibilityResult


@dataclass(frozen=True)
class PublishReport:
    """What record_draw_result did: result events sent and those already there (each
    identical to the signed event, never merely a uuid); ``visible`` says whether every
    event could be read back before the source's wait bound (None when the source has no
    ingestion lag), ``waited_seconds`` how long that took; ``forged`` names every other
    published event of the draw and why it is not the real one; ``head`` is the ledger
    head published alongside (``head_sent``: sent now rather than already there)."""

    draw_id: str
    sent: int
    already_recorded: int
    visible: bool | None = None
    waited_seconds: float = 0.0
    forged: tuple[str, ...] = ()
    head: LedgerHead | None = None
    head_sent: bool = False


@runtime_checkable
class DrawDataSource(Protocol):
    """Where participants come from and where results go."""

    def get_eligible_participants(self, draw_date: date) -> EligibilityResult:
        """Eligible participants (msisdn, points, entries) for ``draw_date`` plus accounting."""
        ...

    def get_participant_entries(self, msisdn: str, draw_date: date) -> int:
        """Entries one subscriber has in the draw of ``draw_date`` (0 if not eligible)."""
        ...

    def record_draw_result(self, result: DrawOutcome, signer: ResultSigner) -> PublishReport:
        """Record a draw's result, each event signed by ``signer``; safe to repeat
        (records once); names published events of the draw that are not the real ones."""
        ...

    def get_published_events(self, draw_id: str) -> list[ResultEvent]:
        """Every signed-contract event recorded for ``draw_id`` as stored (results and
        ledger heads, forged ones included): what the audit authenticates."""
        ...

    def get_published_results(self, draw_id: str) -> pd.DataFrame:
        """What was recorded for ``draw_id``: columns event, uuid, msisdn, tier, role,
        position, ticket (one row per event; draw summary rows have empty msisdn)."""
        ...
