"""The emulator's pieces without HTTP: filters, HogQL parse/print/run, ingestion rules, faults."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drawkit.offline.posthog_emulator.cohort_filters import (
    FilterError,
    match_property,
    resolve_datetime,
    validate_group,
)
from drawkit.offline.posthog_emulator.cohort_filters import normalise as normalise_filters
from drawkit.offline.posthog_emulator.faults import Faults
from drawkit.offline.posthog_emulator.hogql.errors import HogQLError
from drawkit.offline.posthog_emulator.hogql.parser import parse_select
from drawkit.offline.posthog_emulator.hogql.printer import Printer, Settings
from drawkit.offline.posthog_emulator.hogql.runner import QueryOptions, run_hogql
from drawkit.offline.posthog_emulator.ingestion import detect_property_type, normalise
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


def test_placeholders_are_constants_never_spliced_text():
    text = "SELECT '{a}', {a}, {b}, {c}, {d}"
    body = run_hogql(STORE, text, {"a": "it's", "b": 2, "c": [1, 2], "d": None}, OPTIONS)
    assert body["results"] == [["{a}", "it's", 2, [1, 2], None]]
    with pytest.raises(HogQLError, match="Placeholder"):
        run_hogql(STORE, "SELECT {nope}", {}, OPTIONS)


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


STORE = Store()
STORE.ingest([_event(i) for i in range(6)])
OPTIONS = QueryOptions(persons_on_events=False, property_typing=False, legacy_functions=False,
                       paginate_always=True, max_execution_seconds=10)  # fmt: skip

HOGQL_CASES = [
    ("SELECT DISTINCT event FROM events", [["recharge"]]),
    (
        "WITH t AS (SELECT toFloat(properties.amount_ngn) AS a FROM events) "
        "SELECT count(), sum(a) FROM t",
        [[6, 1500.0]],
    ),
    (
        "SELECT distinct_id FROM (SELECT distinct_id FROM events WHERE distinct_id IN ('d1', 'd2') "
        "UNION ALL SELECT distinct_id FROM events WHERE distinct_id LIKE 'd5%') ORDER BY 1",
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
        "sumIf(1, toFloat(properties.amount_ngn) >= 300) FROM events",
        [[3, 6, 3]],
    ),
    (
        "SELECT toUnixTimestamp(timestamp), toDate(timestamp) FROM events "
        "ORDER BY timestamp LIMIT 1",
        [[1767261600, "2026-01-01"]],
    ),
    # ClickHouse semantics: ties round to even, a padded number is not a number
    ("SELECT round(2.5), round(0.125, 2), toFloat64OrNull(' 100'), toFloat(' 100')",
     [[2, 0.12, None, None]]),
    (
        "SELECT abs(-2), lower('A'), length('abc'), concat('a', 'b', NULL, 1), "
        "if(1 > 0, 'y', 'n'), ifNull(NULL, 3), isNull(NULL), coalesce(NULL, 'z')",
        [[2, "a", 3, "ab1", "y", 3, 1, "z"]],
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
    (
        "SELECT toInt('2'), toInt('2.9'), intDiv(250, 100), toString(7), toDecimal('1.25', 1), "
        "multiIf(1 = 2, 'a', 'b'), argMin('x', 1), trimBoth('  t '), "
        "splitByChar(',', 'a,b'), substring('hello', 2, 3), replaceRegexpAll('a1b2', '[0-9]', ''), "
        "match('abc', '^a'), startsWith('abc', 'ab'), upper('x')",
        [[2, None, 2, "7", 1.2, "b", "x", "t", ["a", "b"], "ell", "ab", 1, 1, "X"]],
    ),
    (
        "SELECT toDateTime('2026-11-19 11:00:00+02:00'), "
        "toTimeZone(toDateTime('2026-11-19 10:00:00'), 'Africa/Lagos')",
        [["2026-11-19T09:00:00Z", "2026-11-19T11:00:00+01:00"]],
    ),
]


@pytest.mark.parametrize(("query", "expected"), HOGQL_CASES)
def test_hogql_runs_with_clickhouse_semantics(query, expected):
    assert run_hogql(STORE, query, None, OPTIONS)["results"] == expected


def test_property_reads_print_as_posthogs_printer_does():
    tree = parse_select("SELECT properties.amount FROM events WHERE person.properties.x = 'a'")
    sql = Printer(Settings("db", person_property_types={"x": "Boolean"})).print_query(tree).sql
    assert ("replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(events.properties, 'amount'), ''), "
            "'null'), '^\"|\"$', '')") in sql  # fmt: skip
    assert "ifNull(equals(accurateCastOrNull(transform(toString(" in sql
    assert "events.person_properties" in sql
    typed = Printer(Settings("db", event_property_types={"amount": "Numeric"})).print_query(tree)
    assert "accurateCastOrNull(replaceRegexpAll(" in typed.sql and "'Float64')" in typed.sql


def test_limits_are_clamped_and_paged_as_posthog_does():
    def printed(text: str, **kw):
        return Printer(Settings("db", **kw)).print_query(parse_select(text))

    assert printed("SELECT 1 FROM events").sql.endswith("LIMIT 101")
    clamped = printed("SELECT 1 FROM events LIMIT 60000")
    assert clamped.sql.endswith("LIMIT 50000") and clamped.limit is None
    inner = printed("SELECT * FROM (SELECT uuid FROM events LIMIT 70000) LIMIT 10")
    assert "LIMIT 70000" in inner.sql and inner.sql.endswith("LIMIT 10")


def test_old_self_hosted_has_no_to_float_or_null():
    legacy = QueryOptions(False, False, True, True, 10)
    with pytest.raises(HogQLError, match="Unsupported function call 'toFloatOrNull"):
        run_hogql(STORE, "SELECT toFloatOrNull('1')", None, legacy)
    assert run_hogql(STORE, "SELECT toFloatOrNull('1')", None, OPTIONS)["results"] == [[1.0]]


def test_sent_at_correction_and_future_timestamps():
    now = datetime(2026, 11, 20, 0, 10, tzinfo=UTC)
    raw = {"event": "e", "distinct_id": "d", "timestamp": "2026-11-19T23:45:00Z"}
    moved = normalise(raw, now, "2026-11-19T23:50:00Z", correct_timestamps=True)
    assert moved.timestamp == datetime(2026, 11, 20, 0, 5, tzinfo=UTC)  # across midnight
    kept = normalise({**raw, "properties": {"$ignore_sent_at": True}}, now,
                     "2026-11-19T23:50:00Z", correct_timestamps=True)  # fmt: skip
    assert kept.timestamp == datetime(2026, 11, 19, 23, 45, tzinfo=UTC)
    future = normalise({**raw, "timestamp": "2026-11-21T02:00:00Z"}, now, None,
                       correct_timestamps=True)  # fmt: skip
    assert future.timestamp == now


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("amount", 100, "Numeric"), ("amount", "100", "String"), ("flag", True, "Boolean"),
     ("flag", "false", "Boolean"), ("utm_source", 5, "String"),
     ("paid_at", "2026-11-19", "DateTime"),
     ("note", "2026-11-19T10:00:00Z", "DateTime"), ("x", None, None)],
)  # fmt: skip
def test_property_types_as_property_defs_detects_them(key, value, expected):
    assert detect_property_type(key, value) == expected


def test_normalised_filters_gain_negation_bytecode_and_condition_hash():
    leaf = {"type": "person", "key": "blacklisted", "operator": "is_not", "value": ["true"]}
    stored, realtime = normalise_filters({"type": "AND", "values": [leaf]})
    got = stored["values"][0]
    assert got["negation"] is False and got["bytecode"][:2] == ["_H", 1]
    assert len(got["conditionHash"]) == 16 and realtime is True
    assert normalise_filters({"type": "AND", "values": [leaf]})[0] == stored  # deterministic


def test_hogql_column_names_follow_aliases_and_expressions():
    body = run_hogql(
        STORE,
        "SELECT distinct_id, count() AS n, sum(toFloat(properties.amount_ngn)) "
        "FROM events GROUP BY distinct_id",
        None,
        OPTIONS,
    )
    assert body["columns"] == ["distinct_id", "n", "sum(toFloat(properties.amount_ngn))"]
    assert [t[1] for t in body["types"]] == ["String", "UInt64", "Nullable(Float64)"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT * FROM persons_raw", "invalid_input"),
        ("SELECT toFloat()", "invalid_input"),
        ("SELECT intDiv(1, 2, 3)", "invalid_input"),
        ("SELECT sleepEachRow(1)", "invalid_input"),
        ("SELECT tofloat(1)", "invalid_input"),  # HogQL names are case-sensitive
        ("SELECT (", "syntax_error"),
        ("INSERT INTO events VALUES (1)", "syntax_error"),
        ("SELECT toFloat(properties.x) FROM events GROUP BY nope", "invalid_input"),
        ("SELECT properties.amount_ngn < 1 FROM events", "query_error"),  # String < number
    ],
)
def test_hogql_errors_carry_a_code(query, code):
    with pytest.raises(HogQLError) as caught:
        run_hogql(STORE, query, None, OPTIONS)
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


