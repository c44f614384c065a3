"""PostHogDataSource: participants from PostHog, results published back as events.

Both strategies apply docs/eligibility-rules.md exactly, with the same reasons as the
local path (:mod:`drawkit.posthog.rules` holds the HogQL and Python halves):

* ``"hogql"`` (default): PostHog does the work. A first query lists the few values
  HogQL cannot decide (distinct ids that are not E.164, numbers written with exponents),
  which Python decides once each; then one HogQL aggregation, paged by distinct-id
  bucket (many subscribers per row, so a daily run stays inside PostHog's 120 queries an
  hour), returns per distinct id its counted rows and kobo, and whether the person is
  blacklisted now (the persons table, never event-time person properties); one query
  accounts for every recharge event; one lists the rejected rows by transaction id.
* ``"cohort"``: the daily cohort is built (or reused), its persons are paged through,
  their recharge events in the window are fetched with HogQL, and the local rules run on
  them (:func:`drawkit.eligibility.apply_rules`). Its summary accounts for the members'
  events inside the window only (the cohort has already left out the rest).

Every read whose answer is written or certified asks PostHog for ``force_blocking`` (a
``blocking`` answer may be hours old), and every query of one run reads the same
snapshot of the events (``created_at`` up to the run's start). Duplicate events (one
uuid stored twice until PostHog's background merge) are read once.
"""

# HogQL text is built from literals quoted by _q and property names checked by _NAME.
# ruff: noqa: S608
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from drawkit.config import PromotionConfig
from drawkit.contract import (
    DRAW_WINNER,
    DRAWKIT_DISTINCT_ID,
    LEDGER_HEAD,
    MONITOR_PREFIX,
    RESULT_EVENTS,
    SIGNED_EVENTS,
    DrawOutcome,
    ResultEvent,
    ResultSigner,
    check_published,
    ledger_head_event,
    result_events,
)
from drawkit.eligibility import (
    AMOUNT_TOO_LARGE,
    BLACKLISTED,
    DUPLICATE,
    INVALID_MSISDN,
    MISSING_AMOUNT,
    MISSING_TRANSACTION_ID,
    NON_NUMERIC_AMOUNT,
    NON_POSITIVE_AMOUNT,
    OUTSIDE_WINDOW,
    RULES,
    UNDER_ONE_POINT,
    DrawWindow,
    EligibilityResult,
    EligibilitySummary,
    apply_rules,
    draw_window,
    empty_participants,
)
from drawkit.errors import ConfigError, InputError, PostHogError
from drawkit.msisdn import invalid_reason, mask, normalize, normalize_series
from drawkit.posthog.client import PostHogClient, build_event
from drawkit.posthog.rules import (
    FAST_JSON_MAX_LENGTH,
    FAST_JSON_NUMBER,
    PLAIN_DECIMAL,
    TRIM_RE2,
    classify_json_amount,
    e164_pattern,
    plain_json_number,
)
from drawkit.redact import redact
from drawkit.sources.base import PublishReport
from drawkit.sources.posthog_cohort import CohortGenerator

logger = logging.getLogger("drawkit.sources.posthog")

STRATEGIES = ("hogql", "cohort")
PAGE_SIZE = 50_000  # PostHog's cap on rows per HogQL query
ID_CHUNK = 5_000  # distinct ids per events query on the cohort path
BUCKET_TAIL = 3  # a points row packs the distinct ids that differ only in their last 3 chars
PACKED_TARGET = 1_000_000  # subscribers per points query (about 40 MB of JSON)
FIRST_PACKED_ROWS = 1_000  # rows of the first points page, before the density is known
ODD_LIMIT = 50_000  # distinct odd (distinct id, amount) pairs one run can decide in Python
FORCE = "force_blocking"
NO_PERSON = {"$process_person_profile": False}
_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_OK = "ok"
_CHECKED = "checked_in_python"  # an odd amount Python decided valid: its kobo come from a lookup


