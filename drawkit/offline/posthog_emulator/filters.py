"""Cohort and person-property filters: validation and evaluation over the emulator's store.

Supported (see docs/emulator.md): groups ``{"type": "AND"|"OR", "values": [...]}`` nested
freely; ``person`` leaves with operators exact, is_not, is_set, is_not_set, gt, gte, lt,
lte, icontains, not_icontains, regex, not_regex; ``behavioral`` leaves with value
performed_event or performed_event_multiple (``operator`` + ``operator_value`` on the count)
over ``event_type: "events"``, limited by ``time_value``/``time_interval`` (relative to now)
or ``explicit_datetime``/``explicit_datetime_to`` (ISO 8601 or relative like ``-30d``), with
optional ``event_filters`` on event properties; ``cohort`` leaves; ``negation`` everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from drawkit.offline.posthog_emulator.store import Store, parse_timestamp, utcnow

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
    now = utcnow()
    clauses = ["e.event = ?"]
    params: list[Any] = [leaf["key"]]
    start = resolve_datetime(leaf.get("explicit_datetime"), now)
    if start is None and leaf.get("time_value") not in (None, ""):
        days = float(leaf["time_value"]) * INTERVALS[leaf.get("time_interval") or "day"]
        start = now - timedelta(days=days)
    end = resolve_datetime(leaf.get("explicit_datetime_to"), now)
    if start is not None:
        clauses.append("e.timestamp >= ?")
        params.append(start)
    if end is not None:
        clauses.append("e.timestamp < ?")
        params.append(end)
    count_clause = "count(*) >= 1"
    if leaf["value"] == "performed_event_multiple":
        sql_op = SQL_OPERATORS[leaf.get("operator") or "gte"]
        count_clause = f"count(*) {sql_op} {float(leaf['operator_value'])}"
    with store.lock:
        store.sync()
        rows = store.conn.execute(
            f"SELECT e.distinct_id, list(e.properties) FROM ev e WHERE {' AND '.join(clauses)} "  # noqa: S608
            "GROUP BY e.distinct_id"
            if leaf.get("event_filters")
            else f"SELECT e.distinct_id FROM ev e WHERE {' AND '.join(clauses)} "  # noqa: S608
            f"GROUP BY e.distinct_id HAVING {count_clause}",
            params,
        ).fetchall()
        if leaf.get("event_filters"):
            rows = _filter_events(rows, leaf, count_clause)
        persons = store.persons
        return {persons[row[0]].id for row in rows if row[0] in persons}


def _filter_events(rows: list[tuple], leaf: Mapping[str, Any], count_clause: str) -> list:
    """Apply event property filters in Python, then the count condition."""
    op, threshold = count_clause.split(" ")[1], float(count_clause.split(" ")[2])
    compare = {
        "=": lambda n: n == threshold, ">": lambda n: n > threshold,
        ">=": lambda n: n >= threshold, "<": lambda n: n < threshold,
        "<=": lambda n: n <= threshold,
    }[op]  # fmt: skip
    kept = []
    for distinct_id, props_list in rows:
        n = sum(
            all(match_property(json.loads(p), f) for f in leaf["event_filters"])
            for p in props_list
        )
        if compare(n):
            kept.append((distinct_id,))
    return kept
