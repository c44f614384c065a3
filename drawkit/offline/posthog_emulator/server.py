"""The emulator's HTTP server: capture, the private API (persons, cohorts, query) and admin.

``EmulatorServer`` runs a ``ThreadingHTTPServer`` on a background thread; every request gets
its own thread, and queries run on their own ClickHouse sessions with a time limit, so one
heavy query never freezes the others. The server defends itself: a ``Content-Length`` or
chunk size that is not a number is a 400, bodies (after gunzip, decompressed in bounded
steps) are capped at 20 MB, JSON nested too deeply is a 400, a client that stops sending is
timed out, and ``next`` links use the configured origin, never the ``Host`` header. Requests
to the capture and private API pass through fault injection and are recorded in
``request_log`` (method, path, status, fault; never bodies or keys); ``/_emulator/...``
admin routes need the admin key and are never faulted.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
import zlib
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from drawkit.offline.posthog_emulator import admin_routes, routing
from drawkit.offline.posthog_emulator.behaviours import Behaviours, profile
from drawkit.offline.posthog_emulator.faults import Faults
from drawkit.offline.posthog_emulator.protocol import ApiError, Request, validation_error
from drawkit.offline.posthog_emulator.state import EmulatorState
from drawkit.offline.posthog_emulator.store import Store
from drawkit.offline.serving import BackgroundServer

ALL_SCOPES = ("*",)
BODY_LIMIT = 20 * 1024 * 1024  # BATCH_BODY_SIZE; also the cap on a decompressed body
READ_TIMEOUT = 30.0  # seconds a client may take between two reads
_MASK_DIGITS = re.compile(r"(\+?\d{3})\d{4,}(\d{3})")


def _mask_path(path: str) -> str:
    """A path with phone-number-like digit runs masked (request logs hold no numbers)."""
    return _MASK_DIGITS.sub(lambda m: m.group(1) + "****" + m.group(2), path)


class EmulatorServer:
    """A local PostHog Cloud stand-in (see docs/emulator.md)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        project_id: str | int = "1",
        api_key: str | None = None,
        project_api_key: str | None = None,
        *,
        profile: str = "ideal",
        scopes: Iterable[str] = ALL_SCOPES,
        admin_key: str | None = None,
        public_url: str | None = None,
        faults: Faults | None = None,
        calculation_seconds: float | None = None,
        hogql_rate_limit: int | None = None,
        **switches: Any,
    ) -> None:
        if calculation_seconds is not None:
            switches["cohort_calculation_seconds"] = calculation_seconds
        if hogql_rate_limit is not None:
            switches["hogql_rate_limit"] = hogql_rate_limit
        self.host = host
        self.port = port
        self.profile = profile
        self.public_url = public_url
        self.state = EmulatorState(
            project_id=str(project_id),
            api_key=api_key or "phx_emulator_" + secrets.token_hex(16),
            project_api_key=project_api_key or "phc_emulator_" + secrets.token_hex(16),
            admin_key=admin_key or "emu_admin_" + secrets.token_hex(16),
            scopes=set(scopes),
            behaviours=_profile(profile, switches),
            faults=faults or Faults(),
        )
        self._serving: BackgroundServer | None = None

    # ------------------------------------------------------------------ the state

    @property
    def project_id(self) -> str:
        return self.state.project_id

    @property
    def api_key(self) -> str:
        return self.state.api_key

    @property
    def project_api_key(self) -> str:
        return self.state.project_api_key

    @property
    def admin_key(self) -> str:
        """The key ``/_emulator/...`` requests must carry (``Authorization: Bearer …``)."""
        return self.state.admin_key

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def request_log(self) -> list[dict[str, Any]]:
        return self.state.request_log

    @property
    def behaviours(self) -> Behaviours:
        """The switches in force (replace with :meth:`configure`)."""
        return self.state.behaviours

    def configure(self, **switches: Any) -> Behaviours:
        """Change behaviour switches (names as in :class:`Behaviours`); returns the new set."""
        self.state.behaviours = self.state.behaviours.with_changes(**switches)
        return self.state.behaviours

    @property
    def scopes(self) -> set[str]:
        return self.state.scopes

    @scopes.setter
    def scopes(self, value: Iterable[str]) -> None:
        self.state.set_scopes(value)

    @property
    def calculation_seconds(self) -> float:
        return self.behaviours.cohort_calculation_seconds

    @calculation_seconds.setter
    def calculation_seconds(self, value: float) -> None:
        self.configure(cohort_calculation_seconds=value)

    @property
    def hogql_rate_limit(self) -> int | None:
        return self.behaviours.hogql_rate_limit

    @hogql_rate_limit.setter
    def hogql_rate_limit(self, value: int | None) -> None:
        self.configure(hogql_rate_limit=value)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EmulatorServer:
        """Bind and serve on a background thread; returns self."""
        if self._serving is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.state = self.state  # type: ignore[attr-defined]
        self.port = httpd.server_address[1]
        self.state.origin = (self.public_url or self.url).rstrip("/")
        self._serving = BackgroundServer(httpd, "drawkit-emulator")
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._serving is None:
            return
        self._serving.stop()
        self._serving = None

    def close(self) -> None:
        """Stop serving and drop the store's database; the server is unusable afterwards."""
        self.stop()
        self.store.close()

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (the CLI uses this), then close."""
        self.start()
        try:
            if self._serving is not None:
                self._serving.wait()
        finally:
            self.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123`` (for both capture and private API)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The four POSTHOG_* variables a client needs to talk to this server."""
        return {
            "POSTHOG_BASE_URL": self.url,
            "POSTHOG_PROJECT_ID": self.project_id,
            "POSTHOG_API_KEY": self.api_key,
            "POSTHOG_PROJECT_API_KEY": self.project_api_key,
        }

    # ------------------------------------------------------------------ data

    def ingest(self, events: Iterable[Any], *, sent_at: Any = None) -> int:
        """Pre-load capture-shaped events through the capture path (same validation, person
        model and typing), queryable at once; returns the number accepted. All or nothing per
        100,000 events; an invalid event raises ``ingestion.CaptureError``."""
        return self.store.ingest(events, sent_at=sent_at)

    def ingest_file(self, path: str | Path) -> int:
        """Pre-load a file of capture-shaped events: JSON lines, or one JSON array/batch."""
        text = Path(path).read_text(encoding="utf-8")
        stripped = text.lstrip()
        if stripped.startswith(("[", "{")) and not stripped.startswith("{\"event\""):
            body = json.loads(text)
            events = body.get("batch", [body]) if isinstance(body, dict) else body
            return self.ingest(events)
        return self.ingest(json.loads(line) for line in text.splitlines() if line.strip())

    def ingest_pending(self) -> None:
        """Make every captured event queryable now, as if the ingestion lag had passed."""
        self.store.ingest_pending()

    def log(self, entry: dict[str, Any]) -> None:
        """Append a request record (thread-safe)."""
        self.state.log(entry)


