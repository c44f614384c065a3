"""A HogQL parser: the SELECT grammar of PostHog's ``posthog/hogql/grammar/HogQLParser.g4``
that analytics queries use, into :mod:`.ast` nodes.

ClickHouse precedence (lowest first): OR, AND, NOT, comparisons (``= != < <= > >= LIKE ILIKE
IN BETWEEN IS NULL =~``), ``+ - ||``, ``* / %``, unary minus, ``[index]``. Identifiers may
hold ``$`` (``properties.$current_url``); keywords are case-insensitive; ``{name}`` is a
placeholder filled from the request's ``values``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drawkit.offline.posthog_emulator.hogql import ast
from drawkit.offline.posthog_emulator.hogql.errors import HogQLError

MAX_DEPTH = 200  # nested expressions; deeper is refused (PostHog's parser has a similar bound)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.|'')*')
  | (?P<quoted>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
  | (?P<placeholder>\{\s*[A-Za-z_][A-Za-z0-9_.]*\s*\})
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>->|<=|>=|!=|<>|==|=~\*|!~\*|=~|!~|\|\||::|[-+*/%=<>(),.\[\]?:;])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}
STOP_WORDS = {
    "FROM", "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", "UNION", "JOIN", "INNER",
    "LEFT", "RIGHT", "FULL", "CROSS", "ON", "AS", "SETTINGS", "AND", "OR", "NOT", "USING",
    "WITH", "SELECT", "ARRAY", "PREWHERE", "QUALIFY", "WINDOW", "FINAL", "SAMPLE", "ASC", "DESC",
    "THEN", "ELSE", "END", "WHEN", "BETWEEN", "LIKE", "ILIKE", "IN", "IS", "NULLS", "GLOBAL",
    "OUTER", "ANY", "ALL", "ASOF", "SEMI", "ANTI", "INTERVAL", "BY",
}  # fmt: skip
INTERVAL_UNITS = {"SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}


@dataclass
class Token:
    kind: str  # number, string, ident, quoted, placeholder, op, end
    text: str
    position: int

    def keyword(self) -> str | None:
        return self.text.upper() if self.kind == "ident" else None


def tokenize(text: str) -> list[Token]:
    """The tokens of a query; a character no token starts with is a syntax error."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise HogQLError(
                f"Syntax error at line 1, column {position}: unexpected {text[position]!r}",
                "syntax_error",
            )
        kind = match.lastgroup or "op"
        if kind != "space":
            tokens.append(Token(kind, match.group(0), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif char == text[0] and i + 1 < len(body) and body[i + 1] == text[0]:
            out.append(char)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


class Parser:
    """Recursive descent over the tokens of one query."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # ------------------------------------------------------------------ tokens

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.current.keyword() in words

    def accept_keyword(self, *words: str) -> bool:
        if self.at_keyword(*words):
            self.advance()
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.accept_keyword(word):
            self.fail(f"expected {word}")

    def at_op(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.text in ops

    def accept_op(self, op: str) -> bool:
        if self.at_op(op):
            self.advance()
            return True
        return False

    def expect_op(self, op: str) -> None:
        if not self.accept_op(op):
            self.fail(f"expected {op!r}")

    def fail(self, what: str) -> None:
        token = self.current
        found = "end of input" if token.kind == "end" else repr(token.text)
        raise HogQLError(
            f"Syntax error at line 1, column {token.position}: {what}, found {found}",
            "syntax_error",
        )

    def identifier(self) -> str:
        token = self.current
        if token.kind == "ident":
            self.advance()
            return token.text
        if token.kind == "quoted":
            self.advance()
            return _unquote(token.text)
        self.fail("expected an identifier")
        raise AssertionError  # unreachable

    # ------------------------------------------------------------------ statements

    def parse(self) -> ast.SelectQuery | ast.SelectUnion:
        query = self.select_set()
        self.accept_op(";")
        if self.current.kind != "end":
            self.fail("expected the end of the query")
        return query

    def select_set(self) -> ast.SelectQuery | ast.SelectUnion:
        ctes = self.with_clause()
        queries = [self.select_or_parenthesised()]
        ops: list[str] = []
        while self.accept_keyword("UNION"):
            if self.accept_keyword("ALL"):
                ops.append("UNION ALL")
            elif self.accept_keyword("DISTINCT"):
                ops.append("UNION DISTINCT")
            else:
                self.fail("expected ALL or DISTINCT after UNION")
            queries.append(self.select_or_parenthesised())
        if len(queries) == 1:
            query = queries[0]
            if ctes:
                query.ctes = {**ctes, **query.ctes}
            return query
        return ast.SelectUnion(queries, ops, ctes)

    def with_clause(self) -> dict[str, ast.SelectQuery | ast.SelectUnion]:
        ctes: dict[str, ast.SelectQuery | ast.SelectUnion] = {}
        if not self.accept_keyword("WITH"):
            return ctes
        while True:
            name = self.identifier()
            self.expect_keyword("AS")
            self.expect_op("(")
            ctes[name] = self.select_set()
            self.expect_op(")")
            if not self.accept_op(","):
                return ctes

    def select_or_parenthesised(self) -> ast.SelectQuery | ast.SelectUnion:
        if self.accept_op("("):
            query = self.select_set()
            self.expect_op(")")
            return query
        return self.select()

    def select(self) -> ast.SelectQuery:
        ctes = self.with_clause()
        self.expect_keyword("SELECT")
        distinct = self.accept_keyword("DISTINCT")
        columns = [self.select_column()]
        while self.accept_op(","):
            columns.append(self.select_column())
        query = ast.SelectQuery(columns, distinct=distinct, ctes=ctes)
        if self.accept_keyword("FROM"):
            query.sources = self.sources()
        if self.at_keyword("ARRAY", "PREWHERE", "SAMPLE", "FINAL", "WINDOW", "QUALIFY"):
            raise HogQLError(f"{self.current.text.upper()} is not supported by the emulator")
        if self.accept_keyword("WHERE"):
            query.where = self.expression()
        if self.accept_keyword("GROUP"):
            self.expect_keyword("BY")
            query.group_by = self.expression_list()
        if self.accept_keyword("HAVING"):
            query.having = self.expression()
        if self.accept_keyword("ORDER"):
            self.expect_keyword("BY")
            query.order_by = [self.order_expr()]
            while self.accept_op(","):
                query.order_by.append(self.order_expr())
        if self.accept_keyword("LIMIT"):
            first = self.expression()
            if self.accept_op(","):
                query.offset, query.limit = first, self.expression()
            else:
                query.limit = first
            if self.at_keyword("BY", "WITH"):
                raise HogQLError("LIMIT BY and LIMIT WITH TIES are not supported by the emulator")
        if self.accept_keyword("OFFSET"):
            query.offset = self.expression()
        if self.at_keyword("SETTINGS"):
            raise HogQLError("SETTINGS are not allowed in HogQL queries")
        return query

    def select_column(self) -> ast.Expr:
        if self.at_op("*"):
            self.advance()
            return ast.Star()
        expr = self.expression()
        return self.alias_of(expr)

    def alias_of(self, expr: ast.Expr) -> ast.Expr:
        if self.accept_keyword("AS"):
            return ast.Alias(expr, self.identifier())
        token = self.current
        if token.kind == "quoted" or (token.kind == "ident" and token.keyword() not in STOP_WORDS):
            return ast.Alias(expr, self.identifier())
        return expr

    def order_expr(self) -> ast.OrderExpr:
        expr = self.expression()
        descending = False
        if self.accept_keyword("DESC", "DESCENDING"):
            descending = True
        else:
            self.accept_keyword("ASC", "ASCENDING")
        if self.accept_keyword("NULLS"):
            if not self.accept_keyword("FIRST", "LAST"):
                self.fail("expected FIRST or LAST")
        return ast.OrderExpr(expr, descending)

    def sources(self) -> list[ast.JoinExpr]:
        sources = [self.source(None)]
        while True:
            if self.accept_op(","):
                sources.append(self.source("CROSS JOIN"))
                continue
            join = self.join_type()
            if join is None:
                return sources
            source = self.source(join)
            if join != "CROSS JOIN":
                if self.accept_keyword("ON"):
                    source.constraint = self.expression()
                elif self.at_keyword("USING"):
                    raise HogQLError("JOIN ... USING is not supported by the emulator")
                else:
                    self.fail("expected ON after JOIN")
            sources.append(source)

    def join_type(self) -> str | None:
        words: list[str] = []
        while self.at_keyword("INNER", "LEFT", "RIGHT", "FULL", "CROSS", "OUTER", "ANY", "ALL",
                              "SEMI", "ANTI", "ASOF", "GLOBAL"):  # fmt: skip
            words.append(self.advance().text.upper())
        if not self.accept_keyword("JOIN"):
            if words:
                self.fail("expected JOIN")
            return None
        words = [w for w in words if w not in ("OUTER", "GLOBAL")]
        return " ".join([*(words or ["INNER"]), "JOIN"])

    def source(self, join: str | None) -> ast.JoinExpr:
        if self.accept_op("("):
            table: str | ast.SelectQuery | ast.SelectUnion = self.select_set()
            self.expect_op(")")
        else:
            table = self.identifier()
            while self.accept_op("."):
                table = f"{table}.{self.identifier()}"
        alias = None
        if self.accept_keyword("AS"):
            alias = self.identifier()
        elif self.current.kind == "quoted" or (
            self.current.kind == "ident" and self.current.keyword() not in STOP_WORDS
        ):
            alias = self.identifier()
        if self.at_keyword("FINAL", "SAMPLE"):
            raise HogQLError(f"{self.current.text.upper()} is not supported by the emulator")
        return ast.JoinExpr(table, alias, join)

    # ------------------------------------------------------------------ expressions

    def expression_list(self) -> list[ast.Expr]:
        items = [self.expression()]
        while self.accept_op(","):
            items.append(self.expression())
        return items

    def expression(self) -> ast.Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise HogQLError("The query is nested too deeply", "syntax_error")
        try:
            return self.or_expr()
        finally:
            self.depth -= 1

    def or_expr(self) -> ast.Expr:
        items = [self.and_expr()]
        while self.accept_keyword("OR"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else ast.Or(items)

    def and_expr(self) -> ast.Expr:
        items = [self.not_expr()]
        while self.accept_keyword("AND"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else ast.And(items)

    def not_expr(self) -> ast.Expr:
        if self.accept_keyword("NOT"):
            return ast.Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> ast.Expr:
        left = self.additive()
        negated = False
        if self.at_keyword("NOT") and self.peek().keyword() in ("LIKE", "ILIKE", "IN", "BETWEEN"):
            self.advance()
            negated = True
        if self.accept_keyword("IS"):
            is_not = self.accept_keyword("NOT")
            self.expect_keyword("NULL")
            return ast.IsNull(left, is_not)
        if self.accept_keyword("BETWEEN"):
            low = self.additive()
            self.expect_keyword("AND")
            return ast.Between(left, low, self.additive(), negated)
        for word in ("LIKE", "ILIKE"):
            if self.accept_keyword(word):
                op = ("not " if negated else "") + word.lower()
                return ast.Compare(op, left, self.additive())
        if self.accept_keyword("GLOBAL"):
            raise HogQLError("GLOBAL IN is not supported by the emulator")
        if self.accept_keyword("IN"):
            op = "not in" if negated else "in"
            if self.at_op("(") and self.peek().keyword() in ("SELECT", "WITH"):
                self.advance()
                subquery = self.select_set()
                self.expect_op(")")
                return ast.Compare(op, left, subquery)
            return ast.Compare(op, left, self.additive())
        if self.current.kind == "op" and self.current.text in (
            "=", "==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~", "=~*", "!~*"
        ):  # fmt: skip
            op = {"==": "=", "<>": "!="}.get(self.current.text, self.current.text)
            self.advance()
            return ast.Compare(op, left, self.additive())
        return left

    def additive(self) -> ast.Expr:
        left = self.multiplicative()
        while self.at_op("+", "-", "||"):
            op = self.advance().text
            right = self.multiplicative()
            if op == "||":
                left = ast.Call("concat", [left, right])
            else:
                left = ast.Arithmetic(op, left, right)
        return left

    def multiplicative(self) -> ast.Expr:
        left = self.unary()
        while self.at_op("*", "/", "%"):
            op = self.advance().text
            left = ast.Arithmetic(op, left, self.unary())
        return left

    def unary(self) -> ast.Expr:
        if self.accept_op("-"):
            operand = self.unary()
            if isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float)):
                if not isinstance(operand.value, bool):
                    return ast.Constant(-operand.value)
            return ast.Negative(operand)
        if self.accept_op("+"):
            return self.unary()
        return self.postfix()

    def postfix(self) -> ast.Expr:
        expr = self.primary()
        while True:
            if self.accept_op("["):
                index = self.expression()
                self.expect_op("]")
                expr = ast.ArrayAccess(expr, index)
            elif self.at_op("::"):
                raise HogQLError("The :: cast is not supported: use toString/toFloat/toInt")
            else:
                return expr

    def primary(self) -> ast.Expr:  # noqa: C901 - one branch per kind of primary
        token = self.current
        if token.kind == "number":
            self.advance()
            text = token.text
            is_float = any(c in text for c in ".eE")
            return ast.Constant(float(text) if is_float else int(text))
        if token.kind == "string":
            self.advance()
            return ast.Constant(_unquote(token.text))
        if token.kind == "placeholder":
            self.advance()
            return ast.Placeholder(token.text[1:-1].strip())
        if self.at_op("("):
            return self.parenthesised()
        if self.accept_op("["):
            items = [] if self.at_op("]") else self.expression_list()
            self.expect_op("]")
            return ast.ArrayLiteral(items)
        if self.at_op("*"):
            self.advance()
            return ast.Star()
        keyword = token.keyword()
        if keyword in ("NULL", "TRUE", "FALSE") and not self.peek().text == "(":
            self.advance()
            return ast.Constant({"NULL": None, "TRUE": True, "FALSE": False}[keyword])
        if keyword == "CASE":
            return self.case()
        if keyword == "INTERVAL":
            return self.interval()
        if keyword in ("SELECT", "WITH"):
            self.fail("a subquery must be in parentheses")
        if token.kind in ("ident", "quoted"):
            if token.kind == "ident" and self.peek().text == "->":
                name = self.identifier()
                self.advance()
                return ast.Lambda([name], self.expression())
            if token.kind == "ident" and self.peek().text == "(":
                return self.call()
            return self.field()
        self.fail("expected an expression")
        raise AssertionError  # unreachable

    def parenthesised(self) -> ast.Expr:
        self.expect_op("(")
        if self.at_keyword("SELECT", "WITH"):
            query = self.select_set()
            self.expect_op(")")
            return query
        if self.at_op(")"):
            self.advance()
            return ast.TupleLiteral([])
        items = self.expression_list()
        self.expect_op(")")
        if self.at_op("->") and all(isinstance(i, ast.Field) and len(i.chain) == 1 for i in items):
            self.advance()
            return ast.Lambda([i.chain[0] for i in items], self.expression())  # type: ignore[attr-defined]
        if len(items) == 1:
            return items[0]
        return ast.TupleLiteral(items)

    def case(self) -> ast.Expr:
        self.expect_keyword("CASE")
        operand = None if self.at_keyword("WHEN") else self.expression()
        whens: list[tuple[ast.Expr, ast.Expr]] = []
        while self.accept_keyword("WHEN"):
            condition = self.expression()
            self.expect_keyword("THEN")
            whens.append((condition, self.expression()))
        if not whens:
            self.fail("expected WHEN")
        otherwise = self.expression() if self.accept_keyword("ELSE") else None
        self.expect_keyword("END")
        return ast.Case(operand, whens, otherwise)

    def interval(self) -> ast.Expr:
        self.expect_keyword("INTERVAL")
        value = self.unary()
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            parts = value.value.split()
            if len(parts) == 2 and parts[1].upper().rstrip("S") in INTERVAL_UNITS:
                return ast.Interval(ast.Constant(int(parts[0])), parts[1].upper().rstrip("S"))
        unit = self.current.keyword()
        if unit is None or unit.rstrip("S") not in INTERVAL_UNITS:
            self.fail("expected an interval unit")
        self.advance()
        return ast.Interval(value, unit.rstrip("S"))  # type: ignore[union-attr]

    def call(self) -> ast.Expr:
        name = self.identifier()
        self.expect_op("(")
        distinct = self.accept_keyword("DISTINCT")
        args = [] if self.at_op(")") else self.call_args()
        self.expect_op(")")
        params = None
        if self.at_op("("):  # parametric aggregate: quantile(0.5)(x)
            self.advance()
            params, args = args, ([] if self.at_op(")") else self.call_args())
            self.expect_op(")")
        return ast.Call(name, args, params, distinct)

    def call_args(self) -> list[ast.Expr]:
        args = [self.call_arg()]
        while self.accept_op(","):
            args.append(self.call_arg())
        return args

    def call_arg(self) -> ast.Expr:
        if self.at_op("*") and self.peek().text in (")", ","):
            self.advance()
            return ast.Star()
        return self.expression()

    def field(self) -> ast.Expr:
        chain = [self.identifier()]
        while self.at_op("."):
            self.advance()
            if self.at_op("*"):
                self.advance()
                return ast.Star(".".join(chain))
            if self.current.kind == "number" and self.current.text.isdigit():
                chain.append(self.advance().text)
            else:
                chain.append(self.identifier())
        return ast.Field(chain)


def parse_select(text: str) -> ast.SelectQuery | ast.SelectUnion:
    """Parse one HogQL SELECT (or UNION of SELECTs); HogQLError on anything else."""
    if not text.strip():
        raise HogQLError("Empty query", "syntax_error")
    first = tokenize(text)[0]
    if first.keyword() not in ("SELECT", "WITH") and first.text != "(":
        raise HogQLError(
            f"Only SELECT queries are supported, not {first.text.upper() or 'an empty query'}",
            "syntax_error",
        )
    return Parser(text).parse()