def _q(value: str) -> str:
    """A HogQL string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stamp(moment: datetime) -> str:
    """A DateTime literal of an aware instant, in UTC (one argument: every PostHog)."""
    utc = pd.Timestamp(moment).tz_convert("UTC")
    return f"toDateTime({_q(utc.strftime('%Y-%m-%dT%H:%M:%S.%fZ'))})"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(_q(v) for v in values)})"


class HogQLBuilder:
    """The HogQL text of the queries, from the promotion's event and property names.

    ``invalid_ids`` maps distinct ids that are not numbers to their rejection reason;
    ``odd_amounts`` maps raw JSON amounts HogQL cannot decide to (reason, kobo);
    ``snapshot`` bounds ``created_at`` so every query of a run reads the same events.
    """

    def __init__(self, config: PromotionConfig, *, snapshot: datetime | None = None,
                 invalid_ids: Mapping[str, str] | None = None,
                 odd_amounts: Mapping[str, tuple[str | None, int]] | None = None) -> None:
        self.config = config
        names = config.posthog
        for key in ("amount_property", "transaction_property", "blacklist_property"):
            if not _NAME.match(getattr(names, key)):
                raise ConfigError(
                    f"'posthog.{key}' {getattr(names, key)!r} must be a plain property name "
                    "(letters, digits, _ or $) to be used in HogQL"
                )
        self.names = names
        self.snapshot = snapshot
        self.invalid_ids = dict(invalid_ids or {})
        self.odd_amounts = dict(odd_amounts or {})

    def with_lookups(self, snapshot: datetime, invalid_ids: Mapping[str, str],
                     odd_amounts: Mapping[str, tuple[str | None, int]]) -> HogQLBuilder:
        """The same builder with a run's snapshot and Python decisions."""
        return HogQLBuilder(self.config, snapshot=snapshot, invalid_ids=invalid_ids,
                            odd_amounts=odd_amounts)

    # -------------------------------------------------------------- per event

    def read(self) -> str:
        """Recharge events, one row per stored event (duplicates not yet merged by
        PostHog read once), with the raw JSON text of the transaction id and amount."""
        n = self.names
        where = f"event = {_q(n.recharge_event)}"
        if self.snapshot is not None:
            where += f" AND created_at <= {_stamp(self.snapshot)}"
        tid, amount = _q(n.transaction_property), _q(n.amount_property)
        return (
            "SELECT toString(uuid) AS eid, distinct_id AS did, min(timestamp) AS ts, "
            f"any(ifNull(JSONExtractRaw(properties, {tid}), '')) AS tr, "
            f"any(ifNull(JSONExtractString(properties, {tid}), '')) AS tr_text, "
            f"any(ifNull(JSONExtractRaw(properties, {amount}), '')) AS ar, "
            f"any(ifNull(JSONExtractString(properties, {amount}), '')) AS ar_text "
            f"FROM events WHERE {where} GROUP BY eid, did"
        )

    def cleaned(self) -> str:
        """Trimmed transaction id, the amount's text (trimmed) and as written."""
        trim = _q(f"^{TRIM_RE2}+|{TRIM_RE2}+$")
        return (
            "SELECT eid, did, ts, ar, startsWith(ar, '\"') AS quoted, "
            "if(startsWith(ar, '\"'), ar_text, ar) AS amount_written, "
            f"replaceRegexpAll(if(tr = 'null', '', if(startsWith(tr, '\"'), tr_text, tr)), "
            f"{trim}, '') AS tid, "
            f"if(startsWith(ar, '\"'), replaceRegexpAll(ar_text, {trim}, ''), ar) AS at "
            f"FROM ({self.read()})"
        )

    def parts(self) -> str:
        """The amount's sign, integer digits (no leading zeros) and fraction digits."""
        body = "replaceRegexpOne(at, '^[+-]', '')"
        dot = f"position({body}, '.')"
        return (
            "SELECT eid, did, ts, ar, quoted, amount_written, tid, at, "
            f"match(at, {_q(PLAIN_DECIMAL)}) AS plain, startsWith(at, '-') AS negative, "
            f"replaceRegexpOne(if({dot} > 0, substring({body}, 1, {dot} - 1), {body}), "
            "'^0+', '') AS ipart, "
            f"if({dot} > 0, substring({body}, {dot} + 1, 1000), '') AS fpart "
            f"FROM ({self.cleaned()})"
        )

    def typed(self) -> str:
        """Each event with its transaction id, kobo and the first rejection reason that
        applies (``'ok'`` for a valid row), in the order of docs/eligibility-rules.md."""
        zero = "(ipart = '' AND match(fpart, '^0*$'))"
        too_large = (
            "(lengthUTF8(ipart) > 10 OR (lengthUTF8(ipart) = 10 AND (ipart > '1000000000' "
            "OR (ipart = '1000000000' AND NOT match(fpart, '^0*$')))))"
        )
        branches = ["tid = ''", _q(MISSING_TRANSACTION_ID)]
        by_reason: dict[str, list[str]] = {}
        for did, why in sorted(self.invalid_ids.items()):
            by_reason.setdefault(f"{INVALID_MSISDN}: {why}", []).append(did)
        for reason, ids in sorted(by_reason.items()):
            branches += [_in("did", ids), _q(reason)]
        branches += ["ar = '' OR ar = 'null' OR (quoted AND at = '')", _q(MISSING_AMOUNT)]
        odd: dict[str, list[str]] = {}
        for raw, (why, _) in sorted(self.odd_amounts.items()):
            odd.setdefault(why or _CHECKED, []).append(raw)
        for reason, raws in sorted(odd.items()):
            branches += [_in("ar", raws), _q(_OK if reason == _CHECKED else reason)]
        fast = (f"(quoted OR (lengthUTF8(ar) <= {FAST_JSON_MAX_LENGTH} "
                f"AND match(ar, {_q(FAST_JSON_NUMBER)})))")
        branches += [f"NOT plain OR not({fast})", _q(NON_NUMERIC_AMOUNT),
                     f"negative OR {zero}", _q(NON_POSITIVE_AMOUNT),
                     too_large, _q(AMOUNT_TOO_LARGE)]
        reason = f"multiIf({', '.join(branches)}, {_q(_OK)})"
        digits = ("toInt(concat(if(ipart = '', '0', ipart), "
                  "substring(concat(fpart, '00'), 1, 2)))")
        kobo = f"if(plain AND not({too_large}), {digits}, 0)"
        by_kobo: dict[int, list[str]] = {}
        for raw, (why, cents) in sorted(self.odd_amounts.items()):
            if why is None:
                by_kobo.setdefault(cents, []).append(raw)
        for cents, raws in sorted(by_kobo.items()):
            kobo = f"if({_in('ar', raws)}, {int(cents)}, {kobo})"
        return (
            f"SELECT eid, did, ts, tid, amount_written, {reason} AS reason, "
            f"ifNull({kobo}, 0) AS kobo FROM ({self.parts()})"
        )

    def odd_values(self, limit: int = ODD_LIMIT + 1) -> str:
        """Distinct (distinct id, raw amount) pairs that HogQL cannot decide alone."""
        odd_amount = (f"(NOT startsWith(ar, '\"') AND ar != '' AND ar != 'null' AND "
                      f"not(lengthUTF8(ar) <= {FAST_JSON_MAX_LENGTH} "
                      f"AND match(ar, {_q(FAST_JSON_NUMBER)})))")
        odd_id = f"NOT match(did, {_q(e164_pattern())})"
        return (
            f"SELECT did, if({odd_amount}, ar, '') AS odd_amount, count() AS n "
            f"FROM ({self.read()}) WHERE {odd_id} OR {odd_amount} "
            f"GROUP BY did, odd_amount ORDER BY did, odd_amount LIMIT {int(limit)}"
        )

    # -------------------------------------------------------------- aggregates

    def firsts(self) -> str:
        """One row per valid transaction id: its earliest event (time, then uuid)
        decides the subscriber and the amount; ``n`` counts its rows."""
        return (
            "SELECT tid, count() AS n, argMin(did, tuple(ts, eid)) AS did, "
            "argMin(kobo, tuple(ts, eid)) AS kobo, min(ts) AS first_ts "
            f"FROM ({self.typed()}) WHERE reason = {_q(_OK)} GROUP BY tid"
        )

    def _inside(self, window: DrawWindow, column: str = "first_ts") -> str:
        inside = f"{column} < {_stamp(window.cutoff)}"
        if window.start is not None:
            inside = f"{column} >= {_stamp(window.start)} AND {inside}"
        return f"({inside})"

    def banned(self) -> str:
        """Distinct ids whose person is blacklisted now (current person properties)."""
        raw = f"lower(JSONExtractRaw(properties, {_q(self.names.blacklist_property)}))"
        return (
            "SELECT distinct_id FROM person_distinct_ids WHERE person_id IN "
            f"(SELECT id FROM persons WHERE {raw} = 'true' OR {raw} = '\"true\"')"
        )

    def per_id(self, window: DrawWindow, did: str | None = None) -> str:
        """Per distinct id with counted-candidate rows in the window: rows, kobo, points
        earned per recharge, rows earning a point, blacklisted now."""
        unit = self.config.naira_per_point * 100
        who = f" AND did = {_q(did)}" if did is not None else ""
        return (
            f"SELECT did, count() AS rows, sum(kobo) AS kobo_sum, "
            f"sum(intDiv(kobo, {unit})) AS points, countIf(kobo >= {unit}) AS point_rows, "
            f"did IN ({self.banned()}) AS banned "
            f"FROM ({self.firsts()}) WHERE {self._inside(window)}{who} GROUP BY did"
        )

    def points(self, window: DrawWindow, after: str = "", limit: int = FIRST_PACKED_ROWS
               ) -> str:
        """Per-id rows packed by bucket (the distinct id less its last 3 characters; a
        distinct id that is not ASCII is its own bucket), keyset-paged by bucket."""
        bucket = (f"if(match(did, '^[ -~]+$'), substring(did, 1, length(did) - {BUCKET_TAIL}), "
                  "did)")
        return (
            f"SELECT bucket, groupArray(tuple(did, rows, kobo_sum, points, point_rows, "
            f"banned)) AS members FROM (SELECT *, {bucket} AS bucket "
            f"FROM ({self.per_id(window)})) WHERE bucket > {_q(after)} "
            f"GROUP BY bucket ORDER BY bucket LIMIT {int(limit)}"
        )

    def accounting(self, window: DrawWindow) -> str:
        """Per reason: rows, distinct transaction ids, ids first seen outside the window."""
        return (
            "SELECT reason, sum(n) AS row_count, count() AS tids, "
            f"countIf(not({self._inside(window)})) AS outside "
            "FROM (SELECT tid, reason, count() AS n, min(ts) AS first_ts "
            f"FROM ({self.typed()}) GROUP BY tid, reason) "
            "GROUP BY reason ORDER BY reason LIMIT 1000"
        )

    def rejected(self, after: str = "", limit: int = PAGE_SIZE) -> str:
        """The rejected rows, keyset-paged by event uuid."""
        return (
            "SELECT eid, tid, did, amount_written, ts, reason "
            f"FROM ({self.typed()}) WHERE reason != {_q(_OK)} AND eid > {_q(after)} "
            f"ORDER BY eid LIMIT {int(limit)}"
        )

    def window_events(self, window: DrawWindow, ids: Sequence[str], after: str,
                      limit: int = PAGE_SIZE) -> str:
        """Raw recharge events of some persons inside the window, keyset-paged by uuid."""
        inside = self._inside(window, "ts")
        return (
            "SELECT eid, tr, tr_text, did, ar, ar_text, ts "
            f"FROM ({self.read()}) WHERE {_in('did', ids)} AND {inside} "
            f"AND eid > {_q(after)} ORDER BY eid LIMIT {int(limit)}"
        )

    def recorded(self, draw_id: str, events: Sequence[str] = RESULT_EVENTS) -> str:
        """The result events of a draw, each uuid once."""
        return (
            "SELECT eid, any(event) AS event, any(distinct_id) AS distinct_id, "
            "any(tier) AS tier, any(role) AS role, any(pos) AS pos, any(ticket) AS ticket, "
            "any(draw_order) AS draw_order "
            "FROM (SELECT toString(uuid) AS eid, event, distinct_id, "
            "JSONExtractString(properties, 'draw_id') AS draw, "
            "JSONExtractString(properties, 'tier') AS tier, "
            "JSONExtractString(properties, 'role') AS role, "
            "JSONExtractRaw(properties, 'position') AS pos, "
            "JSONExtractRaw(properties, 'ticket') AS ticket, "
            "JSONExtractRaw(properties, 'draw_order') AS draw_order FROM events WHERE "
            f"{_in('event', events)}) WHERE draw = {_q(draw_id)} "
            f"GROUP BY eid ORDER BY eid LIMIT {PAGE_SIZE}"
        )

    def published(self, draw_id: str) -> str:
        """Every stored copy of a draw's signed events (results and ledger heads) with all
        their properties, so each copy's signature can be checked."""
        return (
            "SELECT toString(uuid) AS eid, event, distinct_id, properties FROM events "
            f"WHERE {_in('event', SIGNED_EVENTS)} "
            f"AND JSONExtractString(properties, 'draw_id') = {_q(draw_id)} "
            f"ORDER BY eid LIMIT {PAGE_SIZE}"
        )