def _profile(name: str, switches: dict[str, Any]) -> Behaviours:
    return profile(name, **switches)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many concurrent clients (reliability tests) must not be refused


class _BodyError(Exception):
    """A request whose framing cannot be read: answer 400 and close the connection."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drawkit-emulator"
    timeout = READ_TIMEOUT  # a client that stops sending is dropped
    # Headers and body go out in two sends; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK would hold every answer back ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default stderr access log (the request log holds it)."""

    @property
    def state(self) -> EmulatorState:
        return self.server.state  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._handle("OPTIONS")

    # ------------------------------------------------------------------ plumbing

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        admin = path.startswith("/_emulator/")
        entry: dict[str, Any] | None = None if admin else {
            "method": method, "path": _mask_path(path), "status": None, "fault": None
        }  # fmt: skip
        started = time.monotonic()
        try:
            body = self._read_body()
            request = Request(method, path, query, self.headers, body, self.state.origin, {})
            if admin:
                status, payload, headers = self._admin(request)
            else:
                status, payload, headers = self._api(request, entry)  # type: ignore[arg-type]
                if status is None:
                    return  # dropped on purpose
        except _BodyError as exc:
            self.close_connection = True
            status, payload, headers = 400, validation_error(str(exc)).body, {}
        except ApiError as exc:
            status, payload, headers = exc.status, exc.body, exc.headers
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        except Exception as exc:  # a bug in the emulator: answer like PostHog's 500
            status, payload, headers = 500, _server_error(exc), {}
        if entry is not None:
            entry["status"] = status
            entry["seconds"] = round(time.monotonic() - started, 4)
            self.state.log(entry)
        try:
            self._send(status, payload, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out on a slow answer)

    def _api(self, request: Request, entry: dict[str, Any]) -> tuple[Any, Any, dict[str, str]]:
        faults = self.state.faults
        fault = faults.draw()
        entry["fault"] = fault
        if fault == "drop":
            self.state.log(entry)
            self._drop()
            return None, None, {}
        if fault == "slow":
            time.sleep(faults.slow_seconds)
        elif fault is not None:
            raise _fault_error(int(fault), faults.retry_after, request.path)
        return routing.dispatch(self.state, request)

    def _admin(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        header = request.headers.get("Authorization") or ""
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not key:
            raise ApiError(401, "authentication_error", "not_authenticated",
                           "The emulator's admin key was not provided.")  # fmt: skip
        if not secrets.compare_digest(key.encode(), self.state.admin_key.encode()):
            raise ApiError(403, "authentication_error", "permission_denied",
                           "The emulator's admin key is wrong.")  # fmt: skip
        return admin_routes.admin(self.state, request)

    # ------------------------------------------------------------------ bodies

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            body = self._read_sized()
        if body[:2] == b"\x1f\x8b":
            body = _gunzip(body)
        return body

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise _BodyError(f"Invalid chunk size {size_text[:20]!r}") from exc
            if size < 0:
                raise _BodyError("Invalid chunk size")
            if size == 0:
                for _ in range(100):
                    if self.rfile.readline(1024) in (b"\r\n", b"\n", b""):
                        break
                return b"".join(chunks)
            total += size
            if total > BODY_LIMIT:
                raise _BodyError("Request body is too large (more than 20 MB)")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BodyError("The request body ended early")
            chunks.append(chunk)
            self.rfile.readline(16)

    def _read_sized(self) -> bytes:
        raw = (self.headers.get("Content-Length") or "").strip()
        if not raw:
            return b""
        if not raw.isdigit():
            raise _BodyError(f"Invalid Content-Length {raw[:20]!r}")
        length = int(raw)
        if length > BODY_LIMIT:
            raise _BodyError("Request body is too large (more than 20 MB)")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _BodyError("The request body ended early")
        return body

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = b"" if payload is None else json.dumps(payload, default=str).encode("utf-8")
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _gunzip(body: bytes) -> bytes:
    """Decompress in bounded steps: a gzip bomb stops at the 20 MB cap, not in memory."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out: list[bytes] = []
    total = 0
    data = body
    try:
        while data:
            piece = inflater.decompress(data, 1024 * 1024)
            total += len(piece)
            if total > BODY_LIMIT:
                raise validation_error("Event too big (more than 20 MB decompressed)", None,
                                       "event_too_big")  # fmt: skip
            out.append(piece)
            data = inflater.unconsumed_tail
        out.append(inflater.flush())
    except zlib.error as exc:
        raise validation_error(f"Cannot decompress gzip body: {exc}") from exc
    return b"".join(out)


def _fault_error(status: int, retry_after: int, path: str) -> ApiError:
    if status == 429:
        return ApiError(
            429, "throttled_error", "throttled",
            f"Request was throttled. Expected available in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )  # fmt: skip
    capture = routing.CAPTURE_PATHS.match(path)
    detail = "transient error, please retry" if capture else "A server error occurred."
    return ApiError(status, "server_error", "error", detail)


def _server_error(exc: Exception) -> dict[str, Any]:
    return {
        "type": "server_error",
        "code": "error",
        "detail": f"A server error occurred ({type(exc).__name__}: {str(exc)[:200]}).",
        "attr": None,
    }
