"""Synthetic recharge data: realistic, deterministic per seed, fast at tens of millions of rows.

Subscribers get a heavy-tailed recharge rate (a few big spenders, many occasional ones),
recharges use the usual airtime denominations, numbers are written in assorted spellings
(``0803...``, ``234...``, ``+234...``, ``+234 803 123 4567``, ``803...``) and timestamps in
assorted ISO 8601 forms (UTC ``Z``, ``+01:00``, naive local time). A small share of rows is
bad (bad numbers, non-numeric or non-positive amounts, unreadable or missing timestamps),
some rows are duplicated exports of the same transaction, a few land just after the cutoff,
and a share of subscribers is blacklisted.

Everything is vectorised with numpy and pyarrow: string columns are built once per
distinct value and gathered, so 20 million rows take well under a minute and the frame's
string columns are Arrow-backed (``string[pyarrow]``), a fraction of Python objects' memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from drawkit.config import PromotionConfig

# Nigerian mobile prefixes (national, without the trunk 0), weighted roughly by market share.
PREFIXES = np.array(
    [803, 806, 813, 816, 810, 814, 903, 906, 913, 916, 805, 807, 815, 811, 905,
     802, 808, 812, 708, 701, 902, 907, 901, 809, 817, 818, 909, 908, 703, 706]
)  # fmt: skip
DENOMINATIONS = np.array([50, 100, 200, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000])
DENOMINATION_WEIGHTS = np.array([6, 22, 18, 4, 20, 3, 12, 3, 6, 2, 3, 1], dtype=float)
# Row spellings of a number and their shares.
NUMBER_FORMATS = ("local", "international", "plus", "spaced", "bare")
NUMBER_FORMAT_SHARES = np.array([0.80, 0.10, 0.05, 0.04, 0.01])
# Timestamp forms and their shares: UTC "Z", "+01:00" offset, naive local "YYYY-MM-DD HH:MM:SS".
TIME_FORMAT_SHARES = np.array([0.70, 0.10, 0.20])
BAD_NUMBERS = ("12345", "+447911123456", "01234567", "0803123", "not given", "")
BAD_AMOUNTS = ("abc", "N/A", "-100", "0", "")
BAD_TIMESTAMPS = ("yesterday", "26/11/2026 10:00", "2026-13-45T25:00:00", "")
STRING = pd.StringDtype("pyarrow")
COLUMNS = ("transaction_id", "msisdn", "amount_ngn", "timestamp", "channel")
CHANNELS = ["ussd", "app", "web", "pos"]
CHUNK = 1_000_000  # rows formatted at a time: bounds the temporary memory


@dataclass(frozen=True)
class SynthData:
    """Generated data: recharges (raw strings), blacklist (numbers), persons (truth)."""

    recharges: pd.DataFrame  # transaction_id, msisdn, amount_ngn, timestamp, channel
    blacklist: pd.Series  # numbers in assorted spellings
    persons: pd.DataFrame  # msisdn (E.164), blacklisted (bool)


def generate(
    subscribers: int,
    days: int,
    end_date: date,
    seed: int,
    config: PromotionConfig | None = None,
    bad_share: float = 0.01,
    duplicate_share: float = 0.005,
    blacklist_share: float = 0.01,
    *,
    recharges_per_day: float = 1.5,
    late_share: float = 0.005,
) -> SynthData:
    """Generate ``days`` days of recharges ending at the cutoff of ``end_date``.

    Rows are about ``subscribers * days * recharges_per_day``; ``late_share`` of them fall
    in the hour after the cutoff. The same arguments always give the same data.
    """
    if subscribers < 1 or days < 1:
        raise ValueError("subscribers and days must be at least 1")
    config = config or PromotionConfig()
    rng = np.random.default_rng(seed)
    national = _national_numbers(rng, subscribers)
    blacklisted = rng.random(subscribers) < blacklist_share

    owner = _recharge_owners(rng, subscribers, days, recharges_per_day)
    n = len(owner)
    cutoff = pd.Timestamp.combine(end_date, config.cutoff_time).tz_localize(config.tz)
    span = days * 86_400
    offsets = rng.integers(0, span, n, dtype=np.int32)  # seconds after the window start
    late = np.flatnonzero(rng.random(n) < late_share)
    offsets[late] = span + rng.integers(0, 3600, len(late), dtype=np.int32)
    order = np.argsort(offsets, kind="stable")  # exports come in time order
    owner, offsets = owner[order], offsets[order]
    del order
    start = int(cutoff.tz_convert("UTC").value // 10**9) - span
    # Per recharge: denomination index (high bits) and channel (low 2 bits), one byte.
    weights = DENOMINATION_WEIGHTS / DENOMINATION_WEIGHTS.sum()
    denomination = rng.choice(len(DENOMINATIONS), size=n, p=weights).astype(np.uint8)
    kinds = (denomination << 2) | rng.integers(0, len(CHANNELS), n, dtype=np.uint8)
    del denomination
    copies = 1 + (rng.random(n) < duplicate_share)  # a duplicate follows its original
    rows = np.repeat(np.arange(n, dtype=np.int64), copies)
    del copies
    chunks = [
        _chunk(np.random.default_rng([seed, i]), rows[i : i + CHUNK], owner, offsets, kinds, start,
               national, seed, config, bad_share)
        for i in range(0, len(rows), CHUNK)
    ]  # fmt: skip
    frame = pd.DataFrame(
        {
            name: _strings(pa.chunked_array([c[name] for c in chunks], type=pa.string()))
            for name in COLUMNS
        }
    )
    persons = pd.DataFrame(
        {"msisdn": _strings(_e164(national)), "blacklisted": blacklisted}
    ).sort_values("msisdn", ignore_index=True)
    listed = national[blacklisted]
    blacklist = pd.Series(_strings(_spelled_numbers(rng, listed)), name="msisdn")
    return SynthData(frame, blacklist, persons)


def _chunk(
    rng: np.random.Generator,
    rows: np.ndarray,
    owner: np.ndarray,
    offsets: np.ndarray,
    kinds: np.ndarray,
    start: int,
    national: np.ndarray,
    seed: int,
    config: PromotionConfig,
    bad_share: float,
) -> dict[str, pa.Array]:
    """The string columns of one slice of rows (bounded temporary memory)."""
    columns = {
        "transaction_id": _transaction_ids(rows, seed),
        "msisdn": _spelled_numbers(rng, national[owner[rows]]),
        "amount_ngn": pa.array(DENOMINATIONS[kinds[rows] >> 2]).cast(pa.string()),
        "timestamp": _timestamps(rng, start + offsets[rows].astype(np.int64), config),
        "channel": pa.array(CHANNELS).take(pa.array(kinds[rows] & 3)),
    }
    _spoil(rng, columns, bad_share)
    return columns


def write_synth(data: SynthData, out_dir: str | Path, fmt: str = "csv") -> dict[str, Path]:
    """Write recharges.csv|parquet and blacklist.csv into ``out_dir``; return the paths."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, not {fmt!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recharges = out / f"recharges.{fmt}"
    if fmt == "csv":
        data.recharges.to_csv(recharges, index=False)
    else:
        data.recharges.to_parquet(recharges, index=False)
    blacklist = out / "blacklist.csv"
    data.blacklist.to_frame("msisdn").to_csv(blacklist, index=False)
    return {"recharges": recharges, "blacklist": blacklist}


