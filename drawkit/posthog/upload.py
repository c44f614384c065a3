"""Load recharge data (e.g. from drawkit.synth) into PostHog through the capture API.

One ``recharge`` event per usable row, on the person whose distinct_id is the E.164
MSISDN, with a uuid derived from the transaction id (and, for a transaction id that
appears again in the file, its occurrence): loading the same file twice records each
row once, and a duplicate row stays a duplicate for the rules. Rows that cannot become
an event (no valid phone number, no readable timestamp, no transaction id) are listed
with the local rules' reason (``UploadSummary.not_sent``), never dropped silently. Rows
with a bad amount ARE sent, so the PostHog side rejects them as the local rules do.

Amounts are sent as written: a JSON number only when the text is a plain decimal that a
double holds exactly, otherwise the text itself. Every event carries its source-system
timestamp with ``$ignore_sent_at`` (PostHog never shifts it), and PostHog makes events
queryable seconds to minutes after capture: :func:`wait_until_queryable` waits for them.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from drawkit.config import PromotionConfig
from drawkit.contract import person_uuid, recharge_uuid
from drawkit.eligibility import INVALID_MSISDN, MISSING_TIMESTAMP, parse_timestamps
from drawkit.errors import InputError, PostHogUnavailableError
from drawkit.msisdn import normalize_series

if TYPE_CHECKING:
    from drawkit.posthog.client import PostHogClient

logger = logging.getLogger("drawkit.posthog")

SKIP_MSISDN = "invalid_msisdn"
SKIP_TIMESTAMP = "unreadable_timestamp"
SKIP_TRANSACTION = "missing_transaction_id"
# Uploaded events PostHog's queries see (each uuid once, even before PostHog's merge).
_QUERYABLE = ("SELECT uniqExact(uuid) FROM events WHERE event = '{event}' "
              "AND JSONExtractString(properties, 'drawkit_upload') = '{upload}'")
UPLOAD_PROPERTY = "drawkit_upload"  # names the upload an event came from (a content hash)
_PLAIN = re.compile(r"^[+-]?(?:[0-9]+|[0-9]*\.[0-9]+)$")


@dataclass(frozen=True)
class UploadSummary:
    """What an upload did: rows read, events sent, persons updated, rows not sent by reason."""

    rows_in: int
    events_sent: int
    persons_set: int
    rows_skipped: dict[str, int] = field(default_factory=dict)
    bad_amounts_sent: int = 0
    not_sent: pd.DataFrame = field(default_factory=lambda: _not_sent_frame([], [], [], []),
                                   repr=False, compare=False)
    uuids: tuple[str, ...] = field(default=(), repr=False, compare=False)
    upload_id: str = ""

    def format(self) -> str:
        """A short human summary."""
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(self.rows_skipped.items())) or "none"
        return (
            f"{self.rows_in} rows read; {self.events_sent} recharge events sent "
            f"({self.bad_amounts_sent} with an unusable amount, left for the rules to reject); "
            f"{self.persons_set} persons updated; rows not sent: {skipped}"
        )



def _not_sent_frame(tids, msisdns, amounts, reasons) -> pd.DataFrame:
    return pd.DataFrame({"transaction_id": pd.Series(tids, dtype=object),
                         "msisdn": pd.Series(msisdns, dtype=object),
                         "amount_ngn": pd.Series(amounts, dtype=object),
                         "reason": pd.Series(reasons, dtype=object)})


NOT_SENT_COLUMNS = ("transaction_id", "msisdn", "amount_ngn", "reason")


def write_not_sent(rows: pd.DataFrame, path: str | Path) -> Path:
    """Keep the rows an upload could not send (``UploadSummary.not_sent``) in a private
    CSV (0600: full numbers), for the PostHog source to account for them
    (:func:`read_not_sent`)."""
    from drawkit.store import write_private

    return write_private(path, lambda handle: rows.to_csv(handle, index=False))


def read_not_sent(path: str | Path) -> pd.DataFrame:
    """The rows an upload could not send, from :func:`write_not_sent`'s file."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"--not-sent {path}: no such file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"--not-sent {path} is not an upload's not-sent CSV: {exc}") from None
    missing = [c for c in NOT_SENT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"--not-sent {path} lacks column(s) {', '.join(missing)}: it is not "
                         "the not-sent file an upload wrote")
    return frame[list(NOT_SENT_COLUMNS)]


def _prepare(recharges: pd.DataFrame, config: PromotionConfig
             ) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Normalised usable rows, the counts of rows that cannot be sent, and those rows
    with the local rules' reason (``invalid_msisdn: <why>``, ``missing_timestamp``...)."""
    e164, why = normalize_series(recharges["msisdn"])
    stamps = parse_timestamps(recharges["timestamp"], config)
    tid = recharges["transaction_id"].astype("string").str.strip()
    bad_tid = tid.isna() | (tid == "")
    bad_msisdn = ~bad_tid & e164.isna()
    bad_time = ~bad_tid & ~bad_msisdn & stamps.isna()
    skipped = {
        SKIP_MSISDN: int(bad_msisdn.sum()),
        SKIP_TRANSACTION: int(bad_tid.sum()),
        SKIP_TIMESTAMP: int(bad_time.sum()),
    }
    blank_time = recharges["timestamp"].astype("string").str.strip().fillna("") == ""
    reason = pd.Series(None, index=recharges.index, dtype=object)
    reason[bad_tid] = SKIP_TRANSACTION
    reason[bad_msisdn] = INVALID_MSISDN + ": " + why[bad_msisdn].astype(str)
    reason[bad_time] = SKIP_TIMESTAMP
    reason[bad_time & blank_time] = MISSING_TIMESTAMP
    keep = ~(bad_msisdn | bad_tid | bad_time)
    dropped = ~keep
    not_sent = _not_sent_frame(recharges["transaction_id"][dropped].tolist(),
                               recharges["msisdn"][dropped].tolist(),
                               recharges["amount_ngn"][dropped].tolist(),
                               reason[dropped].tolist())
    occurrence = tid[keep].groupby(tid[keep]).cumcount()
    frame = pd.DataFrame(
        {
            "transaction_id": tid[keep],
            "msisdn": e164[keep],
            "amount": recharges["amount_ngn"][keep],
            "timestamp": stamps[keep],
            "channel": recharges["channel"][keep] if "channel" in recharges else None,
            "occurrence": occurrence,
        }
    )
    return frame, {k: v for k, v in skipped.items() if v}, not_sent


