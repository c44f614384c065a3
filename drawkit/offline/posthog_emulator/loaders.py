"""Pre-load the emulator with recharges and persons, as the capture upload would leave them.

The result mirrors ``drawkit.posthog.upload.upload_recharges``: one ``recharge`` event per
row with a valid MSISDN, a transaction id and a readable timestamp (other rows are counted
by reason and skipped, since PostHog only ever holds events with a distinct id), with
``uuid = uuid5(RECHARGE_NAMESPACE, transaction_id)`` so duplicate exports of a transaction
collapse exactly as they would after a real upload; amounts are numbers when numeric and
the raw text otherwise. Every subscriber becomes a person with ``msisdn`` and
``blacklisted`` properties. Work is vectorised (pandas + duckdb) for millions of rows.
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from drawkit.config import PromotionConfig
from drawkit.eligibility import parse_timestamps
from drawkit.errors import InputError
from drawkit.msisdn import normalize_series
from drawkit.offline.posthog_emulator.store import Store, utcnow, uuid5_text

# Must equal drawkit.posthog.upload.RECHARGE_NAMESPACE (a test checks they agree).
RECHARGE_NAMESPACE = uuidlib.UUID("0b4c3a52-6c1e-5d8e-a7f4-3f1d9e2b6a10")



def _uuid_sql(h: str) -> str:
    """SQL for ``str(uuid5(RECHARGE_NAMESPACE, name))`` from ``h``, the column holding
    ``lower(sha1(namespace bytes || name))``: set the version and variant bits, add dashes."""
    return (
        f"substr({h}, 1, 8) || '-' || substr({h}, 9, 4) || '-5' || substr({h}, 14, 3) || '-' "
        f"|| substr('89ab89ab89ab89ab', position(substr({h}, 17, 1) IN '0123456789abcdef'), 1) "
        f"|| substr({h}, 18, 3) || '-' || substr({h}, 21, 12)"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_TEXT_TIMESTAMP = (
    "CASE WHEN regexp_matches(trim(ts), '(?:[zZ]|[+-]\\d{2}(?::?\\d{2})?)$') "
    "THEN timezone('UTC', TRY_CAST(trim(ts) AS TIMESTAMPTZ)) "
    "ELSE timezone('UTC', timezone($tz, TRY_CAST(trim(ts) AS TIMESTAMP))) END"
)


def recharge_events(
    recharges: pd.DataFrame, config: PromotionConfig | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Event rows (uuid, event, distinct_id, timestamp, properties JSON) and skip counts.

    Parsing runs in duckdb (timestamps, amounts, uuids) over one pass of the rows."""
    config = config or PromotionConfig()
    missing = {"transaction_id", "msisdn", "amount_ngn", "timestamp"} - set(recharges.columns)
    if missing:
        raise InputError(f"recharges are missing column(s): {', '.join(sorted(missing))}")
    e164, _ = normalize_series(recharges["msisdn"])
    typed = pd.api.types.is_datetime64_any_dtype(recharges["timestamp"])
    frame = pd.DataFrame(
        {
            "tid": recharges["transaction_id"],
            "distinct_id": e164,
            "amount": recharges["amount_ngn"],
            "ts": (
                parse_timestamps(recharges["timestamp"], config).dt.tz_localize(None)
                if typed
                else recharges["timestamp"].astype("string")
            ),
            "channel": recharges["channel"] if "channel" in recharges else None,
        }
    )
    names = config.posthog
    parsed = f"""
        SELECT NULLIF(trim(CAST(tid AS VARCHAR)), '') AS tid, distinct_id,
               CAST(amount AS VARCHAR) AS raw,
               TRY_CAST(trim(CAST(amount AS VARCHAR)) AS DOUBLE) AS num,
               {"ts" if typed else _TEXT_TIMESTAMP} AS timestamp,
               CAST(channel AS VARCHAR) AS channel
        FROM frame
    """  # noqa: S608 - fixed SQL
    events = f"""
        SELECT {_uuid_sql("h")} AS uuid, {_quote(names.recharge_event)} AS event,
            distinct_id, timestamp, json_object(
            {_quote(names.amount_property)},
            CASE WHEN num IS NULL OR isnan(num) OR isinf(num) THEN to_json(raw)
                 WHEN num = floor(num) AND abs(num) < 1e15 THEN to_json(CAST(num AS BIGINT))
                 ELSE to_json(num) END,
            {_quote(names.transaction_property)}, tid,
            {_quote(names.msisdn_property)}, distinct_id,
            {_quote(names.channel_property)}, channel)::VARCHAR AS properties
        FROM (
            SELECT *, lower(sha1(from_hex('{RECHARGE_NAMESPACE.hex}') || encode(tid))) AS h
            FROM parsed
            WHERE distinct_id IS NOT NULL AND tid IS NOT NULL AND timestamp IS NOT NULL
        )
    """  # noqa: S608 - names come from the validated promotion config
    counts = """
        SELECT count(*) FILTER (WHERE distinct_id IS NULL),
               count(*) FILTER (WHERE distinct_id IS NOT NULL AND tid IS NULL),
               count(*) FILTER (WHERE distinct_id IS NOT NULL AND tid IS NOT NULL
                                AND timestamp IS NULL)
        FROM parsed
    """
    params = {} if typed else {"tz": config.timezone}
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.register("frame", frame)
        conn.execute(f"CREATE TEMP TABLE parsed AS {parsed}", params)
        built = conn.execute(events).df()
        bad = conn.execute(counts).fetchall()[0]
    skipped = dict(zip(("invalid_msisdn", "missing_transaction_id", "unreadable_timestamp"),
                       map(int, bad), strict=True))  # fmt: skip
    return built, {k: v for k, v in skipped.items() if v}


