"""A small TOML writer for the fuzz tests (the standard library only reads TOML)."""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any


def string(text: str) -> str:
    """A TOML basic string (escapes quotes, backslashes and control characters)."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def value(v: Any) -> str:
    """One TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{string(str(k))} = {value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def dumps(data: dict[str, Any]) -> str:
    """A document: scalars first, then tables, then arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, v in data.items():
        if isinstance(v, dict):
            tables.append((key, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((key, v))
        else:
            lines.append(f"{string(key)} = {value(v)}")
    for key, table in tables:
        lines.append(f"[{string(key)}]")
        lines += [f"{string(str(k))} = {value(x)}" for k, x in table.items()]
    for key, items in arrays:
        for item in items:
            lines.append(f"[[{string(key)}]]")
            lines += [f"{string(str(k))} = {value(x)}" for k, x in item.items()]
    return "\n".join(lines) + "\n"