class PostHogDataSource:
    """A DrawDataSource over one PostHog project (see the module docstring)."""

    def __init__(
        self,
        client: PostHogClient,
        config: PromotionConfig | None = None,
        strategy: str = "hogql",
        *,
        page_size: int = PAGE_SIZE,
        cohort_generator: Any = None,
        monitor: bool = True,
        visibility_seconds: float = 120.0,
        poll_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        not_sent: pd.DataFrame | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
        self.client = client
        self.config = config or PromotionConfig()
        self.strategy = strategy
        self.page_size = min(int(page_size), PAGE_SIZE)
        self.hogql = HogQLBuilder(self.config)
        self._cohorts = cohort_generator
        self.monitor = monitor
        self.visibility_seconds = visibility_seconds
        self.poll_seconds = poll_seconds
        self._sleep, self._clock = sleep, clock
        self.not_sent = not_sent  # rows the upload could not send: counted as rejected

    # ------------------------------------------------------------------ participants

    def get_eligible_participants(self, draw_date: date) -> EligibilityResult:
        """Eligible participants for ``draw_date`` with the accounting of every event
        (and of every row the upload could not send, when the source was given them)."""
        started = time.perf_counter()
        charged = self.client.queries_charged()
        if self.strategy == "hogql":
            result = self._participants_hogql(draw_date)
        else:
            result = self._participants_cohort(draw_date)
        if self.not_sent is not None:
            result = with_rows_not_sent(result, self.not_sent)
        s = result.summary
        self.track(
            "cohort_built",
            {
                "draw_date": draw_date.isoformat(),
                "strategy": self.strategy,
                "participants": s.participants,
                "total_entries": s.total_entries,
                "rows_in": s.rows_in,
                "hogql_queries": self.client.queries_charged() - charged,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return result

    def _query(self, hogql: str) -> pd.DataFrame:
        """A correctness read: never a cached answer."""
        return self.client.query(hogql, refresh=FORCE).to_frame()

    def _keyset_pages(self, query: Callable[[str, int], str], key: str,
                      next_limit: Callable[[pd.DataFrame, int], int] | None = None,
                      first_limit: int | None = None) -> Iterator[pd.DataFrame]:
        """Pages of a HogQL query ordered by ``key``: each asks for rows after the last key
        seen, until a page comes back short (PostHog gives no hasMore with a LIMIT)."""
        after, limit = "", first_limit or self.page_size
        while True:
            frame = self._query(query(after, limit))
            if not frame.empty:
                yield frame
            if len(frame) < limit:
                return
            after = str(frame[key].iloc[-1])
            if next_limit is not None:
                limit = next_limit(frame, limit)

    def _builder_for_run(self) -> HogQLBuilder:
        """The run's snapshot and the Python decisions for values HogQL cannot decide."""
        snapshot = datetime.now(UTC)
        probe = self.hogql.with_lookups(snapshot, {}, {})
        odd = self._query(probe.odd_values())
        if len(odd) > ODD_LIMIT:
            raise InputError(
                f"more than {ODD_LIMIT:,} distinct recharge values in PostHog are distinct "
                "ids that are not E.164 numbers or amounts written with exponents: capture "
                "numbers as +234... (drawkit's upload does) and amounts as plain decimals"
            )
        invalid: dict[str, str] = {}
        for did in odd["did"].astype(str).unique() if not odd.empty else []:
            why = invalid_reason(did)
            if why:
                invalid[did] = why
        amounts: dict[str, tuple[str | None, int]] = {}
        for raw in (odd["odd_amount"].astype(str).unique() if not odd.empty else []):
            if raw:
                amounts[raw] = classify_json_amount(raw)
        return self.hogql.with_lookups(snapshot, invalid, amounts)

    def _participants_hogql(self, draw_date: date) -> EligibilityResult:
        window = draw_window(self.config, draw_date)
        builder = self._builder_for_run()
        per_id = self._per_id_rows(builder, window)
        acc = self._query(builder.accounting(window))
        rejected = self._rejected_rows(builder)
        return _hogql_result(per_id, acc, rejected, window, draw_date, self.config)

    def _per_id_rows(self, builder: HogQLBuilder, window: DrawWindow) -> pd.DataFrame:
        """Per distinct id rows of the points query, unpacked from their buckets."""
        target = max(self.page_size, PACKED_TARGET * self.page_size // PAGE_SIZE)

        def next_limit(frame: pd.DataFrame, _: int) -> int:
            per_row = max(1.0, frame["members"].map(len).mean())
            return int(min(self.page_size, max(FIRST_PACKED_ROWS, target / per_row)))

        first = min(self.page_size, FIRST_PACKED_ROWS)
        pages = self._keyset_pages(lambda after, limit: builder.points(window, after, limit),
                                   "bucket", next_limit, first)
        members = [m for page in pages for packed in page["members"] for m in packed]
        columns = ["did", "rows", "kobo_sum", "points", "point_rows", "banned"]
        frame = pd.DataFrame(members, columns=columns)
        for column in columns[1:5]:
            frame[column] = pd.to_numeric(frame[column]).fillna(0).astype(np.int64)
        frame["banned"] = frame["banned"].map(_truthy).astype(bool)
        return frame

    def _rejected_rows(self, builder: HogQLBuilder) -> pd.DataFrame:
        pages = list(self._keyset_pages(lambda after, limit: builder.rejected(after, limit),
                                        "eid"))
        columns = ["eid", "tid", "did", "amount_written", "ts", "reason"]
        raw = pd.concat(pages, ignore_index=True) if pages else pd.DataFrame(columns=columns)
        rejected = pd.DataFrame({
            "transaction_id": raw["tid"].astype(object),
            "msisdn": raw["did"].astype(object),
            "amount_ngn": raw["amount_written"].astype(object),
            "timestamp": pd.to_datetime(raw["ts"], utc=True, format="ISO8601"),
            "reason": raw["reason"].astype(object),
        })
        return rejected.sort_values(["timestamp", "transaction_id"], kind="stable",
                                    ignore_index=True)

    def _participants_cohort(self, draw_date: date) -> EligibilityResult:
        generator = self._cohorts or CohortGenerator(self.client, self.config)
        cohort = generator.ensure_daily_cohort(draw_date)
        window = draw_window(self.config, draw_date)
        builder = self.hogql.with_lookups(datetime.now(UTC), {}, {})
        ids: list[str] = []
        frames: list[pd.DataFrame] = []
        for person in self.client.iter_cohort_persons(int(cohort["id"])):
            ids.extend(person.get("distinct_ids") or [])
            if len(ids) >= ID_CHUNK:
                frames.extend(self._window_events(builder, window, ids[:ID_CHUNK]))
                ids = ids[ID_CHUNK:]
        if ids:
            frames.extend(self._window_events(builder, window, ids))
        columns = ["eid", "tr", "tr_text", "did", "ar", "ar_text", "ts"]
        rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        rows = rows.drop_duplicates("eid")
        rows["ts"] = pd.to_datetime(rows["ts"], utc=True, format="ISO8601")
        rows = rows.sort_values(["ts", "eid"], kind="stable", ignore_index=True)
        recharges = pd.DataFrame(
            {
                "transaction_id": [_json_text(r, t) for r, t in zip(rows["tr"], rows["tr_text"],
                                                                    strict=True)],
                "msisdn": rows["did"].astype(object),
                "amount_ngn": [_json_text(r, t) for r, t in zip(rows["ar"], rows["ar_text"],
                                                                strict=True)],
                "timestamp": rows["ts"],
            }
        )
        return apply_rules(recharges, self.config, draw_date)

    def _window_events(self, builder: HogQLBuilder, window: DrawWindow,
                       ids: list[str]) -> Iterator[pd.DataFrame]:
        return self._keyset_pages(
            lambda after, limit: builder.window_events(window, ids, after, limit), "eid"
        )

    def get_participant_entries(self, msisdn: str, draw_date: date) -> int:
        """Entries of one subscriber in the draw of ``draw_date`` (0 if not eligible)."""
        e164 = normalize(msisdn)
        result = self.get_eligible_participants(draw_date) if self.strategy == "cohort" \
            else None
        if result is not None:
            found = result.participants.loc[result.participants["msisdn"] == e164, "entries"]
            return int(found.sum())
        window = draw_window(self.config, draw_date)
        builder = self.hogql.with_lookups(datetime.now(UTC), {}, {})
        rows = self._query(builder.per_id(window, did=e164) + " LIMIT 1")
        if rows.empty:
            return 0
        rows["banned"] = rows["banned"].map(_truthy)
        participants, _ = _participants_from_ids(rows, self.config)
        return int(participants["entries"].sum())

    # ------------------------------------------------------------------ publishing

    def _draw_events(self, outcome: DrawOutcome,
                     events: Sequence[ResultEvent]) -> list[dict[str, Any]]:
        """Signed events as capture payloads, stamped at the draw's cutoff; events of the
        draw itself (summary, unfilled prize, ledger head) create no person."""
        stamp = draw_window(self.config, outcome.draw_date).cutoff
        return [
            build_event(
                e.event,
                e.distinct_id,
                {**e.properties, **(NO_PERSON if e.distinct_id == DRAWKIT_DISTINCT_ID else {})},
                timestamp=stamp,
                uuid=e.uuid,
            )
            for e in events
        ]

    def _recorded_uuids(self, draw_id: str) -> set[str]:
        """The uuids PostHog shows for a draw's signed events (visibility only: whether an
        event is the real one is decided on its content and signature)."""
        return set(self._query(self.hogql.recorded(draw_id, SIGNED_EVENTS))["eid"].astype(str))

    def record_draw_result(self, result: DrawOutcome, signer: ResultSigner) -> PublishReport:
        """Capture draw_completed, one draw_winner per winner/reserve, one draw_event per
        ledger event of the draw (+ the ledger head), each signed, unless PostHog already
        holds it exactly as signed; then wait (bounded by ``visibility_seconds``) until
        PostHog shows every event.

        Any other event PostHog holds for the draw (a forgery sent with the public project
        key) is reported by name in ``forged``, never taken for the real one. Re-sending an
        event PostHog has not shown yet is safe: the same uuid, day, event and distinct id
        collapse into one. The report says whether all became visible.
        """
        events = result_events(result, signer)
        head = ledger_head_event(result, signer)
        everything = [*events, *([head] if head else [])]
        check = check_published(everything, self.get_published_events(result.draw_id),
                                signer.public_key)
        missing = [e for e in everything if e.uuid not in check.recorded]
        if missing:
            self.client.capture_batch(self._draw_events(result, missing))
        sent = sum(1 for e in missing if e.event != LEDGER_HEAD)
        wanted = {e.uuid for e in everything}
        visible, waited = self._wait_until_visible(result.draw_id, wanted, set(check.recorded))
        report = PublishReport(result.draw_id, sent=sent, already_recorded=len(events) - sent,
                               visible=visible, waited_seconds=round(waited, 3),
                               forged=check.forged, head=result.ledger_head,
                               head_sent=head is not None and head.uuid not in check.recorded)
        if check.forged:
            logger.warning("draw %s: %d published event(s) are not the real result: %s",
                           result.draw_id, len(check.forged), "; ".join(check.forged))
        if not visible:
            logger.warning(
                "draw %s: %d of %d result events not yet visible in PostHog after %.0fs "
                "(ingestion lag); run the audit's reconciliation again later",
                result.draw_id, len(wanted - self._recorded_uuids(result.draw_id)),
                len(wanted), waited,
            )
        self.track("results_published", {"draw_id": result.draw_id, "sent": report.sent,
                                         "already_recorded": report.already_recorded,
                                         "visible": visible, "forged": len(check.forged)})
        return report

    def _wait_until_visible(self, draw_id: str, wanted: set[str],
                            seen: set[str]) -> tuple[bool, float]:
        """Poll (each poll is a charged query: the interval doubles, up to 30 s) until
        PostHog shows every wanted uuid or ``visibility_seconds`` have passed."""
        started, interval = self._clock(), self.poll_seconds
        while not wanted <= seen:
            waited = self._clock() - started
            if waited >= self.visibility_seconds:
                return False, waited
            self._sleep(min(interval, self.visibility_seconds - waited))
            interval = min(interval * 2, 30.0)
            seen = self._recorded_uuids(draw_id)
        return True, self._clock() - started

    def get_published_events(self, draw_id: str) -> list[ResultEvent]:
        """Every stored copy of ``draw_id``'s signed events (results and ledger heads, as
        PostHog holds them, forged ones included; never a cached answer)."""
        raw = self._query(self.hogql.published(draw_id))
        return [
            ResultEvent(str(event), str(distinct_id), str(eid), _properties(props))
            for eid, event, distinct_id, props in zip(
                raw["eid"], raw["event"], raw["distinct_id"], raw["properties"], strict=True
            )
        ]

    def get_published_results(self, draw_id: str) -> pd.DataFrame:
        """Recorded events of ``draw_id`` (each uuid once, never a cached answer): event,
        uuid, msisdn (E.164; '' for the summary), msisdn_masked, tier, role, position,
        ticket, in draw order."""
        raw = self._query(self.hogql.recorded(draw_id))
        winner = raw["event"] == DRAW_WINNER
        frame = pd.DataFrame(
            {
                "event": raw["event"].astype(str),
                "uuid": raw["eid"].astype(str),
                "msisdn": raw["distinct_id"].where(winner, "").astype(str),
                "msisdn_masked": raw["distinct_id"].where(winner, "").map(
                    lambda m: mask(m) if m else ""
                ),
                "tier": raw["tier"].fillna("").astype(str),
                "role": raw["role"].fillna("").astype(str),
                "position": _ints(raw["pos"]).fillna(0).astype(np.int64),
                "ticket": _ints(raw["ticket"]).astype("Int64"),
                "draw_order": _ints(raw["draw_order"]).fillna(0).astype(np.int64),
            }
        )
        return frame.sort_values("draw_order", ignore_index=True).drop(columns="draw_order")

    # ------------------------------------------------------------------ monitoring

    def track(self, event: str, properties: Mapping[str, Any] | None = None) -> bool:
        """Capture a monitoring event (cohort_built, draw_committed, draw_completed,
        results_published). Never breaks the caller: failures are logged, False returned."""
        if not self.monitor:
            return False
        props = {
            k: redact(v) if isinstance(v, str) else v for k, v in (properties or {}).items()
        }
        props.update({"$process_person_profile": False, "promotion": self.config.name})
        try:
            self.client.capture_event(f"{MONITOR_PREFIX}{event}", DRAWKIT_DISTINCT_ID, props)
        except (PostHogError, ConfigError) as exc:
            logger.warning("monitoring event %s not sent: %s", event, redact(str(exc)))
            return False
        return True


def _properties(value: object) -> dict[str, Any]:
    """An event's properties as HogQL returns them (JSON text, or already an object)."""
    if isinstance(value, dict):
        return dict(value)
    try:
        parsed = json.loads(str(value))
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _truthy(value: object) -> bool:
    return value is True or value == 1 or str(value).lower() in ("true", "1")


def _ints(values: pd.Series) -> pd.Series:
    """Integers from raw JSON number text ('' or null → NA)."""
    return pd.to_numeric(values.replace({"": None, "null": None}), errors="coerce")


def _json_text(raw: object, text: object) -> object:
    """What the local rules read for a property given as raw JSON: a string's text, a
    number's plain decimal (no exponent), None when absent or null."""
    raw = "" if raw is None else str(raw)
    if raw in ("", "null"):
        return None
    if raw.startswith('"'):
        return "" if text is None else str(text)
    plain = plain_json_number(raw)
    return plain if plain is not None else raw


def _participants_from_ids(per_id: pd.DataFrame, config: PromotionConfig
                           ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Participants from per-distinct-id rows (spellings of one number merged in Python):
    the blacklist, points and the entry cap as the local rules apply them."""
    if per_id.empty:
        return empty_participants(), {"blacklisted_rows": 0, "blacklisted_people": 0,
                                      "under_rows": 0, "under_people": 0, "counted": 0}
    e164, _ = normalize_series(per_id["did"].astype(object))
    frame = per_id.assign(msisdn=e164.astype(object))
    grouped = frame.groupby("msisdn", sort=True).agg(
        rows=("rows", "sum"), kobo_sum=("kobo_sum", "sum"), points=("points", "sum"),
        point_rows=("point_rows", "sum"), banned=("banned", "max"),
    )
    unit = config.naira_per_point * 100
    banned = grouped["banned"].astype(bool)
    live = grouped[~banned]
    if config.points_mode == "summed":
        points = live["kobo_sum"] // unit
        counted_rows = live["rows"].where(points >= 1, 0)
    else:
        points = live["points"]
        counted_rows = live["point_rows"]
    keep = points >= 1
    participants = pd.DataFrame({
        "msisdn": live.index[keep].astype(object),
        "points": points[keep].to_numpy(np.int64),
    })
    cap = config.entry_cap
    entries = participants["points"].clip(upper=cap) if cap is not None else participants["points"]
    participants["entries"] = entries.to_numpy(np.int64)
    stats = {
        "blacklisted_rows": int(grouped.loc[banned, "rows"].sum()),
        "blacklisted_people": int(banned.sum()),
        "under_rows": int((live["rows"] - counted_rows).sum()),
        "under_people": int((~keep).sum()),
        "counted": int(counted_rows.sum()),
    }
    return participants.reset_index(drop=True), stats


def _hogql_result(per_id: pd.DataFrame, acc: pd.DataFrame, rejected: pd.DataFrame,
                  window: DrawWindow, draw_date: date, config: PromotionConfig
                  ) -> EligibilityResult:
    """The HogQL path's participants and row accounting (the local rules' shape)."""
    participants, stats = _participants_from_ids(per_id, config)
    by = {str(r["reason"]): r for _, r in acc.iterrows()}
    ok = by.get(_OK)

    def n(row: Any, key: str) -> int:
        return 0 if row is None else int(row[key] or 0)

    excluded = {
        DUPLICATE: n(ok, "row_count") - n(ok, "tids"),
        OUTSIDE_WINDOW: n(ok, "outside"),
        BLACKLISTED: stats["blacklisted_rows"],
        UNDER_ONE_POINT: stats["under_rows"],
    }
    summary = EligibilitySummary(
        rows_in=int(sum(n(row, "row_count") for row in by.values())),
        rows_counted=stats["counted"],
        rows_excluded={rule: excluded[rule] for rule in RULES},
        rows_rejected=rejected["reason"].value_counts().sort_index().astype(int).to_dict(),
        participants=len(participants),
        total_points=int(participants["points"].sum()),
        total_entries=int(participants["entries"].sum()),
        participants_excluded={BLACKLISTED: stats["blacklisted_people"],
                               UNDER_ONE_POINT: stats["under_people"]},
        window=window,
        draw_date=draw_date,
        points_mode=config.points_mode,
        entry_cap=config.entry_cap,
    )
    candidates = n(ok, "tids") - n(ok, "outside")
    rejected_rows = sum(n(row, "row_count") for reason, row in by.items() if reason != _OK)
    if candidates != int(per_id["rows"].sum()) or rejected_rows != len(rejected):
        raise PostHogError(
            "PostHog's answers disagree within one run (events changed between queries): "
            "run again once ingestion has settled"
        )
    empty = pd.DataFrame(columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])
    return EligibilityResult(participants, rejected, empty.assign(rule=pd.Series(dtype=object)),
                             summary)


def with_rows_not_sent(result: EligibilityResult, not_sent: pd.DataFrame) -> EligibilityResult:
    """``result`` with the rows an upload could not send (``UploadSummary.not_sent``:
    transaction_id, msisdn, amount_ngn, reason) counted and listed as rejected, so the
    PostHog path accounts for every row of the source file as the local path does."""
    if not_sent is None or not_sent.empty:
        return result
    extra = not_sent.assign(timestamp=pd.NaT)[["transaction_id", "msisdn", "amount_ngn",
                                               "timestamp", "reason"]]
    rejected = pd.concat([result.rejected, extra], ignore_index=True)
    counts = dict(result.summary.rows_rejected)
    for reason, count in extra["reason"].value_counts().items():
        counts[str(reason)] = counts.get(str(reason), 0) + int(count)
    summary = replace(result.summary, rows_in=result.summary.rows_in + len(extra),
                      rows_rejected=dict(sorted(counts.items())))
    return EligibilityResult(result.participants, rejected, result.excluded, summary)
