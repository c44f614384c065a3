"""A HogQL subset for the emulator, translated with sqlglot and run on duckdb.

Tables: ``events`` (uuid, event, distinct_id, timestamp, properties, created_at, person_id,
``person.properties.x``), ``persons`` (id, created_at, properties, is_identified) and
``person_distinct_ids`` (distinct_id, person_id). ``properties.x`` reads a JSON property as
text (cast with toFloat/toInt); compared with a number it is cast to a number, compared with
true/false it is compared with 'true'/'false'. ``{name}`` placeholders are filled from
``values``. Row limits follow PostHog: no LIMIT gives 100 rows, a LIMIT is capped at 50,000,
and ``hasMore`` says whether more rows existed. Anything outside the subset raises
:class:`HogQLError` (HTTP 400). docs/emulator.md lists the functions.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from drawkit.offline.posthog_emulator.store import Store, parse_timestamp, utcnow

DEFAULT_RETURNED_ROWS = 100
MAX_SELECT_RETURNED_ROWS = 50_000
TABLES = {"events", "persons", "person_distinct_ids"}
_FLOAT_FUNCS = {"tofloat", "tofloat64", "tofloatornull", "tofloat64ornull", "tofloatorzero"}
_INT_FUNCS = {"toint", "toint64", "toint32", "tointornull", "toint64ornull", "touint64"}
_IF_AGGS = {"sumif": exp.Sum, "avgif": exp.Avg, "minif": exp.Min, "maxif": exp.Max}
_PLACEHOLDER = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|\{\s*(\w+)\s*\}")
_DUCK_TYPES = {
    "BIGINT": "Int64", "INTEGER": "Int32", "HUGEINT": "Int64", "SMALLINT": "Int16",
    "TINYINT": "Int8", "UBIGINT": "UInt64", "DOUBLE": "Float64", "FLOAT": "Float32",
    "VARCHAR": "String", "BOOLEAN": "Bool", "DATE": "Date", "TIMESTAMP": "DateTime64(6, 'UTC')",
    "TIMESTAMP WITH TIME ZONE": "DateTime64(6, 'UTC')", "UUID": "UUID",
}  # fmt: skip


class HogQLError(ValueError):
    """A query outside the emulator's subset, or one that fails to run (HTTP 400)."""

    def __init__(self, message: str, code: str = "invalid_input") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Translation:
    """A HogQL query translated to duckdb SQL, with the row window PostHog would apply."""

    sql: str
    columns: list[str | None]
    limit: int
    offset: int


# --------------------------------------------------------------------------- placeholders


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def substitute(query: str, values: Mapping[str, Any] | None) -> str:
    """Replace ``{name}`` placeholders (outside string literals) by literal values."""
    values = values or {}

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)
        if name not in values:
            raise HogQLError(f"Placeholder {{{name}}} is not in 'values'")
        return _literal(values[name])

    return _PLACEHOLDER.sub(repl, query)


# --------------------------------------------------------------------------- translation


def translate(query: str, values: Mapping[str, Any] | None = None) -> Translation:
    """Translate a HogQL SELECT to duckdb SQL; raise HogQLError outside the subset."""
    text = substitute(query, values)
    try:
        statements = [s for s in sqlglot.parse(text, read="clickhouse") if s is not None]
    except ParseError as exc:
        raise HogQLError(f"Syntax error: {_first_line(exc)}", "syntax_error") from exc
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise HogQLError("Only a single SELECT query is supported")
    tree = statements[0]
    _check(tree)
    columns = _column_names(tree)
    needs_person = any(_mentions_person(c) for c in tree.find_all(exp.Column))
    tree = _bottom_up(tree, _rewrite)
    if needs_person:
        for table in tree.find_all(exp.Table):
            if table.name == "events":
                alias = table.alias or "events"
                table.set("this", exp.to_identifier("events_with_person"))
                table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    tree = _bottom_up(tree, _rewrite_comparison)
    limit, offset = _window(tree)
    tree = tree.limit(limit + 1) if isinstance(tree, exp.Select) else _limit_union(tree, limit)
    return Translation(tree.sql(dialect="duckdb"), columns, limit, offset)