def load_recharges(
    store: Store,
    recharges: pd.DataFrame,
    persons: pd.DataFrame | None = None,
    config: PromotionConfig | None = None,
) -> dict[str, Any]:
    """Add recharge events and persons to ``store``; return counts (rows, events, skipped)."""
    config = config or PromotionConfig()
    events, skipped = recharge_events(recharges, config)
    blacklisted = _blacklist_map(persons)
    first = events.groupby("distinct_id")["timestamp"].min()
    stamps = first.to_numpy().astype("datetime64[us]").tolist()
    first_seen = dict(zip(first.index, stamps, strict=True))
    everyone = list(dict.fromkeys([*first_seen, *blacklisted]))
    msisdn_key, flag_key = config.posthog.msisdn_property, config.posthog.blacklist_property
    store.add_persons(
        (m, {msisdn_key: m, flag_key: blacklisted.get(m, False)}, first_seen.get(m))
        for m in everyone
    )
    extra = [m for m in blacklisted if m not in first_seen]
    if extra:  # the upload records these persons with a "$set" event each
        now = utcnow()
        person_events = pd.DataFrame(
            {
                "uuid": [uuid5_text(RECHARGE_NAMESPACE, "person/" + m) for m in extra],
                "event": "$set",
                "distinct_id": extra,
                "timestamp": now,
                "properties": "{}",
            }
        )
        events = pd.concat([events, person_events], ignore_index=True)
    before = store.event_count()
    store.add_event_frame(events)
    return {
        "rows_in": len(recharges),
        "events": store.event_count() - before,
        "persons": len(everyone),
        "rows_skipped": skipped,
    }


def _blacklist_map(persons: pd.DataFrame | None) -> dict[str, bool]:
    if persons is None or persons.empty:
        return {}
    e164, _ = normalize_series(persons["msisdn"])
    if "blacklisted" in persons:
        flags = persons["blacklisted"].fillna(False).astype(bool)
    else:
        flags = pd.Series(True, index=persons.index)
    ok = e164.notna()
    return dict(zip(e164[ok], flags[ok].map(bool), strict=True))


def load_synth(
    store: Store, data: Any, config: PromotionConfig | None = None, tz: str | None = None
) -> dict[str, Any]:
    """Load a ``drawkit.synth.SynthData`` (recharges + persons) into ``store``."""
    config = config or PromotionConfig()
    if tz is not None and tz != config.timezone:
        config = replace(config, timezone=tz)
    return load_recharges(store, data.recharges, data.persons, config)


def load_dir(
    store: Store, path: str | Path, config: PromotionConfig | None = None, tz: str | None = None
) -> dict[str, Any]:
    """Load ``recharges.csv|parquet`` and optional ``blacklist.csv`` / ``persons.csv``."""
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"--load {folder}: not a folder")
    recharges_path = next(
        (folder / n for n in ("recharges.parquet", "recharges.csv") if (folder / n).exists()), None
    )
    if recharges_path is None:
        raise InputError(f"{folder} holds no recharges.csv or recharges.parquet")
    if recharges_path.suffix == ".parquet":
        recharges = pd.read_parquet(recharges_path)
    else:
        recharges = pd.read_csv(recharges_path, dtype=str, keep_default_na=False)
    persons = None
    if (folder / "persons.csv").exists():
        persons = pd.read_csv(folder / "persons.csv", dtype={"msisdn": str})
    elif (folder / "blacklist.csv").exists():
        listed = pd.read_csv(folder / "blacklist.csv", dtype=str, keep_default_na=False)
        if "msisdn" not in listed:
            raise InputError(f"{folder / 'blacklist.csv'} needs a column 'msisdn'")
        persons = pd.DataFrame({"msisdn": listed["msisdn"], "blacklisted": True})
    config = config or PromotionConfig()
    if tz is not None and tz != config.timezone:
        config = replace(config, timezone=tz)
    return load_recharges(store, recharges, persons, config)
