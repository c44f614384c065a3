"""The emulator's HTTP server: capture, private API (persons, cohorts, query) and admin.

``EmulatorServer`` runs a ``ThreadingHTTPServer`` on a background thread. Requests to the
capture and private API pass through fault injection (:mod:`drawkit.offline.posthog_emulator.faults`) and
are recorded in ``request_log`` (method, path, status, fault; never bodies or keys).
``/_emulator/...`` admin routes answer loopback clients only and never fail on purpose.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
import secrets
import socket
import threading
import time
import zlib
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from drawkit.config import PromotionConfig
from drawkit.offline.posthog_emulator import api
from drawkit.offline.posthog_emulator.faults import Faults
from drawkit.offline.posthog_emulator.protocol import ApiError, Request, not_found, validation_error
from drawkit.offline.posthog_emulator.store import Store
from drawkit.redact import redact

ALL_SCOPES = ("*",)
BATCH_BODY_LIMIT = 20 * 1024 * 1024
EVENT_BODY_LIMIT = 2 * 1024 * 1024
CAPTURE_PATHS = re.compile(r"^/(?:i/v0/e|e|capture|track|engage|batch)/?$")


class EmulatorServer:
    """A local PostHog-compatible HTTP server for tests, demos and offline work."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        project_id: str | int = "1",
        api_key: str | None = None,
        project_api_key: str | None = None,
        *,
        scopes: Iterable[str] = ALL_SCOPES,
        calculation_seconds: float = 0.3,
        hogql_rate_limit: int | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.project_id = str(project_id)
        self.api_key = api_key or "phx_emulator_" + secrets.token_hex(16)
        self.project_api_key = project_api_key or "phc_emulator_" + secrets.token_hex(16)
        self.scopes = set(scopes)
        self.calculation_seconds = calculation_seconds
        self.hogql_rate_limit = hogql_rate_limit
        self.faults = faults or Faults()
        self.store = Store()
        self.synth: Any = None  # the SynthData last given to load_synth
        self.request_log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._query_times: list[float] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EmulatorServer:
        """Bind and serve on a background thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.emulator = self  # type: ignore[attr-defined]
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="drawkit-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def close(self) -> None:
        """Stop serving and release the store (duckdb); the server is unusable afterwards."""
        self.stop()
        self.store.close()

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (the CLI uses this), then close."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
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

    def load_synth(self, data: Any, config: PromotionConfig | None = None) -> dict[str, Any]:
        """Pre-load a ``drawkit.synth.SynthData`` as the capture upload would leave it
        (event and property names, timezone from ``config``); returns counts."""
        from drawkit.offline.posthog_emulator.loaders import load_synth

        self.synth = data
        return load_synth(self.store, data, config)

    def load_dir(self, path: Any, config: PromotionConfig | None = None) -> dict[str, Any]:
        """Pre-load exported files (recharges.csv|parquet, blacklist.csv or persons.csv)."""
        from drawkit.offline.posthog_emulator.loaders import load_dir

        return load_dir(self.store, path, config)

    def log(self, entry: dict[str, Any]) -> None:
        """Append a request record (thread-safe)."""
        with self._log_lock:
            self.request_log.append(entry)

    def allow_query(self) -> float | None:
        """None when a HogQL query may run now, else seconds until the hourly budget frees."""
        if not self.hogql_rate_limit:
            return None
        now = time.monotonic()
        with self._log_lock:
            self._query_times = [t for t in self._query_times if now - t < 3600]
            if len(self._query_times) >= self.hogql_rate_limit:
                return 3600 - (now - self._query_times[0])
            self._query_times.append(now)
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many concurrent clients (reliability tests) must not be refused


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drawkit-emulator"
    # Headers and body go out in two sends; without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK would hold every answer back ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default stderr access log (the request log holds it)."""

    @property
    def emulator(self) -> EmulatorServer:
        return self.server.emulator  # type: ignore[attr-defined]

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
        entry: dict[str, Any] | None = {
            "method": method, "path": redact(path), "status": None, "fault": None
        }  # fmt: skip
        started = time.monotonic()
        try:
            body = self._read_body()
            host = self.headers.get("Host") or f"{self.emulator.host}:{self.emulator.port}"
            request = Request(method, path, query, self.headers, body, f"http://{host}", {})
            if path.startswith("/_emulator/"):
                entry = None  # admin calls are not API traffic: not logged
                status, payload, headers = self._admin(request)
            else:
                fault = self.emulator.faults.draw()
                entry["fault"] = fault
                if fault == "drop":
                    self.emulator.log(entry)
                    self._drop()
                    return
                if fault == "slow":
                    time.sleep(self.emulator.faults.slow_seconds)
                elif fault is not None:
                    raise _fault_error(int(fault), self.emulator.faults.retry_after, path)
                status, payload, headers = self._dispatch(request)
        except ApiError as exc:
            status, payload, headers = exc.status, exc.body, exc.headers
        except Exception as exc:  # a bug in the emulator: answer like PostHog's 500
            status, payload, headers = 500, _server_error(exc), {}
        if entry is not None:
            entry["status"] = status
            entry["seconds"] = round(time.monotonic() - started, 4)
            self.emulator.log(entry)
        try:
            self._send(status, payload, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out on a slow answer)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            body = self._read_sized()
        if body[:2] == b"\x1f\x8b":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as exc:
                raise validation_error(f"Cannot decompress gzip body: {exc}") from exc
        return body

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > BATCH_BODY_LIMIT:
                self.close_connection = True
                raise validation_error("Request body is too large", code="event_too_big")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _read_sized(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > BATCH_BODY_LIMIT:
            self.close_connection = True
            raise validation_error("Request body is too large", code="event_too_big")
        return self.rfile.read(length) if length else b""

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
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if CAPTURE_PATHS.match(request.path):
            if request.method == "OPTIONS":
                return 200, None, {"Allow": "GET, POST, OPTIONS"}
            return api.capture(self.emulator, request)
        for method, pattern, handler, scopes in api.ROUTES:
            match = pattern.match(request.path)
            if not match:
                continue
            if method != request.method:
                continue
            request.params = match.groupdict()
            self._authenticate(request, scopes)
            return handler(self.emulator, request)
        if any(pattern.match(request.path) for _, pattern, _, _ in api.ROUTES):
            self._authenticate(request, ())
            raise ApiError(
                405, "invalid_request", "method_not_allowed",
                f'Method "{request.method}" not allowed.',
            )  # fmt: skip
        raise not_found()

    def _authenticate(self, request: Request, scopes: tuple[str, ...]) -> None:
        header = request.headers.get("Authorization") or ""
        key = header[7:].strip() if header.lower().startswith("bearer ") else None
        key = key or request.query.get("personal_api_key")
        if not key:
            raise ApiError(
                401, "authentication_error", "not_authenticated",
                "Authentication credentials were not provided.",
            )  # fmt: skip
        if not secrets.compare_digest(key.encode(), self.emulator.api_key.encode()):
            raise ApiError(
                401, "authentication_error", "authentication_failed",
                "Personal API key found in request Authorization header is invalid.",
            )  # fmt: skip
        project = request.params.get("project_id")
        if project is not None and project not in (self.emulator.project_id, "@current"):
            raise not_found("Project not found.")
        granted = self.emulator.scopes
        for scope in scopes:
            read_ok = scope.endswith(":read") and scope.replace(":read", ":write") in granted
            if "*" not in granted and scope not in granted and not read_ok:
                raise ApiError(
                    403, "authentication_error", "permission_denied",
                    f"API key missing required scope '{scope}'",
                )  # fmt: skip

    def _admin(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        client = self.client_address[0]
        if not ipaddress.ip_address(client.split("%")[0]).is_loopback:
            raise ApiError(403, "authentication_error", "permission_denied", "Loopback only.")
        return api.admin(self.emulator, request)


def _fault_error(status: int, retry_after: int, path: str) -> ApiError:
    if status == 429:
        return ApiError(
            429, "throttled_error", "throttled",
            f"Request was throttled. Expected available in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )  # fmt: skip
    detail = (
        "transient error, please retry" if CAPTURE_PATHS.match(path) else "A server error occurred."
    )
    return ApiError(status, "server_error", "error", detail)


def _server_error(exc: Exception) -> dict[str, Any]:
    return {
        "type": "server_error",
        "code": "error",
        "detail": f"A server error occurred ({type(exc).__name__}: {exc}).",
        "attr": None,
    }
