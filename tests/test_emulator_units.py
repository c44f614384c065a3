"""The emulator's pieces without HTTP: property filters, HogQL translation, faults."""

from __future__ import annotations

import pytest

from drawkit.offline.posthog_emulator.faults import Faults
from drawkit.offline.posthog_emulator.filters import FilterError, match_property, resolve_datetime, validate_group
from drawkit.offline.posthog_emulator.hogql import HogQLError, run_query, substitute
from drawkit.offline.posthog_emulator.store import Store

PROPS = {"plan": "pro", "points": 12, "flag": True, "email": "Ada@Example.org", "empty": None}


@pytest.mark.parametrize(
    ("key", "operator", "value", "expected"),
    [
        ("plan", "exact", "pro", True),
        ("plan", "exact", ["free", "pro"], True),
        ("plan", "exact", "Pro", False),
        ("points", "exact", "12", True),
        ("flag", "exact", ["true"], True),
        ("flag", "exact", [False], False),
        ("plan", "is_not", ["pro"], False),
        ("missing", "is_not", ["pro"], True),
        ("plan", "is_set", None, True),
        ("empty", "is_set", None, False),
        ("missing", "is_not_set", None, True),
        ("points", "gt", 11, True),
        ("points", "gte", 12, True),
        ("points", "lt", 12, False),
        ("points", "lte", "12", True),
        ("plan", "gt", 1, False),
        ("email", "icontains", "example", True),
        ("email", "not_icontains", "example", False),
        ("email", "regex", r"^Ada@", True),
        ("email", "not_regex", r"^Bob@", True),
        ("missing", "gt", 1, False),
    ],
)
def test_property_operators(key, operator, value, expected):
    assert match_property(PROPS, {"key": key, "operator": operator, "value": value}) is expected


def test_filter_validation_names_what_is_unsupported():
    with pytest.raises(FilterError, match="operator 'between'"):
        validate_group(
            {"type": "AND", "values": [{"type": "person", "key": "a", "operator": "between"}]}
        )
    with pytest.raises(FilterError, match="numeric 'value'"):
        validate_group({"type": "person", "key": "a", "operator": "gt", "value": "x"})
    with pytest.raises(FilterError, match="explicit_datetime"):
        validate_group(
            {"type": "behavioral", "key": "e", "value": "performed_event", "event_type": "events",
             "explicit_datetime": "last tuesday"}
        )  # fmt: skip
    validate_group({"type": "OR", "values": [{"type": "cohort", "key": "id", "value": 3}]})


def test_relative_datetimes():
    from datetime import datetime

    now = datetime(2026, 11, 20, 12, 0)
    assert resolve_datetime("-2d", now) == datetime(2026, 11, 18, 12, 0)
    assert resolve_datetime("-3h", now) == datetime(2026, 11, 20, 9, 0)
    assert resolve_datetime("2026-11-19T00:00:00+01:00") == datetime(2026, 11, 18, 23, 0)


def test_placeholders_skip_string_literals_and_quote_values():
    text = substitute(
        "SELECT '{a}', {a}, {b}, {c}, {d} FROM t", {"a": "it's", "b": 2, "c": [1, 2], "d": None}
    )
    assert text == "SELECT '{a}', 'it\\'s', 2, (1, 2), NULL FROM t"


def _event(i: int) -> dict:
    return {
        "event": "recharge",
        "distinct_id": f"d{i}",
        "timestamp": f"2026-01-0{1 + i % 3}T10:00:00Z",
        "properties": {
            "amount_ngn": 100 * i,
            "nested": {"a": {"b": i}},
            "$set": {"email": f"u{i}@x.org"},
        },
    }


@pytest.fixture(scope="module")
def store() -> Store:
    s = Store()
    s.capture([_event(i) for i in range(6)])
    return s


