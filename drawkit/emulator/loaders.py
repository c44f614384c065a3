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
import numpy as np
import pandas as pd

from drawkit.config import PromotionConfig
from drawkit.emulator.store import Store, uuid5_text
from drawkit.errors import InputError
from drawkit.msisdn import normalize_series

# Must equal drawkit.posthog.upload.RECHARGE_NAMESPACE (a test checks they agree).
RECHARGE_NAMESPACE = uuidlib.UUID("0b4c3a52-6c1e-5d8e-a7f4-3f1d9e2b6a10")
_OFFSET = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


def parse_timestamps(values: pd.Series, tz: str) -> pd.Series:
    """ISO 8601 strings (or datetimes) as naive UTC; without an offset read in ``tz``."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values)
        if stamps.dt.tz is None:
            stamps = stamps.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        return stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    text = values.astype("string").str.strip()
    has_offset = text.str.contains(_OFFSET, regex=True, na=False)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if has_offset.any():
        out[has_offset] = pd.to_datetime(
            text[has_offset], utc=True, errors="coerce", format="ISO8601"
        )
    naive = ~has_offset & text.notna() & (text != "")
    if naive.any():
        local = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        out[naive] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(
            "UTC"
        )
    return out.dt.tz_localize(None)


def _uuids(transaction_ids: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(transaction_ids)
    table = np.array([uuid5_text(RECHARGE_NAMESPACE, str(t)) for t in uniques], dtype=object)
    return pd.Series(table[codes], index=transaction_ids.index)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def recharge_events(
    recharges: pd.DataFrame, config: PromotionConfig | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Event rows (uuid, event, distinct_id, timestamp, properties JSON) and skip counts."""
    config = config or PromotionConfig()
    missing = {"transaction_id", "msisdn", "amount_ngn", "timestamp"} - set(recharges.columns)
    if missing:
        raise InputError(f"recharges are missing column(s): {', '.join(sorted(missing))}")
    e164, _ = normalize_series(recharges["msisdn"])
    stamps = parse_timestamps(recharges["timestamp"], config.timezone)
    tid = recharges["transaction_id"].astype("string").str.strip()
    bad_msisdn = e164.isna()
    bad_tid = ~bad_msisdn & (tid.isna() | (tid == ""))
    bad_time = ~bad_msisdn & ~bad_tid & stamps.isna()
    skipped = {
        "invalid_msisdn": int(bad_msisdn.sum()),
        "missing_transaction_id": int(bad_tid.sum()),
        "unreadable_timestamp": int(bad_time.sum()),
    }
    keep = ~(bad_msisdn | bad_tid | bad_time)
    channel = recharges["channel"][keep] if "channel" in recharges else None
    frame = pd.DataFrame(
        {
            "tid": tid[keep].astype(object),
            "distinct_id": e164[keep].astype(object),
            "raw": recharges["amount_ngn"][keep].astype("string").astype(object),
            "num": pd.to_numeric(recharges["amount_ngn"][keep], errors="coerce"),
            "timestamp": stamps[keep],
            "channel": None if channel is None else channel.astype("string").astype(object),
        }
    )
    names = config.posthog
    sql = f"""
        SELECT distinct_id, timestamp, json_object(
            {_quote(names.amount_property)},
            CASE WHEN num IS NULL OR isinf(num) THEN to_json(raw)
                 WHEN num = floor(num) AND abs(num) < 1e15 THEN to_json(CAST(num AS BIGINT))
                 ELSE to_json(num) END,
            {_quote(names.transaction_property)}, tid,
            {_quote(names.msisdn_property)}, distinct_id,
            {_quote(names.channel_property)}, channel)::VARCHAR AS properties
        FROM frame
    """  # noqa: S608 - names come from the validated promotion config
    with duckdb.connect() as conn:
        conn.register("frame", frame)
        built = conn.execute(sql).df()
    built.insert(0, "uuid", _uuids(frame["tid"]).to_numpy())
    built.insert(1, "event", names.recharge_event)
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