def _bottom_up(tree: exp.Expression, fn: Any) -> exp.Expression:
    """Apply ``fn`` to every node, children before parents (replacing in place)."""
    for node in reversed(list(tree.dfs())):
        new = fn(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else "cannot parse the query"


def _check(tree: exp.Expression) -> None:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, (exp.DML, exp.Command, exp.Create, exp.Drop)):
            raise HogQLError("Only SELECT queries are supported")
        if isinstance(node, exp.Table):
            if not isinstance(node.this, exp.Identifier) or node.args.get("db"):
                raise HogQLError(f"Unknown table {node.sql(dialect='clickhouse')!r}")
            if node.name not in TABLES and node.name not in ctes:
                raise HogQLError(
                    f"Unknown table {node.name!r}: the emulator has "
                    f"{', '.join(sorted(TABLES))}"
                )
        if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc, exp.CombinedAggFunc)):
            name = str(node.this).lower()
            if name not in SUPPORTED_FUNCTIONS:
                raise HogQLError(
                    f"Unsupported function {node.this!r} in the emulator's HogQL subset",
                    "unsupported_function",
                )
        elif isinstance(node, exp.Func) and type(node).__name__.lower().startswith("read"):
            raise HogQLError(f"Unsupported function {node.sql(dialect='clickhouse')!r}")


def _column_names(tree: exp.Expression) -> list[str | None]:
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    names: list[str | None] = []
    for item in select.selects if select else []:
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and item.is_star):
            names.append(None)
        elif isinstance(item, exp.Alias):
            names.append(item.alias)
        elif isinstance(item, exp.Column):
            names.append(item.name)
        else:
            names.append(item.sql(dialect="clickhouse"))
    return names


def _mentions_person(column: exp.Column) -> bool:
    parts = [p.name for p in column.parts]
    return "person" in parts[:-1] or parts[-1] == "person_id"


def _json_path(keys: list[str]) -> exp.Literal:
    return exp.Literal.string("$" + "".join(f'."{k}"' for k in keys))


def _json_text(source: exp.Expression, keys: list[str]) -> exp.Expression:
    return exp.Anonymous(this="json_extract_string", expressions=[source, _json_path(keys)])


def _rewrite_column(column: exp.Column) -> exp.Expression:
    parts = [p.name for p in column.parts]
    if "properties" not in parts[:-1]:
        if parts[-2:] == ["person", "id"]:
            return exp.column("person_id", table=parts[0] if len(parts) == 3 else None)
        return column
    k = parts.index("properties")
    keys = parts[k + 1 :]
    prefix = parts[:k]
    source = "properties"
    if prefix and prefix[-1] == "person":
        source, prefix = "person_properties", prefix[:-1]
    if len(prefix) > 1:
        raise HogQLError(f"Cannot resolve {column.sql(dialect='clickhouse')!r}")
    return _json_text(exp.column(source, table=prefix[0] if prefix else None), keys)


def _cast(node: exp.Expression, to: str) -> exp.Expression:
    return exp.TryCast(this=node, to=exp.DataType.build(to))


def _to_int(node: exp.Expression) -> exp.Expression:
    trunc = exp.Anonymous(this="trunc", expressions=[_cast(node, "DOUBLE")])
    return _cast(trunc, "BIGINT")


def _timestamp_literal(text: str, tz: str | None) -> exp.Expression:
    parsed = parse_timestamp(text) if tz is None else _parse_in_zone(text, tz)
    if parsed is None:
        raise HogQLError(f"Cannot parse date/time {text!r}")
    return exp.Cast(
        this=exp.Literal.string(parsed.isoformat(sep=" ")), to=exp.DataType.build("TIMESTAMP")
    )


def _parse_in_zone(text: str, tz: str) -> dt.datetime | None:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HogQLError(f"Unknown time zone {tz!r}") from exc
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Column):
        return _rewrite_column(node)
    if isinstance(node, exp.ApproxDistinct):
        return exp.Count(this=exp.Distinct(expressions=[node.this]))
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc, exp.CombinedAggFunc)):
        return _rewrite_function(str(node.this).lower(), list(node.expressions))
    return node