HOGQL_CASES = [
    ("SELECT DISTINCT event FROM events", [["recharge"]]),
    (
        "WITH t AS (SELECT toFloat(properties.amount_ngn) AS a FROM events) "
        "SELECT count(), sum(a) FROM t",
        [[6, 1500.0]],
    ),
    (
        "SELECT distinct_id FROM events WHERE distinct_id IN ('d1', 'd2') UNION ALL "
        "SELECT distinct_id FROM events WHERE distinct_id LIKE 'd5%' ORDER BY 1",
        [["d1"], ["d2"], ["d5"]],
    ),
    (
        "SELECT e.distinct_id, p.properties.email FROM events e "
        "JOIN person_distinct_ids pdi ON pdi.distinct_id = e.distinct_id "
        "JOIN persons p ON p.id = pdi.person_id ORDER BY 1 LIMIT 2",
        [["d0", "u0@x.org"], ["d1", "u1@x.org"]],
    ),
    ("SELECT properties.nested.a.b FROM events ORDER BY 1 LIMIT 2", [["0"], ["1"]]),
    (
        "SELECT countIf(toFloat(properties.amount_ngn) > 200), uniqExact(distinct_id), "
        "sumIf(1, properties.amount_ngn >= 300) FROM events",
        [[3, 6, 3]],
    ),
    (
        "SELECT toUnixTimestamp(timestamp), toDate(timestamp) FROM events "
        "ORDER BY timestamp LIMIT 1",
        [[1767261600, "2026-01-01"]],
    ),
    (
        "SELECT round(1.26, 1), abs(-2), lower('A'), length('abc'), concat('a', 'b'), "
        "if(1 > 0, 'y', 'n'), ifNull(NULL, 3), isNull(NULL)",
        [[1.3, 2, "a", 3, "ab", "y", 3, True]],
    ),
    (
        "SELECT CASE WHEN toInt(properties.amount_ngn) > 200 THEN 'big' ELSE 'small' END AS k, "
        "count() FROM events GROUP BY k ORDER BY k",
        [["big", 3], ["small", 3]],
    ),
    (
        "SELECT JSONExtractFloat(properties, 'amount_ngn'), JSONExtractRaw(properties, 'nested') "
        "FROM events WHERE distinct_id = 'd1'",
        [[100.0, '{"a":{"b":1}}']],
    ),
    ("SELECT toInt('2.9'), toInt('-2.9'), intDiv(250, 100), toString(7)", [[2, -2, 2, "7"]]),
]


@pytest.mark.parametrize(("query", "expected"), HOGQL_CASES)
def test_hogql_subset(store, query, expected):
    assert run_query(store, query)["results"] == expected


def test_hogql_column_names_follow_aliases_and_expressions(store):
    body = run_query(
        store,
        "SELECT distinct_id, count() AS n, sum(toFloat(properties.amount_ngn)) "
        "FROM events GROUP BY distinct_id",
    )
    assert body["columns"] == ["distinct_id", "n", "sum(toFloat(properties.amount_ngn))"]
    assert [t[1] for t in body["types"]] == ["String", "Int64", "Float64"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT * FROM persons_raw", "invalid_input"),
        ("SELECT toFloat()", "invalid_input"),
        ("SELECT intDiv(1, 2, 3)", "invalid_input"),
        ("SELECT sleepEachRow(1)", "unsupported_function"),
        ("SELECT (", "syntax_error"),
        ("INSERT INTO events VALUES (1)", "invalid_input"),
        ("SELECT toFloat(properties.x) FROM events GROUP BY nope", "query_error"),
    ],
)
def test_hogql_errors_carry_a_code(store, query, code):
    with pytest.raises(HogQLError) as caught:
        run_query(store, query)
    assert caught.value.code == code


def test_faults_update_validates_and_reset_restores_defaults():
    faults = Faults()
    with pytest.raises(ValueError, match="unknown fault switch"):
        faults.update(colour="red")
    with pytest.raises(ValueError, match="between 0 and 1"):
        faults.update(drop_rate=-0.1)
    faults.update(error_rate=1, script=["drop"])
    assert faults.draw() == "drop" and faults.draw() == 503
    faults.reset()
    assert faults.to_dict() == Faults().to_dict()
    assert faults.draw() is None


def test_person_changes_reach_queries_incrementally():
    store = Store()
    store.add_persons((f"p{i}", {"flag": False}, None) for i in range(20))
    query = "SELECT properties.flag AS flag, count() AS n FROM persons GROUP BY flag ORDER BY flag"
    assert run_query(store, query)["results"] == [["false", 20]]
    store.capture([{"event": "$set", "distinct_id": "p3", "$set": {"flag": True}}])
    store.capture([{"event": "x", "distinct_id": "new", "properties": {"$set": {"flag": True}}}])
    assert store._changed == {"p3", "new"}  # a partial re-mirror, not the whole table
    assert run_query(store, query)["results"] == [["false", 19], ["true", 2]]
    joined = run_query(store, "SELECT distinct_id FROM events WHERE person.properties.flag = true")
    assert sorted(r[0] for r in joined["results"]) == ["new", "p3"]
