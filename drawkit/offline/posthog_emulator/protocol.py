"""Request and error types shared by the emulator's server and route handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode


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
    """One parsed request, handed to the route handlers in :mod:`drawkit.offline.posthog_emulator.api`."""

    method: str
    path: str
    query: dict[str, str]
    headers: Any
    body: bytes
    base_url: str
    params: dict[str, str]

    def json(self) -> Any:
        """The body as JSON (``{}`` when empty); 400 when unreadable."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = f"JSON parse error - {exc}"
            raise ApiError(400, "invalid_request", "parse_error", detail) from exc

    def page_url(self, limit: int, offset: int) -> str:
        """Absolute URL of this list with another limit/offset (for ``next``/``previous``)."""
        query = dict(self.query)
        query.update(limit=str(limit), offset=str(offset))
        return f"{self.base_url}{self.path}?{urlencode(query)}"


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
