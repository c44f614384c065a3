"""Load recharge data (e.g. from drawkit.synth) into PostHog through the capture API.

One ``recharge`` event per usable row, on the person whose distinct_id is the E.164
MSISDN, with a uuid derived from the transaction id: loading the same file twice
records each recharge once. Rows that cannot become an event (no valid phone number,
no readable timestamp, no transaction id) are counted by reason and returned, never
dropped silently. Rows with a bad amount ARE sent (the amount as written), so the
PostHog side accounts for them just as the local rules do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from drawkit.config import PromotionConfig
from drawkit.contract import person_uuid, recharge_uuid
from drawkit.eligibility import parse_timestamps
from drawkit.msisdn import normalize_series

if TYPE_CHECKING:
    from drawkit.posthog.client import PostHogClient

logger = logging.getLogger("drawkit.posthog")

SKIP_MSISDN = "invalid_msisdn"
SKIP_TIMESTAMP = "unreadable_timestamp"
SKIP_TRANSACTION = "missing_transaction_id"


@dataclass(frozen=True)
class UploadSummary:
    """What an upload did: rows read, events sent, persons updated, rows not sent by reason."""

    rows_in: int
    events_sent: int
    persons_set: int
    rows_skipped: dict[str, int] = field(default_factory=dict)
    bad_amounts_sent: int = 0

    def format(self) -> str:
        """A short human summary."""
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(self.rows_skipped.items())) or "none"
        return (
            f"{self.rows_in} rows read; {self.events_sent} recharge events sent "
            f"({self.bad_amounts_sent} with an unusable amount, left for the rules to reject); "
            f"{self.persons_set} persons updated; rows not sent: {skipped}"
        )



def _prepare(recharges: pd.DataFrame, config: PromotionConfig) -> tuple[pd.DataFrame, dict]:
    """Normalised usable rows, and the counts of rows that cannot be sent."""
    e164, _reason = normalize_series(recharges["msisdn"])
    stamps = parse_timestamps(recharges["timestamp"], config)
    tid = recharges["transaction_id"].astype("string").str.strip()
    bad_msisdn = e164.isna()
    bad_tid = ~bad_msisdn & (tid.isna() | (tid == ""))
    bad_time = ~bad_msisdn & ~bad_tid & stamps.isna()
    skipped = {
        SKIP_MSISDN: int(bad_msisdn.sum()),
        SKIP_TRANSACTION: int(bad_tid.sum()),
        SKIP_TIMESTAMP: int(bad_time.sum()),
    }
    keep = ~(bad_msisdn | bad_tid | bad_time)
    frame = pd.DataFrame(
        {
            "transaction_id": tid[keep],
            "msisdn": e164[keep],
            "amount": recharges["amount_ngn"][keep],
            "timestamp": stamps[keep],
            "channel": recharges["channel"][keep] if "channel" in recharges else None,
        }
    )
    return frame, {k: v for k, v in skipped.items() if v}


def _events(
    frame: pd.DataFrame, blacklisted: dict[str, bool], config: PromotionConfig
) -> Iterator[dict[str, Any]]:
    names = config.posthog
    numeric = pd.to_numeric(frame["amount"], errors="coerce")
    for tid, msisdn, raw, num, stamp, channel in zip(
        frame["transaction_id"], frame["msisdn"], frame["amount"], numeric,
        frame["timestamp"], frame["channel"], strict=True,
    ):
        if pd.notna(num) and np.isfinite(num):
            amount: Any = int(num) if float(num).is_integer() else float(num)
        else:
            amount = None if pd.isna(raw) else str(raw)
        props: dict[str, Any] = {
            names.amount_property: amount,
            names.transaction_property: tid,
            names.msisdn_property: msisdn,
            "$set": {
                names.msisdn_property: msisdn,
                names.blacklist_property: bool(blacklisted.get(msisdn, False)),
            },
        }
        if channel is not None and not pd.isna(channel):
            props[names.channel_property] = str(channel)
        yield {
            "event": names.recharge_event,
            "distinct_id": msisdn,
            "properties": props,
            "timestamp": stamp.isoformat(),
            "uuid": recharge_uuid(tid),
        }


def _person_events(msisdns: list[str], blacklisted: dict[str, bool], config: PromotionConfig):
    names = config.posthog
    for msisdn in msisdns:
        yield {
            "event": "$set",
            "distinct_id": msisdn,
            "properties": {},
            "$set": {
                names.msisdn_property: msisdn,
                names.blacklist_property: bool(blacklisted.get(msisdn, False)),
            },
            "uuid": person_uuid(msisdn),
        }


def _blacklist_map(persons: pd.DataFrame | None) -> dict[str, bool]:
    if persons is None or persons.empty:
        return {}
    e164, _ = normalize_series(persons["msisdn"])
    flags = persons["blacklisted"].fillna(False).astype(bool)
    ok = e164.notna()
    return dict(zip(e164[ok], flags[ok], strict=True))


def upload_recharges(
    client: PostHogClient,
    recharges: pd.DataFrame,
    persons: pd.DataFrame | None = None,
    config: PromotionConfig | None = None,
    *,
    chunk_size: int = 1000,
) -> UploadSummary:
    """Send recharges as ``recharge`` events and persons' ``msisdn``/``blacklisted``.

    ``recharges``: transaction_id, msisdn (any format), amount_ngn, timestamp[, channel].
    ``persons``: msisdn, blacklisted. Persons with no sendable recharge get a ``$set``.
    """
    config = config or PromotionConfig()
    frame, skipped = _prepare(recharges, config)
    blacklisted = _blacklist_map(persons)
    numeric = pd.to_numeric(frame["amount"], errors="coerce")
    bad_amounts = int((numeric.isna() | (numeric <= 0)).sum())
    sent = client.capture_batch(_events(frame, blacklisted, config), chunk_size=chunk_size)
    seen = set(frame["msisdn"].unique())
    extra = [m for m in blacklisted if m not in seen]
    persons_set = len(seen)
    if extra:
        client.capture_batch(_person_events(extra, blacklisted, config), chunk_size=chunk_size)
        persons_set += len(extra)
    summary = UploadSummary(len(recharges), sent, persons_set, skipped, bad_amounts)
    logger.info("upload: %s", summary.format())
    return summary


def upload_synth(
    client: PostHogClient, data: Any, config: PromotionConfig | None = None, **kwargs: Any
) -> UploadSummary:
    """Upload a :class:`drawkit.synth.SynthData` (recharges + persons) through capture."""
    return upload_recharges(client, data.recharges, data.persons, config, **kwargs)