def amount_value(raw: object) -> Any:
    """The amount as sent: a JSON number when the text is a plain decimal a double holds
    exactly (so PostHog reads the same decimal), otherwise the text as written."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw is pd.NA:
        return None
    if isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, int | np.integer):
        return int(raw)
    if isinstance(raw, float | np.floating):
        return float(raw) if np.isfinite(raw) else str(raw)
    text = str(raw)
    cleaned = text.strip()
    if _PLAIN.match(cleaned):
        exact = Decimal(cleaned)
        number = float(exact)
        if Decimal(repr(number)) == exact and np.isfinite(number):
            return int(number) if exact == exact.to_integral_value() else number
    return text


def upload_uuid(transaction_id: str, occurrence: int) -> str:
    """The uuid of an uploaded row: the transaction's, or for its n-th repeat in the
    file, the transaction's and n (so a re-upload records each row once)."""
    return recharge_uuid(transaction_id if not occurrence else f"{transaction_id}#{occurrence}")


def _events(
    frame: pd.DataFrame, blacklisted: dict[str, bool], config: PromotionConfig
) -> Iterator[dict[str, Any]]:
    names = config.posthog
    for tid, msisdn, raw, stamp, channel, occurrence in zip(
        frame["transaction_id"], frame["msisdn"], frame["amount"],
        frame["timestamp"], frame["channel"], frame["occurrence"], strict=True,
    ):
        props: dict[str, Any] = {
            names.amount_property: amount_value(raw),
            names.transaction_property: tid,
            names.msisdn_property: msisdn,
            "$ignore_sent_at": True,
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
            "uuid": upload_uuid(tid, int(occurrence)),
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
    from drawkit.posthog.rules import classify_amount_text

    config = config or PromotionConfig()
    frame, skipped, not_sent = _prepare(recharges, config)
    blacklisted = _blacklist_map(persons)
    bad_amounts = sum(
        classify_amount_text(None if pd.isna(a) else str(a))[0] is not None
        for a in frame["amount"].astype(object)
    )
    events = list(_events(frame, blacklisted, config))
    upload_id = hashlib.sha256("\n".join(e["uuid"] for e in events).encode()).hexdigest()[:16]
    for event in events:
        event["properties"][UPLOAD_PROPERTY] = upload_id
    sent = client.capture_batch(events, chunk_size=chunk_size)
    seen = set(frame["msisdn"].unique())
    extra = [m for m in blacklisted if m not in seen]
    persons_set = len(seen)
    if extra:
        client.capture_batch(_person_events(extra, blacklisted, config), chunk_size=chunk_size)
        persons_set += len(extra)
    summary = UploadSummary(len(recharges), sent, persons_set, skipped, bad_amounts,
                            not_sent, tuple(e["uuid"] for e in events), upload_id)
    logger.info("upload: %s", summary.format())
    return summary


def wait_until_queryable(
    client: PostHogClient,
    summary: UploadSummary,
    config: PromotionConfig | None = None,
    *,
    timeout: float = 300.0,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> float:
    """Wait (bounded) until PostHog's queries see every recharge event the upload sent
    (one query per poll: events carry the upload's id); return the seconds waited.
    Raises PostHogUnavailableError naming how many are still missing after ``timeout``
    (PostHog ingests asynchronously: seconds to minutes)."""
    config = config or PromotionConfig()
    wanted = len(set(summary.uuids))
    event = config.posthog.recharge_event.replace("\\", "\\\\").replace("'", "\\'")
    query = _QUERYABLE.format(event=event, upload=summary.upload_id)
    started, interval = clock(), poll_seconds
    while wanted:
        seen = int(client.query(query, refresh="force_blocking").results[0][0])
        if seen >= wanted:
            break
        waited = clock() - started
        if waited >= timeout:
            raise PostHogUnavailableError(
                f"{wanted - seen:,} of {wanted:,} uploaded events were still not queryable "
                f"in PostHog after {waited:.0f}s (ingestion lag): wait and check again",
                endpoint="POST /query/",
            )
        sleep(min(interval, timeout - waited))
        interval = min(interval * 2, 30.0)  # each poll is a charged HogQL query
    return clock() - started


def upload_synth(
    client: PostHogClient, data: Any, config: PromotionConfig | None = None, **kwargs: Any
) -> UploadSummary:
    """Upload a :class:`drawkit.synth.SynthData` (recharges + persons) through capture."""
    return upload_recharges(client, data.recharges, data.persons, config, **kwargs)
