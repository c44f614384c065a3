"""Cohort and person-property filters: validation, PostHog's normalisation, evaluation.

Normalised as PostHog's cohort serializer stores them (``posthog/api/cohort.py``
``validate_filters_and_compute_realtime_support``: the pydantic ``CohortFilters`` model dumped
with ``exclude_none``): every leaf gains ``negation: false``, and person and behavioural leaves
gain ``bytecode`` and ``conditionHash`` (``generate_cohort_filter_bytecode``: the first 16 hex
digits of the SHA-256 of the sorted-key JSON of the bytecode). The emulator's bytecode has
HogVM's shape (``["_H", 1, ...]``) but is its own encoding, not byte-identical to PostHog's.
Behavioural filters compare event *counts* (``performed_event``: at least one;
``performed_event_multiple``: ``operator`` + ``operator_value``), never sums of a property.

Supported (see docs/emulator.md): groups ``{"type": "AND"|"OR", "values": [...]}`` nested
freely; ``person`` leaves with operators exact, is_not, is_set, is_not_set, gt, gte, lt,
lte, icontains, not_icontains, regex, not_regex; ``behavioral`` leaves with value
performed_event or performed_event_multiple (``operator`` + ``operator_value`` on the count)
over ``event_type: "events"``, limited by ``time_value``/``time_interval`` (relative to now)
or ``explicit_datetime``/``explicit_datetime_to`` (ISO 8601 or relative like ``-30d``), with
optional ``event_filters`` on event properties; ``cohort`` leaves; ``negation`` everywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from drawkit.offline.posthog_emulator.ingestion import parse_datetime
from drawkit.offline.posthog_emulator.store import Store


def utcnow() -> datetime:
    """Naive UTC now."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 text as naive UTC (no offset = UTC); None when unreadable."""
    parsed = parse_datetime(value) if isinstance(value, str) else None
    return None if parsed is None else parsed.replace(tzinfo=None)

PERSON_OPERATORS = {
    "exact", "is_not", "is_set", "is_not_set", "gt", "gte", "lt", "lte",
    "icontains", "not_icontains", "regex", "not_regex",
}  # fmt: skip
BEHAVIORAL_VALUES = {"performed_event", "performed_event_multiple"}
INTERVALS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}
SQL_OPERATORS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class FilterError(ValueError):
    """A filter the emulator cannot evaluate; ``attr`` names the field."""

    def __init__(self, message: str, attr: str = "filters") -> None:
        super().__init__(message)
        self.attr = attr


# --------------------------------------------------------------------------- values


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _equal(actual: Any, expected: Any) -> bool:
    a, b = _number(actual), _number(expected)
    if a is not None and b is not None:
        return a == b
    if isinstance(actual, bool) or isinstance(expected, bool):
        return _text(actual).lower() == _text(expected).lower()
    return _text(actual) == _text(expected)


def match_property(props: Mapping[str, Any], leaf: Mapping[str, Any]) -> bool:
    """Whether a property dict satisfies one property filter (PostHog semantics)."""
    key = leaf.get("key")
    operator = leaf.get("operator") or "exact"
    value = leaf.get("value")
    present = key in props and props[key] is not None
    if operator == "is_set":
        return present
    if operator == "is_not_set":
        return not present
    if not present:
        return operator in ("is_not", "not_icontains", "not_regex")
    actual = props[key]
    if operator == "exact":
        return any(_equal(actual, v) for v in _as_list(value))
    if operator == "is_not":
        return not any(_equal(actual, v) for v in _as_list(value))
    if operator in ("icontains", "not_icontains"):
        found = _text(value).lower() in _text(actual).lower()
        return found if operator == "icontains" else not found
    if operator in ("regex", "not_regex"):
        found = re.search(_text(value), _text(actual)) is not None
        return found if operator == "regex" else not found
    a, b = _number(actual), _number(value)
    if a is None or b is None:
        return False
    return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[operator]


# --------------------------------------------------------------------------- validation


def validate_property(leaf: Any, attr: str) -> None:
    """Raise FilterError unless ``leaf`` is a supported person/event property filter."""
    if not isinstance(leaf, Mapping) or not isinstance(leaf.get("key"), str):
        raise FilterError("a property filter needs a string 'key'", attr)
    operator = leaf.get("operator") or "exact"
    if operator not in PERSON_OPERATORS:
        raise FilterError(
            f"operator {operator!r} is not supported by the emulator; use one of "
            f"{', '.join(sorted(PERSON_OPERATORS))}",
            attr,
        )
    if operator in ("gt", "gte", "lt", "lte") and _number(leaf.get("value")) is None:
        raise FilterError(f"operator {operator!r} needs a numeric 'value'", attr)


