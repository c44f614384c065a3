"""HogQL syntax tree → ClickHouse SQL, the way PostHog's ``posthog/hogql/printer.py`` prints it.

* ``properties.x`` → ``replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(t.properties, 'x'), ''),
  'null'), '^"|"$', '')`` (``_unsafe_json_extract_trim_quotes``): a Nullable(String), quotes
  trimmed, escapes left as stored; nested ``properties.a.b`` extracts the path.
* A property with a detected type (:mod:`..typing`) is wrapped as ``PropertySwapper`` does
  (``posthog/hogql/transforms/property_types.py``): Numeric → ``toFloat`` (accurateCastOrNull),
  Boolean → ``toBool(transform(toString(x), ['true','false'], [true,false], NULL))``,
  DateTime → ``toDateTime``.
* ``person.properties.x`` on events reads the properties stamped on the event at ingestion
  (persons on events) or, with it off, the person's current properties.
* ``=``/``!=`` on nullable operands print as ``ifNull(equals(a, b), 0)`` /
  ``ifNull(notEquals(a, b), 1)``; arithmetic as ``plus``/``minus``/... .
* The top-level SELECT's LIMIT is clamped to 50,000 (``MAX_SELECT_RETURNED_ROWS``); without
  one the caller's paginator asks for 101 rows (``DEFAULT_RETURNED_ROWS`` + 1).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drawkit.offline.posthog_emulator.hogql import ast
from drawkit.offline.posthog_emulator.hogql import functions as fn
from drawkit.offline.posthog_emulator.hogql.errors import HogQLError

DEFAULT_RETURNED_ROWS = 100  # posthog/hogql/constants.py
MAX_SELECT_RETURNED_ROWS = 50_000
EVENT_COLUMNS = ("uuid", "event", "properties", "timestamp", "distinct_id", "elements_chain",
                 "created_at", "person_id")  # fmt: skip
PERSON_COLUMNS = ("id", "created_at", "properties", "is_identified")
PDI_COLUMNS = ("distinct_id", "person_id")
TABLES = {"events": EVENT_COLUMNS, "persons": PERSON_COLUMNS, "person_distinct_ids": PDI_COLUMNS}
DATETIME_COLUMNS = {"timestamp", "created_at"}
_STRING_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0",
                   "\b": "\\b", "\f": "\\f", "\a": "\\a", "\v": "\\v"}  # fmt: skip
_PLAIN_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def escape_string(value: str) -> str:
    """A ClickHouse string literal (PostHog's ``escape_clickhouse_string``)."""
    return "'" + "".join(_STRING_ESCAPES.get(c, c) for c in value) + "'"


def escape_identifier(name: str) -> str:
    """A ClickHouse identifier, back-quoted unless plain."""
    if _PLAIN_IDENTIFIER.match(name):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def literal(value: Any) -> str:
    """A Python value (from ``values`` or a constant) as ClickHouse SQL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else
                                             "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, str):
        return escape_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "tuple(" + ", ".join(literal(v) for v in value) + ")"
    if isinstance(value, Mapping):
        raise HogQLError("An object cannot be used as a HogQL value")
    return escape_string(str(value))


@dataclass
class Settings:
    """What the printer needs to know about the project and the modelled behaviours."""

    database: str
    persons_on_events: bool = True
    event_property_types: Mapping[str, str] = field(default_factory=dict)
    person_property_types: Mapping[str, str] = field(default_factory=dict)
    legacy_functions: bool = False
    paginate: bool = True  # add DEFAULT_RETURNED_ROWS + 1 when the top SELECT has no LIMIT
    always_peek: bool = False  # ask one extra row even with a LIMIT (the ideal profile's hasMore)
    unbounded: bool = False  # no clamp, no default (cohort calculations: LimitContext 1e9)
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Source:
    """A table in a SELECT's scope."""

    alias: str
    kind: str  # events, persons, person_distinct_ids, subquery
    columns: tuple[str, ...] | None = None  # None: unknown (a subquery selecting *)


@dataclass
class Printed:
    """The ClickHouse SQL of a query and what the caller needs to page it."""

    sql: str
    columns: list[str]
    limit: int | None  # rows the caller returns (None: no paginator)
    peek: bool  # the SQL asks for one extra row to tell whether there are more
    uses_current_persons: bool


class Printer:
    """Prints one query; ``settings`` decide typing, persons on events and the limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.scopes: list[list[Source]] = []
        self.aliases: list[set[str]] = []
        self.lambda_args: list[set[str]] = []
        self.ctes: list[dict[str, ast.SelectQuery | ast.SelectUnion]] = []
        self.in_join_constraint = 0
        self.uses_current_persons = False
        self.peek = False
        self.limit: int | None = None

    # ------------------------------------------------------------------ entry

    def print_query(self, query: ast.SelectQuery | ast.SelectUnion) -> Printed:
        """The ClickHouse SQL of a top-level query."""
        columns = column_names(query)
        sql = self.visit_query(query, top=True)
        return Printed(sql, columns, self.limit, self.peek, self.uses_current_persons)

    def visit_query(self, query: ast.Expr, top: bool = False) -> str:
        if isinstance(query, ast.SelectUnion):
            ctes = self._print_ctes(query.ctes)
            parts = []
            for i, member in enumerate(query.queries):
                text = self.visit_query(member, top=top and "member")  # type: ignore[arg-type]
                parts.append(f"({text})" if isinstance(member, ast.SelectUnion) else text)
                if i < len(query.ops):
                    parts.append(query.ops[i])
            self._pop_ctes(query.ctes)
            return ctes + " ".join(parts)
        if not isinstance(query, ast.SelectQuery):
            raise HogQLError("Expected a SELECT query")
        return self.visit_select(query, top)

    def _print_ctes(self, ctes: dict[str, ast.SelectQuery | ast.SelectUnion]) -> str:
        if not ctes:
            return ""
        printed = []
        for name, cte in ctes.items():
            printed.append(f"{escape_identifier(name)} AS ({self.visit_query(cte)})")
            self.ctes.append({name: cte})
        return "WITH " + ", ".join(printed) + " "

    def _pop_ctes(self, ctes: dict[str, Any]) -> None:
        for _ in ctes:
            self.ctes.pop()

    def visit_select(self, node: ast.SelectQuery, top: bool | str) -> str:  # noqa: C901
        ctes = self._print_ctes(node.ctes)
        scope: list[Source] = []
        self.scopes.append(scope)
        self.aliases.append({c.alias for c in node.select if isinstance(c, ast.Alias)})
        try:
            from_sql = self._print_sources(node.sources, scope)
            select = ", ".join(self._print_select_column(c, scope) for c in node.select)
            parts = ["SELECT", *(["DISTINCT"] if node.distinct else []), select]
            if from_sql:
                parts += ["FROM", from_sql]
            if node.where is not None:
                parts += ["WHERE", self.visit(node.where)]
            if node.group_by:
                parts += ["GROUP BY", ", ".join(self.visit(e) for e in node.group_by)]
            if node.having is not None:
                parts += ["HAVING", self.visit(node.having)]
            if node.order_by:
                parts += ["ORDER BY", ", ".join(
                    f"{self.visit(o.expr)} {'DESC' if o.descending else 'ASC'}"
                    for o in node.order_by
                )]
            limit = self._limit(node, top)
            if limit is not None:
                parts += ["LIMIT", limit]
            if node.offset is not None:
                parts += ["OFFSET", self.visit(node.offset)]
            return ctes + " ".join(parts)
        finally:
            self.scopes.pop()
            self.aliases.pop()
            self._pop_ctes(node.ctes)

    def _limit(self, node: ast.SelectQuery, top: bool | str) -> str | None:
        if not top or self.settings.unbounded:
            return None if node.limit is None else self.visit(node.limit)
        clamp = MAX_SELECT_RETURNED_ROWS
        given = None if node.limit is None else self._resolve(node.limit)
        if top == "member":  # a UNION member: clamped, no paginator
            if given is None:
                return str(clamp)
            return self._clamped(given, clamp)
        if given is None:
            if not self.settings.paginate:
                self.limit = clamp
                return str(clamp)
            self.limit, self.peek = DEFAULT_RETURNED_ROWS, True
            return str(DEFAULT_RETURNED_ROWS + 1)
        if isinstance(given, ast.Constant) and isinstance(given.value, int):
            value = min(given.value, clamp)
            if self.settings.always_peek:
                self.limit, self.peek = value, True
                return str(value + 1)
            self.limit = None
            return str(value)
        return self._clamped(given, clamp)

    def _clamped(self, given: ast.Expr, clamp: int) -> str:
        if isinstance(given, ast.Constant) and isinstance(given.value, int):
            return str(min(given.value, clamp))
        return f"min2({self.visit(given)}, {clamp})"

    # ------------------------------------------------------------------ sources

    def _print_sources(self, sources: list[ast.JoinExpr], scope: list[Source]) -> str:
        printed = []
        for source in sources:
            text, entry = self._print_source(source)
            scope.append(entry)
            if source.join_type is None:
                printed.append(text)
            else:
                joined = f"{source.join_type} {text}"
                if source.constraint is not None:
                    self.in_join_constraint += 1
                    try:
                        joined += f" ON {self.visit(source.constraint)}"
                    finally:
                        self.in_join_constraint -= 1
                printed.append(joined)
        return " ".join(printed)

    def _cte(self, name: str) -> ast.SelectQuery | ast.SelectUnion | None:
        for frame in reversed(self.ctes):
            if name in frame:
                return frame[name]
        return None

    def _print_source(self, source: ast.JoinExpr) -> tuple[str, Source]:
        table = source.table
        if isinstance(table, str):
            cte = self._cte(table)
            if cte is not None:
                alias = source.alias or table
                return (f"{escape_identifier(table)} AS {escape_identifier(alias)}",
                        Source(alias, "subquery", output_columns(cte)))  # fmt: skip
            if table not in TABLES:
                close = difflib.get_close_matches(table, list(TABLES), 1)
                hint = f" Perhaps you meant '{close[0]}'?" if close else ""
                raise HogQLError(f'Unknown table "{table}".{hint}')
            alias = source.alias or table
            physical = {"events": "events", "persons": "persons",
                        "person_distinct_ids": "person_distinct_ids"}[table]  # fmt: skip
            if table == "events" and not self.settings.persons_on_events:
                physical = "events_current"
                self.uses_current_persons = True
            text = f"{self.settings.database}.{physical} AS {escape_identifier(alias)}"
            return text, Source(alias, table, TABLES[table])
        if not source.alias and len(self.scopes[-1]) > 0:
            pass
        alias = source.alias
        sub = self.visit_query(table)
        entry = Source(alias or "", "subquery", output_columns(table))
        return (f"({sub})" + (f" AS {escape_identifier(alias)}" if alias else "")), entry

    # ------------------------------------------------------------------ select columns

    def _print_select_column(self, column: ast.Expr, scope: list[Source]) -> str:
        if isinstance(column, ast.Star):
            return self._print_star(column, scope)
        if isinstance(column, ast.Alias):
            return f"{self.visit(column.expr)} AS {escape_identifier(column.alias)}"
        text = self.visit(column)
        name = column_name(column)
        shadows = isinstance(column, ast.Field) and len(column.chain) > 1 and any(
            s.columns is None or name in s.columns for s in scope
        )  # an alias named like a column would change what that column means elsewhere
        if name and not shadows and escape_identifier(name) != text:
            return f"{text} AS {escape_identifier(name)}"
        return text

    def _print_star(self, star: ast.Star, scope: list[Source]) -> str:
        sources = [s for s in scope if star.table in (None, s.alias)]
        if star.table is not None and not sources:
            raise HogQLError(f"Unable to resolve field: {star.table}.*")
        items = []
        for source in sources:
            if source.kind == "subquery" and source.columns is None:
                items.append(f"{escape_identifier(source.alias)}.*" if source.alias else "*")
                continue
            columns = source.columns or ()
            if source.kind == "events":
                columns = tuple(c for c in columns if c != "person_id")
            for column in columns:
                prefix = f"{escape_identifier(source.alias)}." if source.alias else ""
                items.append(f"{prefix}{escape_identifier(column)} AS {escape_identifier(column)}")
        if not items:
            raise HogQLError("SELECT * needs a FROM")
        return ", ".join(items)

    # ------------------------------------------------------------------ expressions

    def visit(self, node: ast.Expr) -> str:  # noqa: C901 - one branch per node kind
        if isinstance(node, ast.Constant):
            return literal(node.value)
        if isinstance(node, ast.Placeholder):
            return self.visit(self._resolve(node))
        if isinstance(node, ast.Field):
            return self.visit_field(node)
        if isinstance(node, ast.Alias):
            return self.visit(node.expr)
        if isinstance(node, ast.Call):
            return self.visit_call(node)
        if isinstance(node, ast.Compare):
            return self.visit_compare(node)
        if isinstance(node, ast.And):
            return f"and({', '.join(self.visit(e) for e in node.exprs)})"
        if isinstance(node, ast.Or):
            return f"or({', '.join(self.visit(e) for e in node.exprs)})"
        if isinstance(node, ast.Not):
            return f"not({self.visit(node.expr)})"
        if isinstance(node, ast.Negative):
            return f"negate({self.visit(node.expr)})"
        if isinstance(node, ast.Arithmetic):
            name = {"+": "plus", "-": "minus", "*": "multiply", "/": "divide", "%": "modulo"}
            return f"{name[node.op]}({self.visit(node.left)}, {self.visit(node.right)})"
        if isinstance(node, ast.Between):
            text = (f"{self.visit(node.expr)} {'NOT ' if node.negated else ''}BETWEEN "
                    f"{self.visit(node.low)} AND {self.visit(node.high)}")  # fmt: skip
            return f"({text})"
        if isinstance(node, ast.IsNull):
            return f"{'isNotNull' if node.negated else 'isNull'}({self.visit(node.expr)})"
        if isinstance(node, ast.Case):
            return self.visit_case(node)
        if isinstance(node, ast.ArrayLiteral):
            return "[" + ", ".join(self.visit(e) for e in node.exprs) + "]"
        if isinstance(node, ast.TupleLiteral):
            return "tuple(" + ", ".join(self.visit(e) for e in node.exprs) + ")"
        if isinstance(node, ast.ArrayAccess):
            return f"{self.visit(node.array)}[{self.visit(node.index)}]"
        if isinstance(node, ast.Lambda):
            self.lambda_args.append(set(node.args))
            try:
                body = self.visit(node.expr)
            finally:
                self.lambda_args.pop()
            args = [escape_identifier(a) for a in node.args]
            return f"{args[0]} -> {body}" if len(args) == 1 else f"({', '.join(args)}) -> {body}"
        if isinstance(node, ast.Interval):
            return f"toInterval{node.unit.capitalize()}({self.visit(node.value)})"
        if isinstance(node, (ast.SelectQuery, ast.SelectUnion)):
            return f"({self.visit_query(node)})"
        if isinstance(node, ast.Star):
            raise HogQLError("* is only allowed in SELECT or count(*)")
        raise HogQLError(f"Cannot print {type(node).__name__}")

    def _resolve(self, node: ast.Expr) -> ast.Expr:
        if isinstance(node, ast.Placeholder):
            if node.name not in self.settings.values:
                raise HogQLError(f"Placeholder {{{node.name}}} is not in values")
            return ast.Constant(self.settings.values[node.name])
        return node

    def visit_case(self, node: ast.Case) -> str:
        args: list[str] = []
        for condition, result in node.whens:
            if node.operand is not None:
                condition = ast.Compare("=", node.operand, condition)
            args += [self.visit(condition), self.visit(result)]
        args.append("NULL" if node.otherwise is None else self.visit(node.otherwise))
        return f"multiIf({', '.join(args)})"

    def visit_compare(self, node: ast.Compare) -> str:  # noqa: C901
        left_node, right_node = self._resolve(node.left), self._resolve(node.right)
        left, right = self.visit(left_node), self.visit(right_node)
        op = node.op
        if op in ("=", "!="):
            return self._equality(op, left_node, right_node, left, right)
        simple = {"<": "less", "<=": "lessOrEquals", ">": "greater", ">=": "greaterOrEquals",
                  "like": "like", "not like": "notLike", "ilike": "ilike",
                  "not ilike": "notILike", "in": "in", "not in": "notIn"}  # fmt: skip
        if op in simple:
            return f"{simple[op]}({left}, {right})"
        if op == "=~":
            return f"match({left}, {right})"
        if op == "!~":
            return f"not(match({left}, {right}))"
        if op == "=~*":
            return f"match({left}, concat('(?i)', {right}))"
        if op == "!~*":
            return f"not(match({left}, concat('(?i)', {right})))"
        raise HogQLError(f"Unknown comparison {op}")

    def _equality(self, op: str, ln: ast.Expr, rn: ast.Expr, left: str, right: str) -> str:
        name = "equals" if op == "=" else "notEquals"
        if isinstance(ln, ast.Constant) and isinstance(rn, ast.Constant):
            same = ln.value == rn.value
            return "1" if same == (op == "=") else "0"
        if self.in_join_constraint:
            return f"{name}({left}, {right})"
        null_check = "isNull" if op == "=" else "isNotNull"
        for constant, other in ((rn, left), (ln, right)):
            if isinstance(constant, ast.Constant):
                if constant.value is None:
                    return f"{null_check}({other})"
                return f"ifNull({name}({left}, {right}), {0 if op == '=' else 1})"
        if op == "=":
            return f"ifNull(equals({left}, {right}), and(isNull({left}), isNull({right})))"
        return f"ifNull(notEquals({left}, {right}), or(isNotNull({left}), isNotNull({right})))"

    # ------------------------------------------------------------------ fields

    def visit_field(self, node: ast.Field) -> str:  # noqa: C901
        chain = node.chain
        for frame in reversed(self.lambda_args):
            if chain[0] in frame:
                return ".".join(escape_identifier(c) for c in chain)
        scope = self.scopes[-1] if self.scopes else []
        source, rest = self._find_source(chain, scope)
        if source is None:
            if len(chain) == 1 and any(chain[0] in a for a in self.aliases):
                return escape_identifier(chain[0])
            if len(chain) == 1 and self._outer_column(chain[0]):
                return escape_identifier(chain[0])
            raise HogQLError(f"Unable to resolve field: {'.'.join(chain)}")
        prefix = f"{escape_identifier(source.alias)}." if source.alias else ""
        if source.kind == "subquery":
            column = prefix + escape_identifier(rest[0])
            return json_path(column, rest[1:]) if len(rest) > 1 else column
        head = rest[0]
        if source.kind == "events":
            if head == "properties":
                return self._property(prefix + "properties", rest[1:], "event")
            if head == "person":
                return self._person_on_event(prefix, rest[1:], node)
            if head == "person_id" and len(rest) == 1:
                return prefix + "person_id"
        if source.kind == "persons" and head == "properties":
            return self._property(prefix + "properties", rest[1:], "person")
        if source.kind == "person_distinct_ids" and head == "person" and rest[1:2] == ["id"]:
            return prefix + "person_id"
        if len(rest) > 1:
            raise HogQLError(f"Unable to resolve field: {'.'.join(chain)}")
        return prefix + escape_identifier(head)

    def _outer_column(self, name: str) -> bool:
        return any(
            s.columns is None or name in s.columns for scope in self.scopes[:-1] for s in scope
        )

    def _find_source(
        self, chain: list[str], scope: list[Source]
    ) -> tuple[Source | None, list[str]]:
        by_alias = [s for s in scope if s.alias and s.alias == chain[0]]
        if by_alias and len(chain) > 1:
            return by_alias[0], chain[1:]
        if by_alias and len(chain) == 1 and not self._is_column(by_alias[0], chain[0]):
            raise HogQLError(f"Can't select a table when a column is expected: {chain[0]}")
        candidates = [s for s in scope if self._is_column(s, chain[0])]
        if len(candidates) > 1:
            known = [s for s in candidates if s.columns is not None]
            if len(known) > 1:
                raise HogQLError(f"Ambiguous query. Found multiple sources for field: {chain[0]}")
            candidates = known or candidates[:1]
        if candidates:
            return candidates[0], chain
        return None, chain

    @staticmethod
    def _is_column(source: Source, name: str) -> bool:
        if source.columns is None:
            return True
        if source.kind == "events" and name == "person":
            return True
        return name in source.columns

    def _person_on_event(self, prefix: str, rest: list[str], node: ast.Field) -> str:
        if not rest:
            raise HogQLError("Can't select a table when a column is expected: person")
        head = rest[0]
        current = not self.settings.persons_on_events
        if head == "id" and len(rest) == 1:
            return prefix + "person_id"
        if head == "properties":
            column = "current_person_properties" if current else "person_properties"
            return self._property(prefix + column, rest[1:], "person")
        if head == "created_at" and len(rest) == 1:
            return prefix + ("current_person_created_at" if current else "person_created_at")
        raise HogQLError(f"Unable to resolve field: {'.'.join(node.chain)}")

    def _property(self, column: str, keys: list[str], kind: str) -> str:
        if not keys:
            return column
        text = json_path(column, keys)
        if len(keys) > 1:
            return text
        types = (self.settings.event_property_types if kind == "event"
                 else self.settings.person_property_types)  # fmt: skip
        detected = types.get(keys[0])
        if detected == "Numeric":
            return f"accurateCastOrNull({text}, 'Float64')"
        if detected == "Boolean":
            return (f"accurateCastOrNull(transform(toString({text}), ['true', 'false'], "
                    "[true, false], NULL), 'Bool')")  # fmt: skip
        if detected == "DateTime":
            return f"parseDateTime64BestEffortOrNull({text}, 6, {fn.TZ})"
        return text

    # ------------------------------------------------------------------ calls

    def visit_call(self, node: ast.Call) -> str:  # noqa: C901
        name = node.name
        special = {"toDateTime": self._to_datetime, "toDate": self._to_date,
                   "toDecimal": self._to_decimal, "concat": self._concat}  # fmt: skip
        if name in special:
            return special[name](node)
        function = fn.lookup(name, legacy=self.settings.legacy_functions)
        if function is None:
            known = fn.names(legacy=self.settings.legacy_functions)
            close = difflib.get_close_matches(name, known, 1)
            hint = f" Perhaps you meant '{close[0]}(...)'?" if close else ""
            raise HogQLError(f"Unsupported function call '{name}(...)'.{hint}")
        count = len(node.args)
        too_many = function.max_args is not None and count > function.max_args
        if count < function.min_args or too_many:
            wanted = (str(function.min_args) if function.min_args == function.max_args
                      else f"{function.min_args} to {function.max_args or 'any'}")  # fmt: skip
            raise HogQLError(f"Function '{name}' expects {wanted} arguments, got {count}")
        if function.min_params and not node.params:
            raise HogQLError(f"Aggregation '{name}' requires parameters in addition to arguments")
        if node.distinct and not function.aggregate:
            raise HogQLError(f"DISTINCT is only allowed in an aggregation, not in '{name}'")
        args = []
        for i, arg in enumerate(node.args):
            if isinstance(arg, ast.Star):
                if name.lower() != "count":
                    raise HogQLError(f"* is only allowed in count(*), not in {name}()")
                continue
            text = self.visit(arg)
            if i == 0 and function.first_arg_datetime:
                text = f"toDateTime({text})"
            args.append(text)
        if callable(function.clickhouse):
            return function.clickhouse(args)
        params = ""
        if node.params is not None:
            params = "(" + ", ".join(self.visit(p) for p in node.params) + ")"
        distinct = "DISTINCT " if node.distinct else ""
        return f"{function.clickhouse}{params}({distinct}{', '.join(args)})"

    def _arity(self, node: ast.Call, low: int, high: int) -> None:
        if not low <= len(node.args) <= high:
            raise HogQLError(
                f"Function '{node.name}' expects {low} to {high} arguments, got {len(node.args)}"
            )

    def _to_datetime(self, node: ast.Call) -> str:
        self._arity(node, 1, 2)
        tz = self.visit(node.args[1]) if len(node.args) > 1 else fn.TZ
        first = self._resolve(node.args[0])
        arg = self.visit(first)
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if re.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$", first.value):
                return f"toDateTime64({arg}, 6, {tz})"
            return f"parseDateTime64BestEffort({arg}, 6, {tz})"
        if self._is_datetime(first) or (
            isinstance(first, ast.Constant) and isinstance(first.value, int)
        ):
            return f"toDateTime({arg}, {tz})"
        return f"parseDateTime64BestEffortOrNull({arg}, 6, {tz})"

    def _is_datetime(self, node: ast.Expr) -> bool:
        if isinstance(node, ast.Field):
            last = node.chain[-1]
            return last in DATETIME_COLUMNS and "properties" not in node.chain
        if isinstance(node, ast.Call):
            return node.name in fn.DATETIME_FUNCTIONS
        return False

    def _to_date(self, node: ast.Call) -> str:
        self._arity(node, 1, 2)
        first = self._resolve(node.args[0])
        args = ", ".join(self.visit(a) for a in node.args)
        if self._is_datetime(first):
            return f"toDate({args})"
        return f"toDateOrNull({args})"

    def _to_decimal(self, node: ast.Call) -> str:
        self._arity(node, 2, 2)
        scale = self._resolve(node.args[1])
        if not isinstance(scale, ast.Constant) or not isinstance(scale.value, int):
            raise HogQLError("toDecimal's scale must be a whole number")
        return f"accurateCastOrNull({self.visit(node.args[0])}, 'Decimal64({scale.value})')"

    def _concat(self, node: ast.Call) -> str:
        args = []
        for arg in (self._resolve(a) for a in node.args):
            if isinstance(arg, ast.Constant):
                if arg.value is None:
                    args.append("''")
                elif isinstance(arg.value, str):
                    args.append(self.visit(arg))
                else:
                    args.append(f"toString({self.visit(arg)})")
            elif isinstance(arg, ast.Call) and arg.name == "toString":
                args.append(f"ifNull({self.visit(arg)}, '')")
            else:
                args.append(f"ifNull(toString({self.visit(arg)}), '')")
        return f"concat({', '.join(args)})"


def json_path(column: str, keys: list[str]) -> str:
    """PostHog's property read: the raw JSON value, '' and 'null' as NULL, quotes trimmed."""
    args = ", ".join([column, *(escape_string(k) for k in keys)])
    return (f"replaceRegexpAll(nullIf(nullIf(JSONExtractRaw({args}), ''), 'null'), "
            "'^\"|\"$', '')")  # fmt: skip


def output_columns(query: ast.SelectQuery | ast.SelectUnion) -> tuple[str, ...] | None:
    """The column names a subquery exposes (None when it selects *)."""
    first = query
    while isinstance(first, ast.SelectUnion):
        first = first.queries[0]
    names: list[str] = []
    for column in first.select:
        if isinstance(column, ast.Star):
            return None
        name = column_name(column)
        if name:
            names.append(name)
    return tuple(names)


def column_name(column: ast.Expr) -> str:
    """The name PostHog reports for a select column (its alias, field name or HogQL text)."""
    if isinstance(column, ast.Alias):
        return column.alias
    if isinstance(column, ast.Field):
        return column.chain[-1]
    return hogql_text(column)


def column_names(query: ast.SelectQuery | ast.SelectUnion) -> list[str]:
    """The response's ``columns``."""
    first = query
    while isinstance(first, ast.SelectUnion):
        first = first.queries[0]
    return [column_name(c) if not isinstance(c, ast.Star) else "*" for c in first.select]


def hogql_text(node: ast.Expr) -> str:  # noqa: C901 - one branch per node kind
    """A short HogQL rendering of an expression (used for unnamed columns)."""
    if isinstance(node, ast.Constant):
        return literal(node.value)
    if isinstance(node, ast.Field):
        return ".".join(node.chain)
    if isinstance(node, ast.Placeholder):
        return "{" + node.name + "}"
    if isinstance(node, ast.Call):
        params = "" if node.params is None else "(" + ", ".join(map(hogql_text, node.params)) + ")"
        args = ", ".join("*" if isinstance(a, ast.Star) else hogql_text(a) for a in node.args)
        return f"{node.name}{params}({'DISTINCT ' if node.distinct else ''}{args})"
    if isinstance(node, ast.Arithmetic):
        return f"{hogql_text(node.left)} {node.op} {hogql_text(node.right)}"
    if isinstance(node, ast.Compare):
        return f"{hogql_text(node.left)} {node.op.upper()} {hogql_text(node.right)}"
    if isinstance(node, ast.And):
        return " AND ".join(hogql_text(e) for e in node.exprs)
    if isinstance(node, ast.Or):
        return " OR ".join(hogql_text(e) for e in node.exprs)
    if isinstance(node, ast.Not):
        return f"NOT {hogql_text(node.expr)}"
    if isinstance(node, ast.Negative):
        return f"-{hogql_text(node.expr)}"
    return type(node).__name__.lower()
