"""What PostHog's capture service and ingestion pipeline do to one event, in the emulator.

* Capture (``rust/capture``): the event name must be a non-empty string, the distinct id comes
  from ``distinct_id``, ``$distinct_id`` or ``properties.distinct_id`` (numbers and objects
  stringified, trimmed to 200 characters), a given ``uuid`` must parse (else the whole
  request is a 400), a missing one becomes a UUIDv7.
* Timestamps (``nodejs/src/worker/ingestion/timestamps.ts`` ``parseEventTimestamp``): with the
  request's ``sent_at`` and no ``$ignore_sent_at`` property the timestamp becomes
  ``now + (timestamp - sent_at)``; ``offset`` (ms) gives ``now - offset``; more than 23 h in
  the future becomes ``now``; unreadable becomes ``now``. Text without an offset is UTC.
* Property types (``rust/property-defs-rs`` ``detect_property_type``): the first type seen for
  a property name wins; numbers are Numeric, JSON booleans and "true"/"false" text Boolean,
  date-like text DateTime, other text String.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

FUTURE_CUTOFF = timedelta(hours=23)  # FutureEventHoursCutoffMillis
DISTINCT_ID_MAX = 200
PERSON_NAMESPACE = uuidlib.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")  # PERSON_UUIDV5_NAMESPACE
SKIP_PROPERTIES = {"$set", "$set_once", "$unset", "$group_0", "$group_1", "$group_2",
                   "$group_3", "$group_4", "$groups"}  # fmt: skip
DATETIME_KEYWORDS = ("time", "timestamp", "date", "_at", "-at", "createdat", "updatedat")
_DATETIME_PREFIX = re.compile(
    r"^(([0-9]{4}[/-][0-2][0-9][/-][0-3][0-9])|([0-2][0-9][/-][0-3][0-9][/-][0-9]{4}))"
    r"([ T][0-2][0-9]:[0-6][0-9]:[0-6][0-9].*)?$"
)
SIX_MONTHS = 15_768_000


class CaptureError(ValueError):
    """An event the capture service refuses (the whole request is answered 400)."""


@dataclass
class CapturedEvent:
    """One accepted event, waiting for the ingestion pipeline."""

    uuid: str
    event: str
    distinct_id: str
    properties: dict[str, Any]
    timestamp: datetime  # aware UTC
    captured_at: datetime  # aware UTC: the server's "now" at capture
    person_mode: bool  # False for $process_person_profile: false


def uuid7(now: datetime | None = None) -> str:
    """A UUIDv7 (what capture gives an event without a uuid)."""
    millis = int((now or datetime.now(UTC)).timestamp() * 1000)
    raw = bytearray(millis.to_bytes(6, "big") + secrets.token_bytes(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuidlib.UUID(bytes=bytes(raw)))


def person_uuid(team_id: int, distinct_id: str) -> str:
    """PostHog's ``uuidFromDistinctId(team_id, distinct_id)`` (a UUIDv5)."""
    return str(uuidlib.uuid5(PERSON_NAMESPACE, f"{team_id}:{distinct_id}"))


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 text (no offset = UTC) or epoch number as aware UTC; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def event_timestamp(
    raw: Mapping[str, Any],
    properties: Mapping[str, Any],
    now: datetime,
    sent_at: Any,
    correct: bool,
) -> datetime:
    """The timestamp ingestion gives an event (see the module docstring)."""
    given = parse_datetime(raw.get("timestamp")) if raw.get("timestamp") else None
    if not correct:
        return given or now
    skew_base = None
    if sent_at and not properties.get("$ignore_sent_at"):
        skew_base = parse_datetime(sent_at)
    if given is not None and skew_base is not None:
        parsed = now + (given - skew_base)
    elif given is not None:
        parsed = given
    elif raw.get("timestamp"):
        return now  # unreadable: ignored_invalid_timestamp
    else:
        parsed = now
    offset = raw.get("offset")
    if isinstance(offset, (int, float)) and not isinstance(offset, bool) and offset:
        parsed = now - timedelta(milliseconds=offset)
    if parsed - now > FUTURE_CUTOFF:
        return now  # event_timestamp_in_future
    if not 0 < parsed.year <= 9999:
        return now
    return parsed


def _distinct_id(raw: Mapping[str, Any], properties: Mapping[str, Any]) -> str:
    value = raw.get("distinct_id")
    if value is None:
        value = raw.get("$distinct_id")
    if value is None:
        value = properties.get("distinct_id")
    if isinstance(value, (dict, list)):
        value = json.dumps(value, separators=(",", ":"))
    text = "" if value is None else str(value)
    text = text[:DISTINCT_ID_MAX]
    if not text.strip():
        raise CaptureError("missing distinct_id")
    return text


_UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                        r"[0-9a-fA-F]{12}$")  # fmt: skip


_CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _uuid(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and _CANONICAL_UUID.match(value):
        return value
    text = str(value).strip("{}")
    if not _UUID_TEXT.match(text):
        raise CaptureError(f"invalid uuid: {value!r}")
    return str(uuidlib.UUID(text))


def normalise(
    raw: Any, now: datetime, sent_at: Any = None, *, correct_timestamps: bool = False
) -> CapturedEvent:
    """Check one capture-shaped event and give it PostHog's uuid, distinct id and timestamp."""
    if not isinstance(raw, Mapping):
        raise CaptureError("every event must be a JSON object")
    name = raw.get("event")
    if not isinstance(name, str) or not name:
        raise CaptureError("missing event name")
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        raise CaptureError("properties must be a JSON object")
    properties = dict(properties)
    distinct_id = _distinct_id(raw, properties)
    event_uuid = _uuid(raw.get("uuid")) or uuid7(now)
    for key in ("$set", "$set_once"):
        top = raw.get(key)
        if isinstance(top, Mapping):
            inner = properties.get(key)
            properties[key] = {**top, **(inner if isinstance(inner, Mapping) else {})}
    if isinstance(raw.get("$unset"), list) and "$unset" not in properties:
        properties["$unset"] = list(raw["$unset"])
    timestamp = event_timestamp(raw, properties, now, sent_at, correct_timestamps)
    person_mode = properties.get("$process_person_profile") is not False
    return CapturedEvent(event_uuid, name, distinct_id, properties, timestamp, now, person_mode)


def detect_property_type(key: str, value: Any) -> str | None:
    """The type property-defs-rs records the first time it sees ``key`` with ``value``."""
    key = key.lower()
    if key.startswith(("utm_", "$feature/", "$survey_response")) or key == "$feature_flag_response":
        return "String"
    if any(word in key for word in DATETIME_KEYWORDS):
        if isinstance(value, str) and _is_date_text(value):
            return "DateTime"
        if isinstance(value, int) and not isinstance(value, bool):
            if value >= int(time.time()) - SIX_MONTHS:
                return "DateTime"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Numeric"
    if isinstance(value, str):
        text = value.strip()
        if text in ("true", "false", "TRUE", "FALSE"):
            return "Boolean"
        if _is_date_text(text):
            return "DateTime"
        return "String"
    return None


def _is_date_text(text: str) -> bool:
    if _DATETIME_PREFIX.match(text):
        return True
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None  # RFC 3339 needs an offset
