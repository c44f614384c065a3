"""PostHogDataSource: participants from PostHog, results published back as events.

Two strategies give the same participants:

* ``"hogql"`` (default): PostHog does the work. One HogQL query (paged by msisdn, 50,000
  rows a page) returns points per subscriber in the window, duplicates counted once and
  blacklisted persons left out; a second query accounts for every recharge event.
* ``"cohort"``: the daily cohort is built (or reused), its persons are paged through, their
  recharge events in the window are fetched with HogQL, and the local eligibility rules
  run on them (:func:`drawkit.eligibility.apply_rules`). Its summary accounts for the
  members' events inside the window only (the cohort has already left out the rest).

HogQL notes: property reads sit alone in the innermost SELECT and are cast one level up
(both PostHog and the emulator read JSON properties as text). Duplicate transaction ids
keep their earliest event (PostHog has no input order).
"""

# HogQL text is built from literals quoted by _q and property names checked by _NAME.
# ruff: noqa: S608
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from drawkit.cohorts import CohortGenerator
from drawkit.config import PromotionConfig
from drawkit.contract import (
    DRAW_WINNER,
    DRAWKIT_DISTINCT_ID,
    MONITOR_PREFIX,
    RESULT_EVENTS,
    DrawOutcome,
    result_events,
)
from drawkit.eligibility import (
    BLACKLISTED,
    DUPLICATE,
    INVALID_MSISDN,
    MISSING_AMOUNT,
    MISSING_TRANSACTION_ID,
    NON_NUMERIC_AMOUNT,
    NON_POSITIVE_AMOUNT,
    OUTSIDE_WINDOW,
    UNDER_ONE_POINT,
    DrawWindow,
    EligibilityResult,
    EligibilitySummary,
    apply_rules,
    draw_window,
    participants_from_points,
)
from drawkit.errors import ConfigError, PostHogError
from drawkit.msisdn import mask, normalize
from drawkit.posthog.client import PostHogClient, build_event
from drawkit.redact import redact
from drawkit.sources.base import PublishReport

logger = logging.getLogger("drawkit.sources.posthog")

STRATEGIES = ("hogql", "cohort")
PAGE_SIZE = 50_000  # PostHog's cap on rows per HogQL query
ID_CHUNK = 1_000  # distinct ids per events query on the cohort path
NO_PERSON = {"$process_person_profile": False}
_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_OK = "ok"


