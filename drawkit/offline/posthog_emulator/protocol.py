"""Request and error types shared by the emulator's server and route handlers."""


from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np


class ApiError(Exception):
    """An error answer in PostHog's shape ``{type, code, detail, attr}``."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        detail: str,
        attr: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"type": type_, "code": code, "detail": detail, "attr": attr}
        self.headers = headers or {}


def not_found(detail: str = "Not found.") -> ApiError:
    """404 in DRF's words."""
    return ApiError(404, "invalid_request", "not_found", detail)


def validation_error(detail: str, attr: str | None = None, code: str = "invalid_input") -> ApiError:
    """400 as PostHog's DRF handler writes it."""
    return ApiError(400, "validation_error", code, detail, attr)


@dataclass
class Request:
    """One parsed request, handed to the route handlers."""

    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes
    base_url: str  # the emulator's configured origin (never the Host header)
    params: dict[str, str]

    def json(self) -> Any:
        """The body as JSON (``{}`` when empty); 400 when unreadable."""
        if not self.body.strip():
            return {}
        return loads(self.body)

    def page_url(self, limit: int, offset: int) -> str:
        """Absolute URL of this list with another limit/offset (for ``next``/``previous``)."""
        query = dict(self.query)
        query.update(limit=str(limit), offset=str(offset))
        return f"{self.base_url}{self.path}?{urlencode(query)}"


MAX_JSON_DEPTH = 128  # serde_json's recursion limit (PostHog's capture parses with serde)


def loads(body: bytes | str) -> Any:
    """JSON from a request body; 400 (not a crash) when unreadable or nested too deeply.
    The nesting is measured on the text before parsing: the parser recurses, and a process
    whose recursion limit was raised (py-ecc raises it to 100,000) would overflow the C
    stack of a handler thread instead of raising RecursionError."""
    if _text_depth(body) > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_request", "parse_error",
                       f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        detail = f"JSON parse error - {str(exc)[:200] or type(exc).__name__}"
        raise ApiError(400, "invalid_request", "parse_error", detail) from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_request", "parse_error",
                       f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
    return value


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def _text_depth(body: bytes | str) -> int:
    """The deepest nesting of brackets in JSON text, strings skipped (C-speed passes)."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets, dtype=np.uint8)
    moves = np.where((steps == ord("[")) | (steps == ord("{")), 1, -1)
    return int(np.cumsum(moves).max())


def _depth(value: Any) -> int:
    """How deeply containers nest in ``value`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in item)
        if deepest > MAX_JSON_DEPTH:
            break
    return deepest


DEFAULT_PAGE = 100
MAX_PAGE = 10_000


def paginate(request: Request, items: list[Any], *, count: bool = True) -> dict[str, Any]:
    """DRF limit/offset page of ``items`` with absolute ``next``/``previous`` URLs."""
    limit = _int_param(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 0, None)
    page = items[offset : offset + limit]
    body: dict[str, Any] = {
        "next": request.page_url(limit, offset + limit) if offset + limit < len(items) else None,
        "previous": request.page_url(limit, max(0, offset - limit)) if offset > 0 else None,
        "results": page,
    }
    if count:
        body = {"count": len(items), **body}
    return body


def page_of(request: Request, items: list[Any]) -> dict[str, Any]:
    """PostHog's persons paging: ``next`` whenever the page is full, no ``count``."""
    limit = _int_param(request, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 0, None)
    page = items[offset : offset + limit]
    return {
        "next": request.page_url(limit, offset + limit) if len(page) >= limit else None,
        "previous": request.page_url(limit, offset - limit) if offset - limit >= 0 else None,
        "results": page,
    }


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise validation_error(f"A valid integer is required for {name!r}.", name) from exc
    if value < low:
        raise validation_error(f"{name!r} must be at least {low}.", name)
    return min(value, high) if high else value