def validate_group(group: Any, attr: str = "filters") -> None:
    """Raise FilterError unless ``group`` is a supported cohort filter group."""
    if not isinstance(group, Mapping):
        raise FilterError("a filter group must be an object", attr)
    if "values" in group and group.get("type") in ("AND", "OR"):
        if not isinstance(group["values"], list):
            raise FilterError("a filter group's 'values' must be a list", attr)
        for item in group["values"]:
            validate_group(item, attr)
        return
    kind = group.get("type")
    if kind == "person":
        validate_property(group, attr)
    elif kind == "behavioral":
        _validate_behavioral(group, attr)
    elif kind == "cohort":
        if _number(group.get("value")) is None:
            raise FilterError("a cohort filter needs the cohort id as 'value'", attr)
    else:
        raise FilterError(
            f"filter type {kind!r} is not supported by the emulator "
            "(use AND/OR groups with person, behavioral or cohort filters)",
            attr,
        )


def _validate_behavioral(leaf: Mapping[str, Any], attr: str) -> None:
    for name in ("key", "value", "event_type"):
        if leaf.get(name) in (None, ""):
            raise FilterError(f"a behavioral filter needs {name!r}", attr)
    if leaf["value"] not in BEHAVIORAL_VALUES:
        raise FilterError(
            f"behavioral value {leaf['value']!r} is not supported by the emulator; use "
            f"{' or '.join(sorted(BEHAVIORAL_VALUES))}",
            attr,
        )
    if leaf["event_type"] != "events":
        raise FilterError("only event_type 'events' is supported by the emulator", attr)
    if leaf.get("time_value") not in (None, "") and _number(leaf["time_value"]) is None:
        raise FilterError("time_value must be a number", attr)
    if leaf.get("time_interval") and leaf["time_interval"] not in INTERVALS:
        raise FilterError(f"time_interval must be one of {', '.join(INTERVALS)}", attr)
    for name in ("explicit_datetime", "explicit_datetime_to"):
        if leaf.get(name) and resolve_datetime(leaf[name]) is None:
            raise FilterError(f"{name} {leaf[name]!r} is not a date/time or '-Nd'", attr)
    event_filters = leaf.get("event_filters") or []
    if not isinstance(event_filters, list):
        raise FilterError("event_filters must be a list of property filters", attr)
    for item in event_filters:
        validate_property(item, attr)
    if leaf["value"] == "performed_event_multiple":
        if (leaf.get("operator") or "gte") not in SQL_OPERATORS:
            raise FilterError("operator must be one of exact, gt, gte, lt, lte", attr)
        if _number(leaf.get("operator_value")) is None:
            raise FilterError("performed_event_multiple needs a numeric operator_value", attr)


