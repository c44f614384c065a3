"""The HogQL syntax tree the emulator parses into (shaped like PostHog's
``posthog/hogql/ast.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Expr:
    """Any expression node."""


@dataclass
class Constant(Expr):
    value: Any  # None, bool, int, float, str, list (array) or tuple


@dataclass
class Field(Expr):
    chain: list[str]


@dataclass
class Placeholder(Expr):
    name: str


@dataclass
class Star(Expr):
    table: str | None = None


@dataclass
class Call(Expr):
    name: str
    args: list[Expr]
    params: list[Expr] | None = None
    distinct: bool = False


@dataclass
class Alias(Expr):
    expr: Expr
    alias: str


@dataclass
class Arithmetic(Expr):
    op: str  # + - * / %
    left: Expr
    right: Expr


@dataclass
class Compare(Expr):
    op: str  # = != < <= > >= like not like ilike not ilike in not in =~ !~ =~* !~*
    left: Expr
    right: Expr


@dataclass
class And(Expr):
    exprs: list[Expr]


@dataclass
class Or(Expr):
    exprs: list[Expr]


@dataclass
class Not(Expr):
    expr: Expr


@dataclass
class Negative(Expr):
    expr: Expr


@dataclass
class Between(Expr):
    expr: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass
class IsNull(Expr):
    expr: Expr
    negated: bool = False


@dataclass
class Case(Expr):
    operand: Expr | None
    whens: list[tuple[Expr, Expr]]
    otherwise: Expr | None


@dataclass
class ArrayLiteral(Expr):
    exprs: list[Expr]


@dataclass
class TupleLiteral(Expr):
    exprs: list[Expr]


@dataclass
class ArrayAccess(Expr):
    array: Expr
    index: Expr


@dataclass
class Lambda(Expr):
    args: list[str]
    expr: Expr


@dataclass
class Interval(Expr):
    value: Expr
    unit: str


@dataclass
class OrderExpr:
    expr: Expr
    descending: bool = False


@dataclass
class JoinExpr:
    """One FROM source: a table name or a subquery, with its join to the previous source."""

    table: str | SelectQuery | SelectUnion
    alias: str | None = None
    join_type: str | None = None  # None for the first source, else "INNER JOIN", "LEFT JOIN" ...
    constraint: Expr | None = None


@dataclass
class SelectQuery(Expr):
    select: list[Expr]
    distinct: bool = False
    sources: list[JoinExpr] = field(default_factory=list)
    where: Expr | None = None
    group_by: list[Expr] | None = None
    having: Expr | None = None
    order_by: list[OrderExpr] | None = None
    limit: Expr | None = None
    offset: Expr | None = None
    ctes: dict[str, SelectQuery | SelectUnion] = field(default_factory=dict)


@dataclass
class SelectUnion(Expr):
    queries: list[SelectQuery | SelectUnion]
    ops: list[str]  # "UNION ALL" / "UNION DISTINCT", one fewer than queries
    ctes: dict[str, SelectQuery | SelectUnion] = field(default_factory=dict)