def _typed(type_name: str, text: str) -> exp.Expression:
    return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build(type_name))


def _datetime(args: list[exp.Expression], target: str) -> exp.Expression:
    first = args[0]
    tz = args[1].name if len(args) > 1 and isinstance(args[1], exp.Literal) else None
    if isinstance(first, exp.Literal) and first.is_string:
        first = _timestamp_literal(first.name, tz)
        if target == "TIMESTAMP":
            return first
    return exp.Cast(this=first, to=exp.DataType.build(target))


def _json_extract(kind: str) -> Any:
    def build(args: list[exp.Expression]) -> exp.Expression:
        keys = [a.name for a in args[1:]]
        text = _json_text(args[0], keys)
        if kind == "string":
            return text
        if kind == "float":
            return _cast(text, "DOUBLE")
        if kind == "int":
            return _to_int(text)
        if kind == "bool":
            return exp.EQ(this=text, expression=exp.Literal.string("true"))
        raw = exp.Anonymous(this="json_extract", expressions=[args[0], _json_path(keys)])
        return exp.Cast(this=raw, to=exp.DataType.build("VARCHAR"))

    return build


def _if_aggregate(func: type[exp.Expression]) -> Any:
    return lambda a: exp.Filter(this=func(this=a[0]), expression=exp.Where(this=a[1]))


# name -> (fewest arguments, most arguments or None for any, builder)
FUNCTIONS: dict[str, tuple[int, int | None, Any]] = {
    **{name: (1, 1, lambda a: _cast(a[0], "DOUBLE")) for name in _FLOAT_FUNCS},
    **{name: (1, 1, lambda a: _to_int(a[0])) for name in _INT_FUNCS},
    **{name: (2, 2, _if_aggregate(func)) for name, func in _IF_AGGS.items()},
    "tostring": (1, 1, lambda a: exp.Cast(this=a[0], to=exp.DataType.build("VARCHAR"))),
    "todatetime": (1, 2, lambda a: _datetime(a, "TIMESTAMP")),
    "todate": (1, 2, lambda a: _datetime(a, "DATE")),
    "totimezone": (2, 2, lambda a: exp.Anonymous(
        this="timezone",
        expressions=[a[1], exp.Cast(this=a[0], to=exp.DataType.build("TIMESTAMPTZ"))],
    )),
    "intdiv": (2, 2, lambda a: _cast(
        exp.Floor(this=exp.Div(this=_cast(a[0], "DOUBLE"), expression=a[1])), "BIGINT"
    )),
    "uniq": (1, None, lambda a: exp.Count(this=exp.Distinct(expressions=a))),
    "uniqexact": (1, None, lambda a: exp.Count(this=exp.Distinct(expressions=a))),
    "jsonextractstring": (2, None, _json_extract("string")),
    "jsonextractfloat": (2, None, _json_extract("float")),
    "jsonextractint": (2, None, _json_extract("int")),
    "jsonextractbool": (2, None, _json_extract("bool")),
    "jsonextractraw": (2, None, _json_extract("raw")),
    "now": (0, 0, lambda a: _typed("TIMESTAMP", utcnow().isoformat(sep=" "))),
    "today": (0, 0, lambda a: _typed("DATE", utcnow().date().isoformat())),
    "isnull": (1, 1, lambda a: exp.Is(this=a[0], expression=exp.Null())),
    "isnotnull": (1, 1, lambda a: exp.Not(this=exp.Is(this=a[0], expression=exp.Null()))),
    "ifnull": (2, 2, lambda a: exp.Coalesce(this=a[0], expressions=a[1:])),
    "tounixtimestamp": (1, 1, lambda a: _to_int(exp.Anonymous(this="epoch", expressions=a))),
}  # fmt: skip
SUPPORTED_FUNCTIONS = sorted(FUNCTIONS)


def _rewrite_function(name: str, args: list[exp.Expression]) -> exp.Expression:
    fewest, most, build = FUNCTIONS[name]
    if len(args) < fewest or (most is not None and len(args) > most):
        wanted = str(fewest) if fewest == most else f"{fewest} to {most or 'any'}"
        raise HogQLError(f"Function {name!r} takes {wanted} argument(s), got {len(args)}")
    return build(args)


