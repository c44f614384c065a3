"""Send a draw's result to its data source (PostHog or local files), signed; safe to repeat."""

from __future__ import annotations

from drawkit.contract import SIGNING_KEY_ENV, LedgerHead, PublishedDrawEvent, ResultSigner, key_id
from drawkit.draw.record import DrawRecord
from drawkit.errors import ConfigError, VerificationError
from drawkit.sources.base import DrawDataSource, PublishReport


def publish(
    record: DrawRecord,
    source: DrawDataSource,
    signer: ResultSigner,
    *,
    ledger_head: LedgerHead | None = None,
    events: tuple[PublishedDrawEvent, ...] = (),
) -> PublishReport:
    """Record ``record`` in ``source``, every event signed by ``signer`` (the key the draw
    committed to), with the draw's later ``events`` (unreachable, promoted...) and
    ``ledger_head`` published alongside when given. Events carry keyed
    uuids, so a retried or repeated publish records each event once; published events of
    the draw that are not the real ones are reported by name (``PublishReport.forged``).
    A record whose hash does not match its content is refused, and so is a key other than
    the committed one."""
    if record.computed_hash() != record.record_hash:
        raise VerificationError(
            f"draw {record.draw_id}: the record does not match its record_hash; "
            "run drawkit verify before publishing"
        )
    check_signer(record, signer)
    return source.record_draw_result(record.to_outcome(ledger_head, events), signer)


def check_signer(record: DrawRecord, signer: ResultSigner) -> None:
    """Refuse a signing key other than the one the draw's commitment names."""
    committed = record.commitment.result_public_key
    if committed is None:
        raise VerificationError(
            f"draw {record.draw_id} was committed without a result signing key, so its "
            "published results could not be authenticated by anyone: it cannot be published"
        )
    if signer.public_key != committed:
        raise ConfigError(
            f"{SIGNING_KEY_ENV} holds key id {signer.key_id}, but draw {record.draw_id} "
            f"committed to key id {key_id(committed)}: publish with the committed key"
        )
