"""The HogQL functions the emulator knows and the ClickHouse SQL each prints to.

Names and mappings follow PostHog's ``posthog/hogql/functions/mapping.py`` and
``posthog/hogql/functions/clickhouse/*.py`` (``conversions.py``: ``toFloat`` →
``accurateCastOrNull(x, 'Float64')``, ``toInt`` → ``accurateCastOrNull(x, 'Int64')``,
``toDecimal(x, s)`` → ``accurateCastOrNull(x, 'Decimal64(s)')``, ``toDateTime`` →
``parseDateTime64BestEffortOrNull(x, 6, tz)``; ``aggregations.py``). HogQL function names are
case-sensitive except the SQL-standard ones marked ``any_case``; an unknown name is refused
with PostHog's "Unsupported function call" message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Printer = Callable[[list[str]], str]


@dataclass(frozen=True)
class Function:
    """One HogQL function: its ClickHouse name (or a printer), arity and kind."""

    clickhouse: str | Printer
    min_args: int = 0
    max_args: int | None = None
    aggregate: bool = False
    any_case: bool = False
    first_arg_datetime: bool = False  # PostHog wraps the first argument in toDateTime()
    min_params: int = 0
    max_params: int = 0


def _cast(target: str) -> Printer:
    return lambda a: f"accurateCastOrNull({a[0]}, '{target}')"


def _same(name: str, low: int, high: int | None, **kw: object) -> Function:
    return Function(name, low, high, **kw)  # type: ignore[arg-type]


def _decimal(a: list[str]) -> str:
    return f"accurateCastOrNull({a[0]}, concat('Decimal64(', toString({a[1]}), ')'))"


CONVERSIONS: dict[str, Function] = {
    "toInt": Function(_cast("Int64"), 1, 1),
    "toIntOrZero": Function("toInt64OrZero", 1, 1),
    "toFloat": Function(_cast("Float64"), 1, 1),
    "toFloatOrNull": Function(_cast("Float64"), 1, 1),
    "toFloat64OrNull": Function(_cast("Float64"), 1, 1),
    "toFloatOrZero": Function("toFloat64OrZero", 1, 1),
    "toFloatOrDefault": Function(
        lambda a: f"toFloat64OrDefault({a[0]}, accurateCast({a[1] if len(a) > 1 else 0}, "
        "'Float64'))", 1, 2,
    ),
    "toDecimal": Function(_decimal, 2, 2),
    "toUUID": Function(_cast("UUID"), 1, 1),
    "toString": _same("toString", 1, 2),
    "toNullableString": Function(_cast("Nullable(String)"), 1, 1),
    "toBool": Function(_cast("Bool"), 1, 1),
    "toJSONString": _same("toJSONString", 1, 1),
    "toTypeName": _same("toTypeName", 1, 1),
    "accurateCast": _same("accurateCast", 2, 2),
    "accurateCastOrNull": _same("accurateCastOrNull", 2, 2),
    "parseDateTimeBestEffort": Function(
        lambda a: f"parseDateTime64BestEffortOrNull({a[0]}, 6, {a[1] if len(a) > 1 else TZ})", 1, 2
    ),
    "cityHash64": _same("cityHash64", 1, None),
    "sipHash64": _same("sipHash64", 1, None),
    "hex": _same("hex", 1, 1),
    "MD5": _same("MD5", 1, 1),
    **{n: Function(_cast(t), 1, 1) for n, t in [
        ("toInt8", "Int8"), ("toInt16", "Int16"), ("toInt32", "Int32"), ("toInt64", "Int64"),
        ("toUInt8", "UInt8"), ("toUInt16", "UInt16"), ("toUInt32", "UInt32"),
        ("toUInt64", "UInt64"), ("toFloat32", "Float32"), ("toFloat64", "Float64"),
    ]},
    **{n: _same(n, 1, 1) for n in [
        "toInt8OrZero", "toInt16OrZero", "toInt32OrZero", "toInt64OrZero", "toInt8OrNull",
        "toInt16OrNull", "toInt32OrNull", "toInt64OrNull", "toUInt8OrZero", "toUInt32OrZero",
        "toUInt64OrZero", "toUInt8OrNull", "toUInt32OrNull", "toUInt64OrNull",
        "toFloat32OrZero", "toFloat64OrZero", "toFloat32OrNull",
    ]},
    **{f"toDecimal{bits}": _same(f"toDecimal{bits}", 2, 2) for bits in (32, 64, 128, 256)},
    **{f"toDecimal{bits}OrNull": _same(f"toDecimal{bits}OrNull", 2, 2) for bits in (32, 64, 128)},
}
TZ = "'UTC'"  # the emulator's project time zone (PostHog appends the team's)

DATES: dict[str, Function] = {
    "now": Function(lambda a: f"now64(6, {TZ})", 0, 0),
    "today": Function(lambda a: "today()", 0, 0),
    "yesterday": Function(lambda a: "yesterday()", 0, 0),
    "toTimeZone": _same("toTimeZone", 2, 2),
    "toUnixTimestamp": _same("toUnixTimestamp", 1, 2),
    "fromUnixTimestamp": _same("fromUnixTimestamp", 1, 1),
    "dateDiff": _same("dateDiff", 3, 4),
    "date_diff": _same("dateDiff", 3, 4),
    "dateAdd": _same("dateAdd", 3, 3),
    "dateSub": _same("dateSub", 3, 3),
    "formatDateTime": _same("formatDateTime", 2, 3),
    **{n: Function(n, 1, 2, first_arg_datetime=True) for n in [
        "toStartOfDay", "toStartOfHour", "toStartOfMinute", "toStartOfMonth", "toStartOfYear",
        "toStartOfQuarter", "toMonday", "toYear", "toMonth", "toDayOfMonth", "toDayOfWeek",
        "toHour", "toMinute", "toSecond", "toYYYYMM", "toYYYYMMDD", "toStartOfISOYear",
    ]},
    "toStartOfWeek": Function("toStartOfWeek", 1, 3, first_arg_datetime=True),
    **{n: _same(n, 2, 2) for n in [
        "addSeconds", "addMinutes", "addHours", "addDays", "addWeeks", "addMonths", "addYears",
        "subtractSeconds", "subtractMinutes", "subtractHours", "subtractDays", "subtractWeeks",
        "subtractMonths", "subtractYears",
    ]},
    **{f"toInterval{u}": _same(f"toInterval{u}", 1, 1) for u in [
        "Second", "Minute", "Hour", "Day", "Week", "Month", "Quarter", "Year"
    ]},
}

STRINGS: dict[str, Function] = {
    "lower": _same("lower", 1, 1, any_case=True),
    "upper": _same("upper", 1, 1, any_case=True),
    "lowerUTF8": _same("lowerUTF8", 1, 1),
    "upperUTF8": _same("upperUTF8", 1, 1),
    "length": _same("length", 1, 1, any_case=True),
    "lengthUTF8": _same("lengthUTF8", 1, 1),
    "empty": _same("empty", 1, 1),
    "notEmpty": _same("notEmpty", 1, 1),
    "reverse": _same("reverse", 1, 1),
    "substring": _same("substring", 2, 3, any_case=True),
    "substr": _same("substring", 2, 3),
    "left": _same("left", 2, 2),
    "right": _same("right", 2, 2),
    "trim": Function(lambda a: f"trimBoth({a[0]})" if len(a) == 1 else
                     f"trim(BOTH {a[1]} FROM {a[0]})", 1, 2, any_case=True),
    "trimLeft": _same("trimLeft", 1, 1),
    "trimRight": _same("trimRight", 1, 1),
    "trimBoth": _same("trimBoth", 1, 1),
    "ltrim": _same("trimLeft", 1, 1),
    "rtrim": _same("trimRight", 1, 1),
    "leftPad": _same("leftPad", 2, 3),
    "rightPad": _same("rightPad", 2, 3),
    "repeat": _same("repeat", 2, 2),
    "format": _same("format", 2, None),
    "position": _same("position", 2, 3),
    "positionCaseInsensitive": _same("positionCaseInsensitive", 2, 3),
    "startsWith": _same("startsWith", 2, 2),
    "endsWith": _same("endsWith", 2, 2),
    "match": _same("match", 2, 2),
    "like": _same("like", 2, 2),
    "ilike": _same("ilike", 2, 2),
    "notLike": _same("notLike", 2, 2),
    "extract": _same("extract", 2, 2),
    "extractAll": _same("extractAll", 2, 2),
    "replace": _same("replace", 3, 3),
    "replaceAll": _same("replaceAll", 3, 3),
    "replaceOne": _same("replaceOne", 3, 3),
    "replaceRegexpAll": _same("replaceRegexpAll", 3, 3),
    "replaceRegexpOne": _same("replaceRegexpOne", 3, 3),
    "splitByChar": _same("splitByChar", 2, 3),
    "splitByString": _same("splitByString", 2, 3),
    "splitByRegexp": _same("splitByRegexp", 2, 3),
    "arrayStringConcat": _same("arrayStringConcat", 1, 2),
    "toValidUTF8": _same("toValidUTF8", 1, 1),
    "base64Encode": _same("base64Encode", 1, 1),
    "base64Decode": _same("base64Decode", 1, 1),
    "JSONExtractString": _same("JSONExtractString", 1, None),
    "JSONExtractRaw": _same("JSONExtractRaw", 1, None),
    "JSONExtractInt": _same("JSONExtractInt", 1, None),
    "JSONExtractUInt": _same("JSONExtractUInt", 1, None),
    "JSONExtractFloat": _same("JSONExtractFloat", 1, None),
    "JSONExtractBool": _same("JSONExtractBool", 1, None),
    "JSONExtractArrayRaw": _same("JSONExtractArrayRaw", 1, None),
    "JSONExtractKeys": _same("JSONExtractKeys", 1, None),
    "JSONExtract": _same("JSONExtract", 2, None),
    "JSONHas": _same("JSONHas", 1, None),
    "JSONLength": _same("JSONLength", 1, None),
    "JSONType": _same("JSONType", 1, None),
    "isValidJSON": _same("isValidJSON", 1, 1),
}

LOGIC: dict[str, Function] = {
    "if": _same("if", 3, 3),
    "multiIf": _same("multiIf", 3, None),
    "ifNull": _same("ifNull", 2, 2, any_case=True),
    "coalesce": _same("coalesce", 1, None, any_case=True),
    "nullIf": _same("nullIf", 2, 2, any_case=True),
    "isNull": _same("isNull", 1, 1, any_case=True),
    "isNotNull": _same("isNotNull", 1, 1),
    "assumeNotNull": _same("assumeNotNull", 1, 1),
    "toNullable": _same("toNullable", 1, 1),
    "transform": _same("transform", 3, 4),
    "greatest": _same("greatest", 2, None, any_case=True),
    "least": _same("least", 2, None, any_case=True),
    "in": _same("in", 2, 2),
    "notIn": _same("notIn", 2, 2),
    "equals": _same("equals", 2, 2),
    "notEquals": _same("notEquals", 2, 2),
    "and": _same("and", 2, None),
    "or": _same("or", 2, None),
    "not": _same("not", 1, 1),
    "has": _same("has", 2, 2),
    "hasAny": _same("hasAny", 2, 2),
    "indexOf": _same("indexOf", 2, 2),
    "arrayMap": _same("arrayMap", 2, None),
    "arrayFilter": _same("arrayFilter", 2, None),
    "arrayExists": _same("arrayExists", 1, None),
    "arrayAll": _same("arrayAll", 1, None),
    "arraySort": _same("arraySort", 1, None),
    "arrayDistinct": _same("arrayDistinct", 1, 1),
    "arrayConcat": _same("arrayConcat", 1, None),
    "arraySlice": _same("arraySlice", 2, 3),
    "arrayElement": _same("arrayElement", 2, 2),
    "arraySum": _same("arraySum", 1, 2),
    "arrayCount": _same("arrayCount", 1, 2),
    "range": _same("range", 1, 3),
    "array": _same("array", 0, None),
    "tuple": _same("tuple", 0, None),
    "tupleElement": _same("tupleElement", 2, 3),
}

MATH: dict[str, Function] = {
    "floor": _same("floor", 1, 2, any_case=True),
    "ceil": _same("ceil", 1, 2, any_case=True),
    "ceiling": _same("ceil", 1, 2, any_case=True),
    "round": _same("round", 1, 2, any_case=True),
    "roundBankers": _same("roundBankers", 1, 2),
    "trunc": _same("trunc", 1, 2),
    "abs": _same("abs", 1, 1, any_case=True),
    "sign": _same("sign", 1, 1),
    "sqrt": _same("sqrt", 1, 1),
    "exp": _same("exp", 1, 1),
    "log": _same("log", 1, 1),
    "log2": _same("log2", 1, 1),
    "log10": _same("log10", 1, 1),
    "pow": _same("pow", 2, 2),
    "power": _same("pow", 2, 2),
    "intDiv": _same("intDiv", 2, 2),
    "intDivOrZero": _same("intDivOrZero", 2, 2),
    "modulo": _same("modulo", 2, 2),
    "plus": _same("plus", 2, 2),
    "minus": _same("minus", 2, 2),
    "multiply": _same("multiply", 2, 2),
    "divide": _same("divide", 2, 2),
    "pi": _same("pi", 0, 0),
    "e": _same("e", 0, 0),
    "isNaN": _same("isNaN", 1, 1),
    "isFinite": _same("isFinite", 1, 1),
}

AGGREGATES: dict[str, Function] = {
    **{n: Function(n, low, high, aggregate=True, any_case=n in ("count", "sum", "avg", "min",
                                                                   "max"))
       for n, low, high in [
        ("count", 0, 1), ("countIf", 1, 2), ("sum", 1, 1), ("sumIf", 2, 2), ("avg", 1, 1),
        ("avgIf", 2, 2), ("min", 1, 1), ("minIf", 2, 2), ("max", 1, 1), ("maxIf", 2, 2),
        ("any", 1, 1), ("anyIf", 2, 2), ("anyLast", 1, 1), ("argMin", 2, 2), ("argMax", 2, 2),
        ("argMinIf", 3, 3), ("argMaxIf", 3, 3), ("uniq", 1, None), ("uniqIf", 2, None),
        ("uniqExact", 1, None), ("uniqExactIf", 2, None), ("groupArray", 1, 1),
        ("groupUniqArray", 1, 1), ("groupArrayIf", 2, 2), ("median", 1, 1),
        ("stddevPop", 1, 1), ("stddevSamp", 1, 1), ("varPop", 1, 1), ("varSamp", 1, 1),
        ("sumArray", 1, 1),
    ]},
    "quantile": Function("quantile", 1, 1, aggregate=True, min_params=1, max_params=1),
    "quantiles": Function("quantiles", 1, 1, aggregate=True, min_params=1, max_params=None),  # type: ignore[arg-type]
}

FUNCTIONS: dict[str, Function] = {**CONVERSIONS, **DATES, **STRINGS, **LOGIC, **MATH, **AGGREGATES}
LEGACY_MISSING = frozenset({"toFloatOrNull"})  # not in older PostHog versions (self-hosted)
DATETIME_FUNCTIONS = frozenset({
    "toDateTime", "now", "toTimeZone", "parseDateTimeBestEffort", "fromUnixTimestamp",
    "toStartOfDay", "toStartOfHour", "toStartOfMinute", "toStartOfMonth", "toStartOfWeek",
    "toStartOfYear", "toStartOfQuarter", "dateAdd", "dateSub", "addDays", "addHours",
    "addMinutes", "addSeconds", "subtractDays", "subtractHours", "subtractMinutes",
    "subtractSeconds",
})  # fmt: skip


def lookup(name: str, *, legacy: bool = False) -> Function | None:
    """The function called ``name`` (exact, or any case for SQL-standard names)."""
    if legacy and name in LEGACY_MISSING:
        return None
    found = FUNCTIONS.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    for key, function in FUNCTIONS.items():
        if function.any_case and key.lower() == lowered:
            return function
    return None


def names(*, legacy: bool = False) -> list[str]:
    """Every known HogQL function name."""
    return sorted(n for n in FUNCTIONS if not (legacy and n in LEGACY_MISSING))