def _is_property(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this) == "json_extract_string"


_DATETIME_COLUMNS = {"timestamp", "created_at"}
_DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def _datetime_literal(node: exp.Expression) -> exp.Expression:
    """A date-time string literal as a UTC TIMESTAMP (duckdb would drop its offset)."""
    if isinstance(node, exp.Literal) and node.is_string and _DATETIME_TEXT.match(node.name):
        parsed = parse_timestamp(node.name)
        if parsed is not None:
            return _timestamp_literal(node.name, None)
    return node


def _is_datetime(node: exp.Expression) -> bool:
    if isinstance(node, exp.Column):
        return node.name in _DATETIME_COLUMNS
    return isinstance(node, exp.Cast) and node.to.this in (
        exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ
    )


def _rewrite_comparison(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Between):
        if _is_datetime(node.this):
            for key in ("low", "high"):
                node.set(key, _datetime_literal(node.args[key]))
        return node
    if not isinstance(node, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
        return node
    left, right = node.this, node.expression
    if _is_datetime(left):
        node.set("expression", _datetime_literal(right))
    elif _is_datetime(right):
        node.set("this", _datetime_literal(left))
    for prop, other, side in ((left, right, "this"), (right, left, "expression")):
        if not _is_property(prop):
            continue
        if isinstance(other, exp.Boolean):
            literal = exp.Literal.string("true" if other.this else "false")
            node.set("expression" if side == "this" else "this", literal)
        elif isinstance(other, exp.Literal) and not other.is_string:
            node.set(side, _cast(prop, "DOUBLE"))
    return node


def _int_literal(node: exp.Expression | None, what: str) -> int | None:
    if node is None:
        return None
    value = node.expression if isinstance(node, (exp.Limit, exp.Offset)) else node
    if isinstance(value, exp.Literal) and not value.is_string and value.name.isdigit():
        return int(value.name)
    raise HogQLError(f"{what} must be a whole number")


def _window(tree: exp.Expression) -> tuple[int, int]:
    limit = _int_literal(tree.args.get("limit"), "LIMIT")
    offset = _int_literal(tree.args.get("offset"), "OFFSET") or 0
    if limit is None:
        limit = DEFAULT_RETURNED_ROWS
    return min(limit, MAX_SELECT_RETURNED_ROWS), offset


def _limit_union(tree: exp.Expression, limit: int) -> exp.Expression:
    tree.set("limit", exp.Limit(expression=exp.Literal.number(limit + 1)))
    return tree


# --------------------------------------------------------------------------- running


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def run_query(store: Store, query: str, values: Mapping[str, Any] | None = None) -> dict:
    """Run a HogQL query; return PostHog's HogQL response body."""
    started = utcnow()
    translation = translate(query, values)
    with store.lock:
        try:
            cursor = store.execute(translation.sql)
            description = cursor.description
            rows = cursor.fetchall()
        except Exception as exc:  # duckdb raises many kinds; all are the query's fault
            raise HogQLError(f"Query failed: {_first_line(exc)}", "query_error") from exc
    has_more = len(rows) > translation.limit
    rows = rows[: translation.limit]
    names = [d[0] for d in description]
    columns = names
    if len(translation.columns) == len(names) and None not in translation.columns:
        columns = [str(c) for c in translation.columns]
    types = [[c, _DUCK_TYPES.get(str(d[1]).split("(")[0], "String")] for c, d in zip(
        columns, description, strict=True
    )]  # fmt: skip
    results = [[_json_value(v) for v in row] for row in rows]
    elapsed = (utcnow() - started).total_seconds()
    return {
        "results": results,
        "columns": columns,
        "types": types,
        "hasMore": has_more,
        "limit": translation.limit,
        "offset": translation.offset,
        "hogql": query,
        "clickhouse": translation.sql,
        "is_cached": False,
        "timings": [{"k": "./total", "t": elapsed}],
        "modifiers": {},
        "query_status": None,
    }


def to_json_bytes(body: Any) -> bytes:
    """JSON-encode a response body (datetimes and decimals made JSON-able)."""
    return json.dumps(body, default=_json_value).encode("utf-8")