def _q(value: str) -> str:
    """A HogQL string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stamp(moment: datetime) -> str:
    """toDateTime literal of an aware instant, in UTC."""
    utc = pd.Timestamp(moment).tz_convert("UTC")
    return f"toDateTime({_q(utc.strftime('%Y-%m-%d %H:%M:%S.%f'))}, 'UTC')"


class HogQLBuilder:
    """The HogQL text of the queries, from the promotion's event and property names."""

    def __init__(self, config: PromotionConfig) -> None:
        self.config = config
        names = config.posthog
        for key in ("amount_property", "transaction_property", "blacklist_property"):
            if not _NAME.match(getattr(names, key)):
                raise ConfigError(
                    f"'posthog.{key}' {getattr(names, key)!r} must be a plain property name "
                    "(letters, digits, _ or $) to be used in HogQL"
                )
        self.names = names

    def base(self, where: str = "") -> str:
        """Recharge events: raw property reads only (one level, no functions)."""
        n = self.names
        return (
            "SELECT distinct_id AS msisdn, timestamp AS ts, toString(uuid) AS eid, "
            f"properties.{n.transaction_property} AS tid_raw, "
            f"properties.{n.amount_property} AS amount_raw, "
            f"person.properties.{n.blacklist_property} AS banned_raw "
            f"FROM events WHERE event = {_q(n.recharge_event)}{where}"
        )

    def typed(self) -> str:
        """Each event with its transaction id, amount (number or NULL), banned flag and
        the first rejection reason that applies (``'ok'`` for a valid row)."""
        cast = (
            "SELECT msisdn, ts, ifNull(toString(tid_raw), '') AS tid, "
            "toString(amount_raw) AS amount_text, toFloatOrNull(toString(amount_raw)) AS amount, "
            f"ifNull(toString(banned_raw), '') = 'true' AS banned FROM ({self.base()})"
        )
        reason = (
            f"if(tid = '', {_q(MISSING_TRANSACTION_ID)}, "
            f"if(ifNull(amount_text, '') = '', {_q(MISSING_AMOUNT)}, "
            f"if(amount IS NULL, {_q(NON_NUMERIC_AMOUNT)}, "
            f"if(amount <= 0, {_q(NON_POSITIVE_AMOUNT)}, {_q(_OK)}))))"
        )
        return f"SELECT msisdn, ts, tid, amount, banned, {reason} AS reason FROM ({cast})"

    def grouped(self, window: DrawWindow) -> str:
        """One row per (transaction id, reason): its earliest event decides the rest."""
        inside = f"min(ts) < {_stamp(window.cutoff)}"
        if window.start is not None:
            inside = f"min(ts) >= {_stamp(window.start)} AND {inside}"
        return (
            "SELECT tid, reason, count() AS n, argMin(msisdn, ts) AS msisdn, "
            "argMin(amount, ts) AS amount, argMin(banned, ts) AS banned, "
            f"{inside} AS inside FROM ({self.typed()}) GROUP BY tid, reason"
        )

    def points(self, window: DrawWindow, after: str = "", limit: int = PAGE_SIZE,
               msisdn: str | None = None) -> str:
        """Points and counted rows per msisdn, keyset-paged by msisdn."""
        unit = self.config.naira_per_point * 100
        kobo = "round(amount * 100)"
        if self.config.points_mode == "summed":
            points, counted = f"floor(sum({kobo}) / {unit})", "count()"
        else:
            points = f"sum(floor({kobo} / {unit}))"
            counted = f"countIf(floor({kobo} / {unit}) >= 1)"
        who = f"msisdn = {_q(msisdn)}" if msisdn is not None else f"msisdn > {_q(after)}"
        return (
            f"SELECT msisdn, {points} AS points, {counted} AS counted_rows "
            f"FROM ({self.grouped(window)}) "
            f"WHERE reason = {_q(_OK)} AND inside AND NOT banned AND {who} "
            f"GROUP BY msisdn ORDER BY msisdn LIMIT {int(limit)}"
        )

    def accounting(self, window: DrawWindow) -> str:
        """Per reason: rows, distinct ids, rows outside the window / blacklisted / candidate."""
        return (
            "SELECT reason, sum(n) AS row_count, count() AS tids, "
            "countIf(NOT inside) AS outside, countIf(inside AND banned) AS banned_rows, "
            "uniqExact(if(inside AND banned, msisdn, NULL)) AS banned_people, "
            "countIf(inside AND NOT banned) AS candidates "
            f"FROM ({self.grouped(window)}) GROUP BY reason ORDER BY reason LIMIT 100"
        )

    def window_events(self, window: DrawWindow, ids: Sequence[str], after: str,
                      limit: int = PAGE_SIZE) -> str:
        """Raw recharge events of some persons inside the window, keyset-paged by uuid."""
        where = (
            f" AND distinct_id IN ({', '.join(_q(i) for i in ids)})"
            f" AND timestamp < {_stamp(window.cutoff)}"
        )
        if window.start is not None:
            where += f" AND timestamp >= {_stamp(window.start)}"
        return (
            "SELECT eid, tid_raw, msisdn, amount_raw, ts "
            f"FROM ({self.base(where)}) WHERE eid > {_q(after)} ORDER BY eid LIMIT {int(limit)}"
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

    # ------------------------------------------------------------------ participants

    def get_eligible_participants(self, draw_date: date) -> EligibilityResult:
        """Eligible participants for ``draw_date`` with the accounting of every event."""
        started = time.perf_counter()
        if self.strategy == "hogql":
            result = self._participants_hogql(draw_date)
        else:
            result = self._participants_cohort(draw_date)
        s = result.summary
        self.track(
            "cohort_built",
            {
                "draw_date": draw_date.isoformat(),
                "strategy": self.strategy,
                "participants": s.participants,
                "total_entries": s.total_entries,
                "rows_in": s.rows_in,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return result

    def _point_pages(self, window: DrawWindow) -> Iterator[pd.DataFrame]:
        return self._keyset_pages(
            lambda after: self.hogql.points(window, after, self.page_size), "msisdn"
        )

    def _keyset_pages(self, query: Callable[[str], str], key: str) -> Iterator[pd.DataFrame]:
        """Pages of a HogQL query ordered by ``key``: each asks for rows after the last key
        seen, until a page comes back short."""
        after = ""
        while True:
            frame = self.client.query(query(after)).to_frame()
            if not frame.empty:
                yield frame
            if len(frame) < self.page_size:
                return
            after = str(frame[key].iloc[-1])

    def _participants_hogql(self, draw_date: date) -> EligibilityResult:
        window = draw_window(self.config, draw_date)
        pages = list(self._point_pages(window))
        points = (
            pd.concat(pages, ignore_index=True)
            if pages
            else pd.DataFrame({"msisdn": [], "points": [], "counted_rows": []})
        )
        points["points"] = pd.to_numeric(points["points"]).fillna(0).astype(np.int64)
        points["counted_rows"] = pd.to_numeric(points["counted_rows"]).fillna(0).astype(np.int64)
        participants, dropped = participants_from_points(points[["msisdn", "points"]],
                                                         self.config)
        included = points["msisdn"].isin(participants["msisdn"])
        counted = int(points.loc[included, "counted_rows"].sum())
        valid_msisdn = points["msisdn"].map(_is_e164)
        invalid_rows = int(points.loc[~valid_msisdn, "counted_rows"].sum())
        acc = self.client.query(self.hogql.accounting(window)).to_frame()
        summary = _summary(acc, participants, dropped, counted, invalid_rows, window,
                           draw_date, self.config)
        empty = pd.DataFrame(columns=["transaction_id", "msisdn", "amount_ngn", "timestamp"])
        return EligibilityResult(
            participants,
            empty.assign(reason=pd.Series(dtype=object)),
            empty.assign(rule=pd.Series(dtype=object)),
            summary,
        )

    def _participants_cohort(self, draw_date: date) -> EligibilityResult:
        generator = self._cohorts or CohortGenerator(self.client, self.config)
        cohort = generator.ensure_daily_cohort(draw_date)
        window = draw_window(self.config, draw_date)
        ids: list[str] = []
        frames: list[pd.DataFrame] = []
        for person in self.client.iter_cohort_persons(int(cohort["id"])):
            ids.extend(person.get("distinct_ids") or [])
            if len(ids) >= ID_CHUNK:
                frames.extend(self._window_events(window, ids[:ID_CHUNK]))
                ids = ids[ID_CHUNK:]
        if ids:
            frames.extend(self._window_events(window, ids))
        columns = ["eid", "tid_raw", "msisdn", "amount_raw", "ts"]
        rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        rows["ts"] = pd.to_datetime(rows["ts"], utc=True, format="ISO8601")
        rows = rows.sort_values(["ts", "eid"], kind="stable", ignore_index=True)
        recharges = pd.DataFrame(
            {
                "transaction_id": rows["tid_raw"],
                "msisdn": rows["msisdn"],
                "amount_ngn": rows["amount_raw"].astype(object),
                "timestamp": rows["ts"],
            }
        )
        return apply_rules(recharges, self.config, draw_date)

    def _window_events(self, window: DrawWindow, ids: list[str]) -> Iterator[pd.DataFrame]:
        return self._keyset_pages(
            lambda after: self.hogql.window_events(window, ids, after, self.page_size), "eid"
        )

    def get_participant_entries(self, msisdn: str, draw_date: date) -> int:
        """Entries of one subscriber in the draw of ``draw_date`` (0 if not eligible)."""
        e164 = normalize(msisdn)
        window = draw_window(self.config, draw_date)
        frame = self.client.query(self.hogql.points(window, msisdn=e164, limit=1)).to_frame()
        if frame.empty:
            return 0
        participants, _ = participants_from_points(frame[["msisdn", "points"]], self.config)
        return int(participants["entries"].sum())

    # ------------------------------------------------------------------ publishing

    def _draw_events(self, outcome: DrawOutcome) -> list[dict[str, Any]]:
        """The contract's result events, stamped at the draw's cutoff; the summary event
        creates no person."""
        stamp = draw_window(self.config, outcome.draw_date).cutoff
        return [
            build_event(
                e.event,
                e.distinct_id,
                {**e.properties, **({} if e.event == DRAW_WINNER else NO_PERSON)},
                timestamp=stamp,
                uuid=e.uuid,
            )
            for e in result_events(outcome)
        ]

    def _recorded_uuids(self, draw_id: str) -> set[str]:
        query = (
            "SELECT toString(uuid) AS eid, event, draw FROM (SELECT uuid, event, "
            "properties.draw_id AS draw FROM events WHERE event IN "
            f"({', '.join(_q(e) for e in RESULT_EVENTS)})) WHERE draw = {_q(draw_id)} "
            f"LIMIT {PAGE_SIZE}"
        )
        return {str(row[0]) for row in self.client.query(query).results}

    def record_draw_result(self, result: DrawOutcome) -> PublishReport:
        """Capture draw_completed + one draw_winner per winner/reserve, once per uuid."""
        events = self._draw_events(result)
        already = self._recorded_uuids(result.draw_id)
        missing = [e for e in events if e["uuid"] not in already]
        sent = self.client.capture_batch(missing) if missing else 0
        report = PublishReport(result.draw_id, sent=sent, already_recorded=len(events) - sent)
        self.track("results_published", {"draw_id": result.draw_id, "sent": report.sent,
                                         "already_recorded": report.already_recorded})
        return report

    def get_published_results(self, draw_id: str) -> pd.DataFrame:
        """Recorded events of ``draw_id``: event, uuid, msisdn (E.164; '' for the summary),
        msisdn_masked, tier, role, position, ticket, in draw order."""
        query = (
            "SELECT eid, event, distinct_id, tier, role, pos, ticket, draw_order "
            "FROM (SELECT toString(uuid) AS eid, event, distinct_id, "
            "properties.draw_id AS draw, properties.tier AS tier, properties.role AS role, "
            "properties.position AS pos, properties.ticket AS ticket, "
            "properties.draw_order AS draw_order FROM events WHERE event IN "
            f"({', '.join(_q(e) for e in RESULT_EVENTS)})) WHERE draw = {_q(draw_id)} "
            f"LIMIT {PAGE_SIZE}"
        )
        raw = self.client.query(query).to_frame()
        winner = raw["event"] == "draw_winner"
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
                "position": pd.to_numeric(raw["pos"]).fillna(0).astype(np.int64),
                "ticket": pd.to_numeric(raw["ticket"]).astype("Int64"),
                "draw_order": pd.to_numeric(raw["draw_order"]).fillna(0).astype(np.int64),
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


def _is_e164(value: object) -> bool:
    try:
        return normalize(value) == value
    except Exception:  # noqa: BLE001 - any failure means "not a valid E.164 number"
        return False


def _summary(
    acc: pd.DataFrame,
    participants: pd.DataFrame,
    dropped: dict[str, int],
    counted: int,
    invalid_rows: int,
    window: DrawWindow,
    draw_date: date,
    config: PromotionConfig,
) -> EligibilitySummary:
    """The row accounting of the HogQL path (same shape as the local rules' summary)."""
    by = {str(r["reason"]): r for _, r in acc.iterrows()}
    ok = by.get(_OK)

    def n(row: Any, key: str) -> int:
        return 0 if row is None else int(row[key] or 0)

    rejected = {reason: n(row, "row_count") for reason, row in by.items() if reason != _OK}
    if invalid_rows:
        rejected[INVALID_MSISDN] = invalid_rows
    candidates = n(ok, "candidates")
    excluded = {
        DUPLICATE: n(ok, "row_count") - n(ok, "tids"),
        OUTSIDE_WINDOW: n(ok, "outside"),
        BLACKLISTED: n(ok, "banned_rows"),
        UNDER_ONE_POINT: candidates - counted - invalid_rows,
    }
    return EligibilitySummary(
        rows_in=int(sum(n(row, "row_count") for row in by.values())),
        rows_counted=counted,
        rows_excluded=excluded,
        rows_rejected=dict(sorted(rejected.items())),
        participants=len(participants),
        total_points=int(participants["points"].sum()),
        total_entries=int(participants["entries"].sum()),
        participants_excluded={
            BLACKLISTED: n(ok, "banned_people"),
            UNDER_ONE_POINT: int(dropped.get(UNDER_ONE_POINT, 0)),
        },
        window=window,
        draw_date=draw_date,
        points_mode=config.points_mode,
        entry_cap=config.entry_cap,
    )
