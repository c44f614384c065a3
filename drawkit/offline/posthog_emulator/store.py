"""The emulator's data, stored like PostHog stores it: events, persons, distinct ids.

Captured events wait in an ingestion queue until they are due (the ingestion lag), then the
pipeline runs in arrival order: the person is created or updated (``$set``, ``$set_once``,
``$unset``), property types are recorded (first seen wins), the person's properties are
stamped on the event (persons on events), and the row goes into ClickHouse:

* ``events``: ``ReplacingMergeTree(_version) ORDER BY (toDate(timestamp), event,
  cityHash64(distinct_id), cityHash64(uuid))`` like PostHog's ``sharded_events``, so rows
  sharing day, event, distinct id and uuid collapse at a merge (keeping the last inserted).
  With ``eventual_dedup`` both copies are stored and collapse ``merge_delay_seconds`` later;
  without it a duplicate is dropped on arrival (first copy wins).
* ``persons_raw`` / ``person_distinct_ids_raw``: versioned ``ReplacingMergeTree`` tables read
  through ``FINAL`` views (``persons``, ``person_distinct_ids``); ``events_current`` joins each
  event to its person's current properties (persons on events off).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from drawkit.offline.posthog_emulator.behaviours import IDEAL, Behaviours
from drawkit.offline.posthog_emulator.engine import Engine
from drawkit.offline.posthog_emulator.ingestion import (
    SKIP_PROPERTIES,
    CapturedEvent,
    CaptureError,
    detect_property_type,
    normalise,
    person_uuid,
)

EVENTS_DDL = """
CREATE TABLE {db}.events (
    uuid UUID, event String, properties String, timestamp DateTime64(6, 'UTC'),
    distinct_id String, elements_chain String, created_at DateTime64(6, 'UTC'),
    person_id UUID, person_properties String, person_created_at DateTime64(3, 'UTC'),
    _version UInt64
) ENGINE = ReplacingMergeTree(_version)
ORDER BY (toDate(timestamp), event, cityHash64(distinct_id), cityHash64(uuid))
"""
PERSONS_DDL = """
CREATE TABLE {db}.persons_raw (
    id UUID, created_at DateTime64(3, 'UTC'), properties String, is_identified Bool,
    version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY id
"""
PDI_DDL = """
CREATE TABLE {db}.person_distinct_ids_raw (distinct_id String, person_id UUID, version UInt64)
ENGINE = ReplacingMergeTree(version) ORDER BY distinct_id
"""
VIEWS = [
    "CREATE VIEW {db}.persons AS SELECT id, created_at, properties, is_identified "
    "FROM {db}.persons_raw FINAL",
    "CREATE VIEW {db}.person_distinct_ids AS SELECT distinct_id, person_id "
    "FROM {db}.person_distinct_ids_raw FINAL",
    "CREATE VIEW {db}.events_current AS SELECT e.*, p.properties AS current_person_properties, "
    "p.created_at AS current_person_created_at FROM {db}.events AS e "
    "LEFT JOIN {db}.persons AS p ON p.id = e.person_id",
]
DEFAULT_TEAM = 1
ROW_COLUMNS = ("uuid", "event", "properties", "timestamp", "distinct_id", "created_at",
               "person_id", "person_properties", "person_created_at", "_version")  # fmt: skip
FLUSH_AT = 100_000  # buffered rows that trigger a ClickHouse insert before the next read


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
_MISSING = object()


def compact_json(value: Any) -> str:
    """JSON as PostHog's pipeline writes it (no spaces, non-ASCII kept)."""
    return _ENCODER.encode(value)


def iso(value: datetime | None) -> str | None:
    """An aware or naive-UTC datetime as PostHog's API writes it (``…Z``)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


@dataclass
class Person:
    """One person: its distinct ids (oldest first), properties and version."""

    id: str
    distinct_ids: list[str]
    properties: dict[str, Any]
    created_at: datetime
    seq: int
    version: int = 0
    _json: str | None = field(default=None, repr=False)

    @property
    def distinct_id(self) -> str:
        """The first distinct id."""
        return self.distinct_ids[0]

    def properties_json(self) -> str:
        """The properties as stored JSON (cached until they change)."""
        if self._json is None:
            self._json = compact_json(self.properties)
        return self._json

    def to_api(self, distinct_id_limit: int | None = None) -> dict[str, Any]:
        """The person object as the persons API returns it."""
        props = self.properties
        ids = self.distinct_ids
        if distinct_id_limit is not None:
            ids = list(reversed(ids))[:distinct_id_limit]  # newest first
        name = props.get("email") or props.get("name") or self.distinct_ids[0]
        return {
            "id": self.id,
            "uuid": self.id,
            "name": str(name),
            "distinct_ids": list(ids),
            "properties": dict(props),
            "created_at": iso(self.created_at),
            "last_seen_at": None,
            "is_identified": False,
        }


@dataclass
class _Pending:
    due: float  # monotonic time the event becomes queryable
    event: CapturedEvent


class Store:
    """Events, persons and property definitions of one emulated project."""

    def __init__(
        self,
        behaviours: Callable[[], Behaviours] | None = None,
        team_id: int = DEFAULT_TEAM,
        seed: int | None = None,
    ) -> None:
        self._behaviours = behaviours or (lambda: IDEAL)
        self.team_id = team_id
        self.engine = Engine.get()
        self.database = self.engine.create_database()
        for ddl in (EVENTS_DDL, PERSONS_DDL, PDI_DDL, *VIEWS):
            self.engine.execute(ddl.format(db=self.database))

        self.lock = threading.RLock()
        self.persons: dict[str, Person] = {}  # by distinct id
        self.persons_by_id: dict[str, Person] = {}
        self.cohorts: dict[int, dict[str, Any]] = {}
        self.event_property_types: dict[str, str] = {}
        self.person_property_types: dict[str, str] = {}
        self.duplicates_dropped = 0
        self.data_version = 0  # bumped whenever queryable data changes
        self._pending: deque[_Pending] = deque()
        self._new_ids: list[tuple[str, str]] = []  # distinct ids joined to existing persons
        self._rows: dict[str, list[Any]] = {k: [] for k in ROW_COLUMNS}  # processed, not stored
        self._keys: list[tuple[str, str, str, int]] = []
        self._changed: dict[str, Person] = {}
        self._version = 0
        self._merge_due: float | None = None
        self._rng = random.Random(seed)
        self._closed = False

    @property
    def behaviours(self) -> Behaviours:
        """The switches in force."""
        return self._behaviours()

    # ------------------------------------------------------------------ capture

    def capture(
        self,
        raw_events: Iterable[Any],
        *,
        sent_at: Any = None,
        lag: bool = True,
        now: datetime | None = None,
    ) -> int:
        """Validate a request's events (all or none) and queue them for ingestion."""
        behaviours = self.behaviours
        now = now or datetime.now(UTC)
        correct = behaviours.sent_at_correction
        events = [normalise(raw, now, sent_at, correct_timestamps=correct) for raw in raw_events]
        if not events:
            raise CaptureError("request holds no event")
        delay = 0.0
        if lag and behaviours.ingestion_lag_seconds > 0:
            span = behaviours.ingestion_lag_seconds
            with self.lock:
                delay = self._rng.uniform(span / 2, span)
        due = time.monotonic() + delay
        with self.lock:
            self._pending.extend(_Pending(due, e) for e in events)
            if delay == 0 and lag:
                self._run_due()  # no lag: the pipeline runs before the request is answered
        return len(events)

    def ingest(self, raw_events: Iterable[Any], *, sent_at: Any = None) -> int:
        """Pre-load capture-shaped events through the capture path, queryable at once."""
        count = 0
        batch: list[Any] = []
        for raw in raw_events:
            batch.append(raw)
            if len(batch) >= 100_000:
                count += self.capture(batch, sent_at=sent_at, lag=False)
                batch = []
                self.sync()
        if batch:
            count += self.capture(batch, sent_at=sent_at, lag=False)
        self.sync()
        return count

    def ingest_pending(self) -> None:
        """Make every queued event queryable now, as if the ingestion lag had passed."""
        with self.lock:
            for item in self._pending:
                item.due = 0.0
        self.sync()

    @property
    def pending_count(self) -> int:
        """Events captured but not yet queryable."""
        return len(self._pending)

    # ------------------------------------------------------------------ ingestion

    def sync(self) -> None:
        """Run the pipeline on every due event, store what it made, run a due merge (before
        every read)."""
        with self.lock:
            if self._closed:
                return
            self._run_due()
            self._flush_rows()
            if self._merge_due is not None and time.monotonic() >= self._merge_due:
                self._merge()

    def _run_due(self) -> None:
        now = time.monotonic()
        due = [item.event for item in self._pending if item.due <= now]
        if due:
            self._pending = deque(item for item in self._pending if item.due > now)
            self._process(due)
            if len(self._keys) >= FLUSH_AT:
                self._flush_rows()

    def _process(self, events: list[CapturedEvent]) -> None:
        """The pipeline in memory: persons, types, stamped rows (stored by _flush_rows)."""
        poe = self.behaviours.persons_on_events
        changed, rows, keys = self._changed, self._rows, self._keys
        for event in events:
            self._record_types(event)
            props = event.properties
            if event.person_mode:
                person = self._apply_person(event, changed)
                person_id, created = person.id, person.created_at
                stamped = person.properties_json() if poe else "{}"
            else:
                person_id = person_uuid(self.team_id, event.distinct_id)
                stamped, created = "{}", None
            self._version += 1
            micros = int(event.timestamp.timestamp() * 1_000_000)
            rows["uuid"].append(event.uuid)
            rows["event"].append(event.event)
            rows["properties"].append(compact_json(props))
            rows["timestamp"].append(micros)
            rows["distinct_id"].append(event.distinct_id)
            rows["created_at"].append(int(event.captured_at.timestamp() * 1_000_000))
            rows["person_id"].append(person_id)
            rows["person_properties"].append(stamped)
            rows["person_created_at"].append(
                int(created.timestamp() * 1000) if created is not None else 0
            )
            rows["_version"].append(self._version)
            keys.append((event.uuid, event.distinct_id, event.event, micros // 86_400_000_000))

    def _flush_rows(self) -> None:
        """Store the processed rows and person changes in ClickHouse (duplicates handled)."""
        if not self._keys and not self._changed and not self._new_ids:
            return
        rows, keys, changed = self._rows, self._keys, self._changed
        self._rows = {k: [] for k in ROW_COLUMNS}
        self._keys, self._changed = [], {}
        keep = self._deduplicate(keys, self.behaviours)
        if keep is not None:
            rows = {k: [v for v, ok in zip(values, keep, strict=True) if ok]
                    for k, values in rows.items()}  # fmt: skip
            self._insert_events(rows)
        else:
            # One INSERT block collapses its own duplicates at once (ReplacingMergeTree sorts
            # and replaces within a part): copies go in separate blocks, to collapse later.
            rounds: dict[tuple, int] = {}
            occurrence = []
            for key in keys:
                rounds[key] = rounds.get(key, -1) + 1
                occurrence.append(rounds[key])
            for round_number in range(max(occurrence, default=0) + 1):
                self._insert_events({
                    k: [v for v, n in zip(values, occurrence, strict=True) if n == round_number]
                    for k, values in rows.items()
                })  # fmt: skip
        self._insert_persons(changed.values())
        self.data_version += 1

    def _record_types(self, event: CapturedEvent) -> None:
        if not self.behaviours.property_typing:
            return
        types = self.event_property_types
        for key, value in event.properties.items():
            if key not in types and key not in SKIP_PROPERTIES:
                detected = detect_property_type(key, value)
                if detected is not None:
                    types[key] = detected
        for name in ("$set", "$set_once"):
            values = event.properties.get(name)
            if isinstance(values, Mapping):
                for key, value in values.items():
                    if key not in self.person_property_types:
                        detected = detect_property_type(key, value)
                        if detected is not None:
                            self.person_property_types[key] = detected

    def _apply_person(self, event: CapturedEvent, changed: dict[str, Person]) -> Person:
        person = self.persons.get(event.distinct_id)
        if person is None:
            person = Person(
                id=person_uuid(self.team_id, event.distinct_id),
                distinct_ids=[event.distinct_id],
                properties={},
                created_at=event.timestamp,
                seq=len(self.persons_by_id),
            )
            self.persons[event.distinct_id] = person
            self.persons_by_id[person.id] = person
            changed[person.id] = person
        props = event.properties
        other = props.get("alias") if event.event == "$create_alias" else (
            props.get("$anon_distinct_id") if event.event == "$identify" else None
        )
        if isinstance(other, (str, int)) and str(other) and str(other) not in self.persons:
            person.distinct_ids.append(str(other))  # an unknown id joins this person
            self.persons[str(other)] = person
            self._new_ids.append((str(other), person.id))
        current = person.properties
        touched = False
        set_once = props.get("$set_once")
        if isinstance(set_once, Mapping):
            for key, value in set_once.items():
                if key not in current:
                    current[key] = value
                    touched = True
        set_props = props.get("$set")
        if isinstance(set_props, Mapping):
            for key, value in set_props.items():
                old = current.get(key, _MISSING)
                if old is _MISSING or old != value or type(old) is not type(value):
                    current[key] = value
                    touched = True
        unset = props.get("$unset")
        if isinstance(unset, list):
            for key in unset:
                if current.pop(str(key), _MISSING) is not _MISSING:
                    touched = True
        if touched:
            person._json = None
            changed[person.id] = person
        return person

    def _deduplicate(self, keys: list[tuple], behaviours: Behaviours) -> list[bool] | None:
        """Drop (no eventual dedup) or schedule the merge of (eventual) duplicate keys."""
        seen: set[tuple] = set()
        duplicate = [False] * len(keys)
        for i, key in enumerate(keys):
            if key in seen:
                duplicate[i] = True
            seen.add(key)
        existing = self._stored_keys({k[0] for k in keys})
        for i, key in enumerate(keys):
            if key in existing:
                duplicate[i] = True
        if not any(duplicate):
            return None
        if behaviours.eventual_dedup:
            if self._merge_due is None:
                # Copies collapse when the model says so (merge_delay_seconds), not when
                # ClickHouse's background merger happens to pick their parts.
                self.engine.execute(f"SYSTEM STOP MERGES {self.database}.events")
            self._merge_due = time.monotonic() + behaviours.merge_delay_seconds
            return None
        self.duplicates_dropped += sum(duplicate)
        return [not d for d in duplicate]

    def _stored_keys(self, uuids: set[str]) -> set[tuple]:
        if not uuids:
            return set()
        found: set[tuple] = set()
        listed = list(uuids)
        for start in range(0, len(listed), 50_000):
            chunk = pa.table({"u": pa.array(listed[start : start + 50_000])})
            answer = self._select_python(
                f"SELECT toString(uuid), distinct_id, event, toUInt32(toDate(timestamp)) "  # noqa: S608
                f"FROM {self.database}.events "
                "WHERE uuid IN (SELECT toUUID(u) FROM Python(table))",
                chunk,
            )
            found.update(tuple(row) for row in answer)
        return found

    def _select_python(self, sql: str, table: pa.Table) -> list[list[Any]]:
        """A SELECT reading ``Python(table)`` (rows as lists)."""
        from drawkit.offline.posthog_emulator.engine import _query_with

        with self.engine._session() as current:
            text = sql + " SETTINGS output_format_json_quote_64bit_integers = 0"
            raw = _query_with(current, text, "JSONCompact", table)
        return json.loads(raw)["data"] if raw.strip() else []

    def _insert_events(self, rows: dict[str, list[Any]]) -> None:
        if not rows["uuid"]:
            return
        micros = pa.timestamp("us", tz="UTC")
        table = pa.table({
            "uuid": pa.array(rows["uuid"], pa.string()),
            "event": pa.array(rows["event"], pa.string()),
            "properties": pa.array(rows["properties"], pa.string()),
            "timestamp": pa.array(rows["timestamp"], pa.int64()).cast(micros),
            "distinct_id": pa.array(rows["distinct_id"], pa.string()),
            "created_at": pa.array(rows["created_at"], pa.int64()).cast(micros),
            "person_id": pa.array(rows["person_id"], pa.string()),
            "person_properties": pa.array(rows["person_properties"], pa.string()),
            "person_created_at": pa.array(rows["person_created_at"], pa.int64()).cast(
                pa.timestamp("ms", tz="UTC")),
            "_version": pa.array(rows["_version"], pa.uint64()),
        })  # fmt: skip
        self.engine.execute(
            f"INSERT INTO {self.database}.events SELECT toUUID(uuid), event, properties, "  # noqa: S608
            "timestamp, distinct_id, '', created_at, toUUID(person_id), person_properties, "
            "person_created_at, _version FROM Python(table)",
            table,
        )

    def _insert_persons(self, people: Iterable[Person]) -> None:
        people = list(people)
        if not people and not self._new_ids:
            return
        for person in people:
            person.version += 1
        table = pa.table({
            "id": pa.array([p.id for p in people], pa.string()),
            "created_at": pa.array([int(p.created_at.timestamp() * 1000) for p in people],
                                   pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            "properties": pa.array([p.properties_json() for p in people], pa.string()),
            "version": pa.array([p.version for p in people], pa.uint64()),
        })  # fmt: skip
        self.engine.execute(
            f"INSERT INTO {self.database}.persons_raw SELECT toUUID(id), created_at, properties, "  # noqa: S608
            "false, version FROM Python(table)",
            table,
        )
        new = [p for p in people if p.version == 1]
        pairs = [(d, p.id) for p in new for d in p.distinct_ids]
        pairs += [pair for pair in self._new_ids if pair not in pairs]
        self._new_ids = []
        if pairs:
            ids = pa.table({
                "distinct_id": pa.array([d for d, _ in pairs], pa.string()),
                "person_id": pa.array([i for _, i in pairs], pa.string()),
            })  # fmt: skip
            self.engine.execute(
                f"INSERT INTO {self.database}.person_distinct_ids_raw SELECT distinct_id, "  # noqa: S608
                "toUUID(person_id), 1 FROM Python(table)",
                ids,
            )

    def _merge(self) -> None:
        before = self._row_count()
        table = f"{self.database}.events"
        self.engine.execute(f"SYSTEM START MERGES {table}")
        self.engine.execute(f"OPTIMIZE TABLE {table} FINAL")
        self.duplicates_dropped += before - self._row_count()
        self._merge_due = None
        self.data_version += 1

    def _row_count(self) -> int:
        return int(self.engine.scalar(f"SELECT count() FROM {self.database}.events"))  # noqa: S608

    # ------------------------------------------------------------------ reading

    def event_count(self) -> int:
        """Queryable event rows (duplicates count until they are merged)."""
        with self.lock:
            self.sync()
            return self._row_count()

    @property
    def events(self) -> pd.DataFrame:
        """Queryable events: uuid, event, distinct_id, timestamp (naive UTC), properties (dict),
        in insertion order."""
        with self.lock:
            self.sync()
            answer = self.engine.query(
                f"SELECT toString(uuid), event, distinct_id, "  # noqa: S608
                f"toUnixTimestamp64Micro(timestamp), properties FROM {self.database}.events "
                "ORDER BY _version"
            )
        rows = answer["data"]
        frame = pd.DataFrame(rows, columns=["uuid", "event", "distinct_id", "timestamp",
                                            "properties"])  # fmt: skip
        frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="us")
        frame["properties"] = frame["properties"].map(json.loads)
        return frame

    def person_by_id(self, person_id: str) -> Person | None:
        """A person by its UUID (or a distinct id)."""
        with self.lock:
            return self.persons_by_id.get(str(person_id)) or self.persons.get(str(person_id))

    # ------------------------------------------------------------------ lifecycle

    def clear(self) -> None:
        """Drop every event, person, property definition and cohort."""
        with self.lock:
            self._pending.clear()
            self._rows = {k: [] for k in ROW_COLUMNS}
            self._keys, self._changed, self._new_ids = [], {}, []
            for table in ("events", "persons_raw", "person_distinct_ids_raw"):
                self.engine.execute(f"TRUNCATE TABLE {self.database}.{table}")
            self.persons.clear()
            self.persons_by_id.clear()
            self.cohorts.clear()
            self.event_property_types.clear()
            self.person_property_types.clear()
            self.duplicates_dropped = 0
            self._merge_due = None
            self.data_version += 1

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._closed

    def close(self) -> None:
        """Drop this store's database (the store is unusable afterwards)."""
        with self.lock:
            if not self._closed:
                self._closed = True
                self.engine.drop_database(self.database)
