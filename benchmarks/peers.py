"""The eligibility rules as a user would write them with the peers: a DuckDB SQL query and
a Polars lazy query over the same recharge file (CSV or Parquet) and blacklist.

Both implement docs/eligibility-rules.md as far as the synthetic data needs (number
spellings +234/234/0/bare/spaced, plain decimal amounts, ISO 8601 times with Z, an offset
or none, duplicates first-valid-occurrence in input order, the window, the blacklist,
per-recharge points): on ``drawkit.synth`` data their participants must equal drawkit's,
which the benchmark checks. They give participants only (no row accounting, no rejected
rows written): what drawkit does on top of them is the price of auditability.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd

from drawkit.msisdn import _mobile_pattern

SEPARATORS = r"[\s\-./()]"
NATIONAL = r"^(?:\+234|00234|234)?0?(\d{10})$"
DECIMAL = r"^[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)$"
AWARE = r"(?:Z|[+-]\d\d(?::?\d\d)?)$"


def _mobile() -> str:
    return f"^(?:{_mobile_pattern().pattern})$"


def _frame(national, points, cap: int | None) -> pd.DataFrame:
    entries = points.clip(upper=cap) if cap else points
    return pd.DataFrame(
        {
            "msisdn": ("+234" + pd.Series(national).astype(str)).astype(object).to_numpy(),
            "points": points.astype("int64").to_numpy(),
            "entries": entries.astype("int64").to_numpy(),
        }
    )


# ------------------------------------------------------------------ DuckDB


def duckdb_participants(
    recharges: Path, blacklist: Path, start: datetime, cutoff: datetime, tz: str,
    naira_per_point: int = 100, cap: int | None = None, threads: int | None = None,
) -> pd.DataFrame:
    """Participants by one DuckDB SQL query."""
    import duckdb

    con = duckdb.connect(config={"threads": threads} if threads else {})
    con.execute("SET TimeZone = 'UTC'")

    def source(path: Path) -> str:
        if path.suffix == ".parquet":
            return f"read_parquet('{path}')"
        return f"read_csv('{path}', header = true, all_varchar = true)"

    national = (
        f"(CASE WHEN regexp_full_match(n, '{_mobile()}') THEN CAST(n AS BIGINT) END)"
    )
    def number(column: str) -> str:
        compact = f"regexp_replace(trim({column}), '{SEPARATORS}', '', 'g')"
        return f"regexp_extract({compact}, '{NATIONAL}', 1)"

    query = f"""
    WITH r AS (
        SELECT row_number() OVER () AS rn, nullif(trim(transaction_id), '') AS tx,
               {number("msisdn")} AS n, trim(amount_ngn) AS a, trim(timestamp) AS t
        FROM {source(recharges)}
    ), v AS (
        SELECT rn, tx, {national} AS national,
               CASE WHEN regexp_full_match(a, '{DECIMAL}')
                    THEN floor(CAST(a AS DECIMAL(38, 10)) * 100) END AS kobo,
               CASE WHEN regexp_matches(t, '{AWARE}') THEN TRY_CAST(t AS TIMESTAMPTZ)
                    ELSE timezone('{tz}', TRY_CAST(t AS TIMESTAMP)) END AS ts
        FROM r
    ), valid AS (
        SELECT * FROM v
        WHERE tx IS NOT NULL AND national IS NOT NULL AND kobo > 0
              AND kobo <= 100000000000 AND ts IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY tx ORDER BY rn) = 1
    ), banned AS (
        SELECT DISTINCT {national} AS national
        FROM (SELECT {number("msisdn")} AS n FROM {source(blacklist)})
    )
    SELECT national, sum(floor(kobo / {naira_per_point * 100}))::BIGINT AS points
    FROM valid
    WHERE ts >= TIMESTAMPTZ '{start.isoformat()}' AND ts < TIMESTAMPTZ '{cutoff.isoformat()}'
      AND national NOT IN (SELECT national FROM banned WHERE national IS NOT NULL)
      AND floor(kobo / {naira_per_point * 100}) >= 1
    GROUP BY national HAVING points >= 1 ORDER BY national
    """  # noqa: S608
    out = con.sql(query).df()
    con.close()
    return _frame(out["national"], out["points"], cap)


# ------------------------------------------------------------------ Polars


def polars_participants(
    recharges: Path, blacklist: Path, start: datetime, cutoff: datetime, tz: str,
    naira_per_point: int = 100, cap: int | None = None,
) -> pd.DataFrame:
    """Participants by one Polars lazy query (streaming engine)."""
    import polars as pl

    def scan(path: Path) -> pl.LazyFrame:
        if path.suffix == ".parquet":
            return pl.scan_parquet(path)
        return pl.scan_csv(path, infer_schema=False)

    def national(column: str) -> pl.Expr:
        n = (
            pl.col(column).str.strip_chars().str.replace_all(SEPARATORS, "")
            .str.extract(NATIONAL, 1)
        )
        return pl.when(n.str.contains(_mobile())).then(n.cast(pl.Int64)).otherwise(None)

    t = pl.col("timestamp").str.strip_chars()
    naive = pl.coalesce(
        t.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False),
        t.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False),
    ).dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
    aware = pl.coalesce(
        t.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%SZ", strict=False),
        t.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%:z", strict=False),
    )
    a = pl.col("amount_ngn").str.strip_chars()
    kobo = (
        pl.when(a.str.contains(DECIMAL))
        .then((a.cast(pl.Decimal(38, 10), strict=False) * 100).floor().cast(pl.Int64))
        .otherwise(None)
    )
    unit = naira_per_point * 100
    banned = scan(blacklist).select(national("msisdn").alias("national")).drop_nulls().unique()
    rows = (
        scan(recharges)
        .with_columns(pl.col(c).cast(pl.String) for c in ("transaction_id", "msisdn",
                                                          "amount_ngn", "timestamp"))
        .select(
            pl.col("transaction_id").str.strip_chars().replace("", None).alias("tx"),
            national("msisdn").alias("national"),
            kobo.alias("kobo"),
            pl.when(t.str.contains(AWARE)).then(aware)
            .otherwise(naive.dt.convert_time_zone("UTC")).alias("ts"),
        )
        .filter(
            pl.col("tx").is_not_null() & pl.col("national").is_not_null()
            & (pl.col("kobo") > 0) & (pl.col("kobo") <= 100_000_000_000)
            & pl.col("ts").is_not_null()
        )
        .filter(pl.col("tx").is_first_distinct())
        .filter((pl.col("ts") >= start) & (pl.col("ts") < cutoff))
        .join(banned, on="national", how="anti")
        .with_columns((pl.col("kobo") // unit).alias("points"))
        .filter(pl.col("points") >= 1)
        .group_by("national").agg(pl.col("points").sum())
        .filter(pl.col("points") >= 1)
        .sort("national")
    )
    out = rows.collect(engine="streaming").to_pandas()
    return _frame(out["national"], out["points"], cap)