def resolve_datetime(value: Any, now: datetime | None = None) -> datetime | None:
    """ISO 8601 (naive = UTC) or relative ``-7d``/``-12h``/``-2w``/``-1m``/``-1y``."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"-(\d+)([hdwmy])", value.strip())
    if match:
        days = {"h": 1 / 24, "d": 1, "w": 7, "m": 30, "y": 365}[match.group(2)]
        return (now or utcnow()) - timedelta(days=int(match.group(1)) * days)
    return parse_timestamp(value)


# --------------------------------------------------------------------------- evaluation


def evaluate(store: Store, group: Mapping[str, Any], cohort_members: Any) -> set[str]:
    """Person ids matching a filter group. ``cohort_members(id)`` resolves cohort leaves."""
    universe = {p.id for p in store.persons.values()}
    return _eval(store, group, cohort_members, universe)


def _eval(store: Store, node: Mapping[str, Any], members: Any, universe: set[str]) -> set[str]:
    if node.get("type") in ("AND", "OR") and "values" in node:
        parts = [_eval(store, item, members, universe) for item in node["values"]]
        if not parts:
            result = set(universe)
        elif node["type"] == "AND":
            result = set.intersection(*parts)
        else:
            result = set.union(*parts)
    elif node["type"] == "person":
        result = {p.id for p in store.persons.values() if match_property(p.properties, node)}
    elif node["type"] == "cohort":
        result = set(members(int(node["value"])))
    else:
        result = _behavioral(store, node)
    return universe - result if node.get("negation") else result


def _behavioral(store: Store, leaf: Mapping[str, Any]) -> set[str]:
    """Persons whose count of ``key`` events in the range satisfies the leaf (ClickHouse)."""
    now = utcnow()
    clauses = [f"event = {_sql_text(str(leaf['key']))}"]
    start = resolve_datetime(leaf.get("explicit_datetime"), now)
    if start is None and leaf.get("time_value") not in (None, ""):
        days = float(leaf["time_value"]) * INTERVALS[leaf.get("time_interval") or "day"]
        start = now - timedelta(days=days)
    end = resolve_datetime(leaf.get("explicit_datetime_to"), now)
    if start is not None:
        clauses.append(f"timestamp >= {_sql_time(start)}")
    if end is not None:
        clauses.append(f"timestamp < {_sql_time(end)}")
    op, threshold = ">=", 1.0
    if leaf["value"] == "performed_event_multiple":
        op = SQL_OPERATORS[leaf.get("operator") or "gte"]
        threshold = float(leaf["operator_value"])
    where = " AND ".join(clauses)
    with store.lock:
        store.sync()
        table = f"{store.database}.events"
        if leaf.get("event_filters"):
            rows = store.engine.query(
                f"SELECT toString(person_id), groupArray(properties) FROM {table} "  # noqa: S608
                f"WHERE {where} GROUP BY person_id"
            )["data"]
            return {pid for pid, props in rows
                    if _compare(sum(all(match_property(json.loads(p), f)
                                        for f in leaf["event_filters"]) for p in props),
                                op, threshold)}  # fmt: skip
        rows = store.engine.query(
            f"SELECT toString(person_id) FROM {table} WHERE {where} "  # noqa: S608
            f"GROUP BY person_id HAVING count() {'=' if op == '=' else op} {threshold}"
        )["data"]
    return {row[0] for row in rows}


def _compare(n: float, op: str, threshold: float) -> bool:
    return {"=": n == threshold, ">": n > threshold, ">=": n >= threshold,
            "<": n < threshold, "<=": n <= threshold}[op]  # fmt: skip


def _sql_time(moment: datetime) -> str:
    return f"toDateTime64({_sql_text(moment.isoformat(sep=' '))}, 6, 'UTC')"


def _sql_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --------------------------------------------------------------------------- normalisation

_PERSON_FIELDS = ("type", "key", "operator", "value", "negation")
_BEHAVIOURAL_FIELDS = (
    "type", "key", "value", "event_type", "time_value", "time_interval", "negation", "operator",
    "operator_value", "seq_time_interval", "seq_time_value", "seq_event", "seq_event_type",
    "total_periods", "min_periods", "event_filters", "explicit_datetime", "explicit_datetime_to",
)  # fmt: skip


def normalise(group: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Filters as PostHog stores them, and whether every leaf has bytecode (realtime)."""
    if group.get("type") in ("AND", "OR") and "values" in group:
        items = [normalise(v) for v in group["values"]]
        return ({"type": group["type"], "values": [i[0] for i in items]},
                all(i[1] for i in items))  # fmt: skip
    kind = group.get("type")
    if kind == "cohort":
        return {"type": "cohort", "key": "id", "value": int(group["value"]),
                "negation": bool(group.get("negation", False))}, False  # fmt: skip
    names = _PERSON_FIELDS if kind == "person" else _BEHAVIOURAL_FIELDS
    leaf: dict[str, Any] = {}
    for name in names:
        value = group.get(name, False if name == "negation" else None)
        if value is not None:
            leaf[name] = value
    if kind == "behavioral":
        for name in ("time_value", "operator_value"):
            if name in leaf:
                leaf[name] = int(float(leaf[name]))
    bytecode = _bytecode(leaf)
    leaf["bytecode"] = bytecode
    leaf["conditionHash"] = hashlib.sha256(
        json.dumps(bytecode, sort_keys=True).encode()
    ).hexdigest()[:16]
    return leaf, True


def _bytecode(leaf: Mapping[str, Any]) -> list[Any]:
    """A HogVM-shaped encoding of the leaf's condition (deterministic; not PostHog's bytes)."""
    if leaf["type"] == "person":
        operator = leaf.get("operator") or "exact"
        code: list[Any] = ["_H", 1, 32, str(leaf["key"]), 32, "properties", 32, "person", 1, 3]
        values = leaf.get("value")
        for value in values if isinstance(values, list) else [values]:
            code += [32 if isinstance(value, str) else 33, value]
        return [*code, 32, operator, 2, "cohortMatch", 1]
    code = ["_H", 1, 32, str(leaf["key"]), 32, "event", 1, 1, 11]
    for name in ("explicit_datetime", "explicit_datetime_to", "time_value", "time_interval"):
        if name in leaf:
            code += [32, str(leaf[name])]
    return [*code, 32, str(leaf["value"]), 2, "behaviouralMatch", 1]