# ------------------------------------------------------------------------------ parts


def _national_numbers(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct 10-digit national mobile numbers (int64)."""
    space = len(PREFIXES) * 10**7
    if count > space // 2:
        raise ValueError(f"at most {space // 2:,} subscribers")
    picked = np.unique(rng.integers(0, space, int(count * 1.1) + 16))
    while len(picked) < count:  # pragma: no cover - only for near-full spaces
        picked = np.unique(np.concatenate([picked, rng.integers(0, space, count)]))
    picked = rng.permutation(picked)[:count]
    return PREFIXES[picked // 10**7] * 10**7 + picked % 10**7


def _recharge_owners(
    rng: np.random.Generator, subscribers: int, days: int, per_day: float
) -> np.ndarray:
    """Subscriber index per recharge: heavy-tailed rates (lognormal), Poisson counts."""
    sigma = 1.0
    rates = rng.lognormal(mean=np.log(per_day) - sigma**2 / 2, sigma=sigma, size=subscribers)
    counts = rng.poisson(rates * days)
    return np.repeat(np.arange(subscribers, dtype=np.int32), counts)


def _strings(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(values))


def _e164(national: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise("+234", pa.array(national).cast(pa.string()), "")


def _transaction_ids(rows: np.ndarray, seed: int) -> pa.Array:
    digits = pa.array(rows + 10**9).cast(pa.string())
    return pc.binary_join_element_wise(f"RC{seed % 1000:03d}-", digits, "")


def _spelled_numbers(rng: np.random.Generator, national: np.ndarray) -> pa.Array:
    """Numbers written in assorted spellings, formatted once per distinct (number, form)."""
    form = rng.choice(len(NUMBER_FORMATS), size=len(national), p=NUMBER_FORMAT_SHARES)
    codes, keys = pd.factorize(national * 8 + form)
    nat = pa.array(keys // 8).cast(pa.string())
    kind = keys % 8
    spaced = pc.binary_join_element_wise(
        "+234 ",
        pc.utf8_slice_codeunits(nat, 0, 3),
        " ",
        pc.utf8_slice_codeunits(nat, 3, 6),
        " ",
        pc.utf8_slice_codeunits(nat, 6, 10),
        "",
    )
    spelled = [
        pc.binary_join_element_wise("0", nat, ""),
        pc.binary_join_element_wise("234", nat, ""),
        pc.binary_join_element_wise("+234", nat, ""),
        spaced,
        nat,
    ]
    table = spelled[0]
    for i in range(1, len(spelled)):
        table = pc.if_else(pa.array(kind == i), spelled[i], table)
    return table.take(pa.array(codes))


def _timestamps(rng: np.random.Generator, seconds: np.ndarray, config: PromotionConfig) -> pa.Array:
    """ISO 8601 strings in assorted forms, formatted once per distinct (second, form)."""
    form = rng.choice(3, size=len(seconds), p=TIME_FORMAT_SHARES)
    codes, keys = pd.factorize(seconds * 4 + form)
    utc = pd.to_datetime(keys // 4, unit="s", utc=True)
    local = utc.tz_convert(config.tz).tz_localize(None)
    naive_utc = utc.tz_localize(None)
    utc_arr = pa.array(naive_utc.to_numpy().astype("datetime64[s]"))
    local_arr = pa.array(local.to_numpy().astype("datetime64[s]"))
    offset_codes, offsets = pd.factorize((local - naive_utc) // pd.Timedelta(minutes=1))
    offset_text = pa.array([_offset_text(int(m)) for m in offsets], type=pa.string())
    local_space = local_arr.cast(pa.string())  # "YYYY-MM-DD HH:MM:SS"
    local_iso = pc.replace_substring(local_space, " ", "T")
    utc_iso = pc.replace_substring(utc_arr.cast(pa.string()), " ", "T")
    with_offset = pc.binary_join_element_wise(
        local_iso, offset_text.take(pa.array(offset_codes)), ""
    )
    kind = keys % 4
    table = pc.binary_join_element_wise(utc_iso, "Z", "")
    table = pc.if_else(pa.array(kind == 1), with_offset, table)
    table = pc.if_else(pa.array(kind == 2), local_space, table)
    return table.take(pa.array(codes))


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _spoil(rng: np.random.Generator, columns: dict[str, pa.Array], share: float) -> None:
    """Make ``share`` of the rows invalid in one column each (in place in ``columns``)."""
    n = len(columns["msisdn"])
    bad = np.flatnonzero(rng.random(n) < share)
    which = rng.integers(0, 3, len(bad))
    for i, (name, values) in enumerate(
        (("msisdn", BAD_NUMBERS), ("amount_ngn", BAD_AMOUNTS), ("timestamp", BAD_TIMESTAMPS))
    ):
        rows = bad[which == i]
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        picked = np.array(values, dtype=object)[rng.integers(0, len(values), len(rows))]
        replacement = pa.array(picked.tolist(), type=pa.string())
        columns[name] = pc.replace_with_mask(columns[name], pa.array(mask), replacement)


def write_synth_stream(
    subscribers: int,
    days: int,
    end_date: date,
    out_dir: str | Path,
    seed: int,
    fmt: str = "parquet",
    config: PromotionConfig | None = None,
    chunk_subscribers: int = 500_000,
    **options: float,
) -> dict[str, Path]:
    """Generate and write recharges chunk by chunk (memory bounded by one chunk), for
    data sets larger than memory (100 M rows and more).

    Each chunk is :func:`generate` of up to ``chunk_subscribers`` subscribers with its own
    seed; transaction ids get the chunk number so they stay unique across chunks (the
    duplicates of a chunk stay duplicates). Writes recharges.parquet|csv and
    blacklist.csv into ``out_dir``; the same arguments always give the same files.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, not {fmt!r}")
    if subscribers < 1 or chunk_subscribers < 1:
        raise ValueError("subscribers and chunk_subscribers must be at least 1")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    recharges = out / f"recharges.{fmt}"
    schema = pa.schema([(name, pa.string()) for name in COLUMNS])
    writer: pq.ParquetWriter | pacsv.CSVWriter
    if fmt == "parquet":
        writer = pq.ParquetWriter(recharges, schema)
    else:
        writer = pacsv.CSVWriter(recharges, schema)
    listed: list[pa.Array] = []
    try:
        for index, first in enumerate(range(0, subscribers, chunk_subscribers)):
            count = min(chunk_subscribers, subscribers - first)
            data = generate(count, days, end_date, seed * 100_003 + index, config, **options)
            table = pa.Table.from_pandas(data.recharges, preserve_index=False).cast(schema)
            ids = pc.binary_join_element_wise(f"C{index:04d}-", table["transaction_id"], "")
            table = table.set_column(0, "transaction_id", ids)
            writer.write_table(table)
            listed.append(pa.array(data.blacklist.astype(object), pa.string()))
            del data, table
    finally:
        writer.close()
    blacklist = out / "blacklist.csv"
    numbers = pa.concat_arrays(listed) if listed else pa.array([], pa.string())
    pacsv.write_csv(pa.table({"msisdn": numbers}), blacklist)
    return {"recharges": recharges, "blacklist": blacklist}
