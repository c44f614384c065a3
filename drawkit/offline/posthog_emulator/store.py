"""The emulator's data: events (in duckdb), persons (in memory) and cohorts.

Events captured over HTTP are buffered and flushed into duckdb in bulk before any read.
De-duplication: an event whose (uuid, distinct_id, event, calendar day of timestamp) is
already stored is dropped at flush time (the first copy wins). This is the key PostHog's
ClickHouse table collapses on; PostHog does it eventually, the emulator at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pandas as pd

PERSON_NAMESPACE = uuidlib.UUID("5f0c6f1e-4a53-4c55-9a0e-6d7261776b69")
FLUSH_AT = 100_000
EVENT_COLUMNS = ["uuid", "event", "distinct_id", "timestamp", "properties", "created_at", "seq"]


class CaptureError(ValueError):
    """An event cannot be accepted (HTTP 400 on the capture endpoints)."""


def uuid5_text(namespace: uuidlib.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` without building UUID objects (faster in bulk)."""
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode("utf-8")).digest()[:16])  # noqa: S324
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utcnow() -> datetime:
    """Naive UTC now (the emulator stores naive UTC timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 string (or datetime) as naive UTC; None when unreadable."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def iso(value: datetime | None) -> str | None:
    """Naive UTC datetime as PostHog writes it (``2026-01-01T00:00:00Z``)."""
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat() + "Z"


@dataclass
class Person:
    """One person: a single distinct id (the emulator does not merge persons)."""

    id: str
    distinct_id: str
    properties: dict[str, Any]
    created_at: datetime
    seq: int

    def to_api(self) -> dict[str, Any]:
        """The person object as the persons API returns it."""
        props = self.properties
        name = props.get("email") or props.get("name") or self.distinct_id
        return {
            "id": self.id,
            "uuid": self.id,
            "name": str(name),
            "distinct_ids": [self.distinct_id],
            "properties": dict(props),
            "created_at": iso(self.created_at),
            "last_seen_at": None,
            "is_identified": False,
        }


@dataclass
class Store:
    """Events, persons and cohorts, guarded by one lock (duckdb is used serially)."""

    conn: duckdb.DuckDBPyConnection = field(default_factory=lambda: duckdb.connect(":memory:"))
    lock: threading.RLock = field(default_factory=threading.RLock)
    persons: dict[str, Person] = field(default_factory=dict)  # by distinct id
    persons_by_id: dict[str, Person] = field(default_factory=dict)  # by person UUID
    cohorts: dict[int, dict[str, Any]] = field(default_factory=dict)
    duplicates_dropped: int = 0
    _pending: list[tuple] = field(default_factory=list)
    _seq: int = 0
    _persons_dirty: bool = True  # rebuild the whole duckdb persons table at the next sync
    _changed: set[str] = field(default_factory=set)  # distinct ids to re-mirror otherwise

    def __post_init__(self) -> None:
        self.conn.execute("SET TimeZone = 'UTC'")
        self.conn.execute(
            "CREATE TABLE ev (uuid VARCHAR, event VARCHAR, distinct_id VARCHAR, "
            "timestamp TIMESTAMP, properties VARCHAR, created_at TIMESTAMP, seq BIGINT)"
        )
        self.conn.execute(
            "CREATE TABLE ps (id VARCHAR, distinct_id VARCHAR, created_at TIMESTAMP, "
            "properties VARCHAR, is_identified BOOLEAN, seq BIGINT)"
        )
        self.conn.execute(
            "CREATE VIEW events AS SELECT uuid, event, distinct_id, timestamp, properties, "
            "created_at FROM ev"
        )
        self.conn.execute(
            "CREATE VIEW events_with_person AS SELECT e.uuid, e.event, e.distinct_id, "
            "e.timestamp, e.properties, e.created_at, p.id AS person_id, "
            "p.properties AS person_properties FROM ev e LEFT JOIN ps p "
            "ON p.distinct_id = e.distinct_id"
        )
        self.conn.execute(
            "CREATE VIEW persons AS SELECT id, created_at, properties, is_identified FROM ps"
        )
        self.conn.execute(
            "CREATE VIEW person_distinct_ids AS SELECT distinct_id, id AS person_id FROM ps"
        )

    # ------------------------------------------------------------------ events

    def capture(self, raw_events: Iterable[Mapping[str, Any]]) -> int:
        """Validate and buffer events (all or none); create/update their persons."""
        now = utcnow()
        rows = [self._normalise(raw, now) for raw in raw_events]
        if not rows:
            raise CaptureError("request holds no event")
        with self.lock:
            for row, props, top in rows:
                self._seq += 1
                self._pending.append((*row, self._seq))
                self._touch_person(row[2], row[3], props, top)
            if len(self._pending) >= FLUSH_AT:
                self.flush()
        return len(rows)

    @staticmethod
    def _normalise(raw: Mapping[str, Any], now: datetime) -> tuple[tuple, dict, Mapping]:
        if not isinstance(raw, Mapping):
            raise CaptureError("every event must be a JSON object")
        name = raw.get("event")
        if not isinstance(name, str) or not name.strip():
            raise CaptureError("missing event name")
        props = raw.get("properties") or {}
        if not isinstance(props, Mapping):
            raise CaptureError("properties must be a JSON object")
        distinct = raw.get("distinct_id", raw.get("$distinct_id", props.get("distinct_id")))
        if isinstance(distinct, (dict, list)):
            distinct = json.dumps(distinct)
        distinct = "" if distinct is None else str(distinct).strip()[:200]
        if not distinct:
            raise CaptureError("missing distinct_id")
        raw_uuid = raw.get("uuid")
        try:
            event_uuid = str(uuidlib.UUID(str(raw_uuid))) if raw_uuid else str(uuidlib.uuid4())
        except ValueError as exc:
            raise CaptureError(f"invalid uuid: {raw_uuid!r}") from exc
        timestamp = parse_timestamp(raw.get("timestamp")) or now
        props = dict(props)
        props.pop("distinct_id", None)
        row = (event_uuid, name, distinct, timestamp, json.dumps(props, default=str), now)
        return row, props, raw

    def _touch_person(
        self, distinct_id: str, timestamp: datetime, props: Mapping, top: Mapping
    ) -> None:
        if props.get("$process_person_profile") is False:
            return
        person = self.persons.get(distinct_id)
        if person is None:
            person = Person(
                id=uuid5_text(PERSON_NAMESPACE, distinct_id),
                distinct_id=distinct_id,
                properties={},
                created_at=timestamp,
                seq=len(self.persons),
            )
            self.persons[distinct_id] = person
            self.persons_by_id[person.id] = person
            self._changed.add(distinct_id)
        for source in (props, top):
            set_once = source.get("$set_once")
            if isinstance(set_once, Mapping):
                for key, value in set_once.items():
                    person.properties.setdefault(key, value)
                self._changed.add(distinct_id)
            set_props = source.get("$set")
            if isinstance(set_props, Mapping):
                person.properties.update(set_props)
                self._changed.add(distinct_id)
            unset = source.get("$unset")
            if isinstance(unset, list):
                for key in unset:
                    person.properties.pop(key, None)
                self._changed.add(distinct_id)

    def flush(self) -> None:
        """Move buffered events into duckdb, dropping duplicates (see module docstring)."""
        with self.lock:
            if not self._pending:
                return
            frame = pd.DataFrame(self._pending, columns=EVENT_COLUMNS)
            self._pending = []
            self._insert_frame(frame)

    def _insert_frame(self, frame: pd.DataFrame) -> None:
        before = self.conn.execute("SELECT count(*) FROM ev").fetchall()[0][0]
        self.conn.register("pending_frame", frame)
        try:
            self.conn.execute(
                "INSERT INTO ev SELECT p.uuid, p.event, p.distinct_id, p.timestamp, "
                "p.properties, p.created_at, p.seq FROM (SELECT * FROM pending_frame "
                "QUALIFY row_number() OVER (PARTITION BY uuid, distinct_id, event, "
                "CAST(timestamp AS DATE) ORDER BY seq) = 1) p "
                "ANTI JOIN ev e ON e.uuid = p.uuid AND e.distinct_id = p.distinct_id "
                "AND e.event = p.event AND CAST(e.timestamp AS DATE) = CAST(p.timestamp AS DATE)"
            )
        finally:
            self.conn.unregister("pending_frame")
        after = self.conn.execute("SELECT count(*) FROM ev").fetchall()[0][0]
        self.duplicates_dropped += len(frame) - (after - before)

    def add_event_frame(self, frame: pd.DataFrame) -> None:
        """Bulk-add events: columns uuid, event, distinct_id, timestamp (naive UTC),
        properties (JSON text). Persons must be added separately (:meth:`add_persons`)."""
        with self.lock:
            self.flush()
            frame = frame.loc[:, ["uuid", "event", "distinct_id", "timestamp", "properties"]]
            frame = frame.assign(
                created_at=utcnow(),
                seq=range(self._seq + 1, self._seq + 1 + len(frame)),
            )
            self._seq += len(frame)
            self._insert_frame(frame)

    def add_persons(
        self, records: Iterable[tuple[str, Mapping[str, Any], datetime | None]]
    ) -> None:
        """Create or update persons from (distinct_id, properties to $set, created_at)."""
        now = utcnow()
        with self.lock:
            for distinct_id, props, created in records:
                person = self.persons.get(distinct_id)
                if person is None:
                    person = Person(
                        id=uuid5_text(PERSON_NAMESPACE, distinct_id),
                        distinct_id=distinct_id,
                        properties=dict(props),
                        created_at=created or now,
                        seq=len(self.persons),
                    )
                    self.persons[distinct_id] = person
                    self.persons_by_id[person.id] = person
                else:
                    person.properties.update(props)
            self._persons_dirty = True

    @property
    def events(self) -> pd.DataFrame:
        """All stored events (uuid, event, distinct_id, timestamp, properties as dicts)."""
        with self.lock:
            self.sync()
            frame = self.conn.execute(
                "SELECT uuid, event, distinct_id, timestamp, properties FROM ev ORDER BY seq"
            ).df()
        frame["properties"] = frame["properties"].map(json.loads)
        return frame

    def event_count(self) -> int:
        """Number of stored events (after de-duplication)."""
        with self.lock:
            self.flush()
            return int(self.conn.execute("SELECT count(*) FROM ev").fetchall()[0][0])

    # ------------------------------------------------------------------ persons

    def sync(self) -> None:
        """Flush events and mirror persons into duckdb (before any query): only the persons
        changed since the last sync, or all of them after a bulk load."""
        with self.lock:
            self.flush()
            if not self._persons_dirty and not self._changed:
                return
            full = self._persons_dirty or len(self._changed) > len(self.persons) // 5
            if full:
                people = list(self.persons.values())
            else:
                people = [self.persons[d] for d in self._changed if d in self.persons]
            frame = pd.DataFrame(
                {
                    "id": [p.id for p in people],
                    "distinct_id": [p.distinct_id for p in people],
                    "created_at": pd.to_datetime([p.created_at for p in people]),
                    "properties": [json.dumps(p.properties, default=str) for p in people],
                    "is_identified": False,
                    "seq": [p.seq for p in people],
                }
            )
            self.conn.register("persons_frame", frame)
            try:
                if full:
                    self.conn.execute("DELETE FROM ps")
                else:
                    self.conn.execute(
                        "DELETE FROM ps WHERE distinct_id IN "
                        "(SELECT distinct_id FROM persons_frame)"
                    )
                self.conn.execute(
                    "INSERT INTO ps SELECT id, distinct_id, CAST(created_at AS TIMESTAMP), "
                    "properties, is_identified, seq FROM persons_frame"
                )
            finally:
                self.conn.unregister("persons_frame")
            self._persons_dirty = False
            self._changed.clear()

    def person_by_id(self, person_id: str) -> Person | None:
        """A person by its UUID (or its distinct id)."""
        with self.lock:
            return self.persons_by_id.get(person_id) or self.persons.get(person_id)

    def clear(self) -> None:
        """Drop every event, person and cohort."""
        with self.lock:
            self._pending = []
            self.conn.execute("DELETE FROM ev")
            self.persons.clear()
            self.persons_by_id.clear()
            self.cohorts.clear()
            self.duplicates_dropped = 0
            self._persons_dirty = True
            self._changed.clear()

    def close(self) -> None:
        """Close the duckdb connection (the store is unusable afterwards)."""
        with self.lock:
            self.conn.close()

    def execute(self, sql: str) -> duckdb.DuckDBPyConnection:
        """Run SQL (already translated) on synced tables; the caller holds :attr:`lock`."""
        self.sync()
        return self.conn.execute(sql)
