"""A local drand-compatible chain: same paths and JSON as a relay, its own throwaway key.

``LocalDrandChain`` serves ``/{hash}/info``, ``/{hash}/public/{round}`` and
``/{hash}/public/latest`` (also without the hash prefix, and ``/chains``) from a
``ThreadingHTTPServer`` on a background thread. It generates a fresh BLS key at start and
signs rounds with drand's ``bls-unchained-g1-rfc9380`` scheme, so a real client verifies
them. It never uses quicknet's key and shares no code with :mod:`drawkit.beacon` (it is the
outside world the client is tested against). Its beacon id and metadata say what it is:
a test chain, never public randomness.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from pyblst import BlstP1Element, BlstP2Element

from drawkit.offline.serving import BackgroundServer

SCHEME_ID = "bls-unchained-g1-rfc9380"
BEACON_ID = "drawkit-local-test"
NOTE = "drawkit local test chain — not public randomness"
DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
# Order of the BLS12-381 prime subgroup: secret keys are scalars in 1 .. R - 1.
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
G2_GENERATOR = bytes.fromhex(
    "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d05"
    "5d042b7e024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bb"
    "efd48056c8c121bdb8"
)
FAULT_MODES = ("fail", "hang", "garbage", "huge", "forge", "redirect")
_PATH = re.compile(r"^(?:/(?P<hash>[0-9a-f]{64}))?/(?P<rest>info|public/latest|public/[^/]+)/?$")


@dataclass
class ChainFaults:
    """Fault switches, applied to every request while ``mode`` is set.

    ``fail``: HTTP 500. ``hang``: sleep ``hang_seconds`` before answering (longer than a
    client timeout). ``garbage``: 200 with a body that is not JSON. ``huge``: 200 with a
    1 MiB JSON body (a client must not read it all). ``forge``: a round
    answered with another round's valid signature (and its randomness). ``redirect``: 302 to
    ``redirect_to`` + the same path. ``remaining`` faulty answers, then the fault clears
    (None = until cleared). Rounds not yet due always answer ``future_status`` (425 or 404).
    """

    mode: str | None = None
    hang_seconds: float = 30.0
    redirect_to: str | None = None
    remaining: int | None = None
    future_status: int = 425


class LocalDrandChain:
    """A drand-compatible HTTP server for one throwaway chain (tests, demos, offline)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        period: int = 3,
        genesis_time: int | None = None,
        clock: Callable[[], float] = time.time,
        key_seed: bytes | None = None,
    ) -> None:
        """``key_seed`` makes the throwaway key reproducible (tests that re-run a draw in
        another process); by default the key is random, new for every chain."""
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise ValueError("period must be a whole number of seconds >= 1")
        self.host = host
        self.port = port
        self.period = period
        self.clock = clock
        self.genesis_time = int(clock()) if genesis_time is None else int(genesis_time)
        if key_seed is None:
            self._use_key(1 + secrets.randbelow(CURVE_ORDER - 1))
        else:
            digest = hashlib.sha256(b"drawkit local test chain key\x00" + key_seed).digest()
            self._use_key(1 + int.from_bytes(digest, "big") % (CURVE_ORDER - 1))
        self.faults = ChainFaults()
        self.request_log: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._serving: BackgroundServer | None = None

    def _use_key(self, secret: int) -> None:
        """Take ``secret`` as the chain's key; derive the public key, group and chain hash."""
        self._secret = secret
        self.public_key = BlstP2Element.uncompress(G2_GENERATOR).scalar_mul(secret).compress()
        # drand's group hash digests the group file; this chain has no group, so it digests
        # a label, the key and the genesis time instead.
        group = b"drawkit local test chain group" + self.public_key
        self.group_hash = hashlib.sha256(group + self.genesis_time.to_bytes(8, "big")).hexdigest()
        self.chain_hash = _drand_chain_hash(
            self.period, self.genesis_time, self.public_key, self.group_hash, BEACON_ID
        )

    def another_relay(self, host: str | None = None, port: int = 0) -> LocalDrandChain:
        """A second (not started) server of this same chain: same key, genesis, period and
        chain hash, as drand's relays all serve one chain. Its faults are its own."""
        twin = LocalDrandChain(host or self.host, port, period=self.period,
                               genesis_time=self.genesis_time, clock=self.clock)  # fmt: skip
        twin._use_key(self._secret)
        return twin

    def __repr__(self) -> str:  # never the secret key
        return f"LocalDrandChain(url={self.url!r}, chain_hash={self.chain_hash!r})"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalDrandChain:
        """Bind (port 0 = a free port) and serve on a background thread; returns self."""
        if self._serving is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.chain = self  # type: ignore[attr-defined]
        self._stopping.clear()
        self._serving = BackgroundServer(httpd, "drawkit-drand-chain")
        self.port = self._serving.port
        return self

    def stop(self) -> None:
        """Stop serving (hanging answers are released) and close the socket."""
        if self._serving is None:
            return
        self._stopping.set()
        self._serving.stop()
        self._serving = None

    def __enter__(self) -> LocalDrandChain:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_stopped(self, poll: float = 0.5) -> None:
        """Block the calling thread while the server runs (until stop or Ctrl-C)."""
        if self._serving is not None:
            self._serving.wait(poll)

    @property
    def url(self) -> str:
        """Base URL of the relay, e.g. ``http://127.0.0.1:8123``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # ------------------------------------------------------------------ the chain

    def info(self) -> dict[str, Any]:
        """The chain's ``/info`` answer (drand's JSON shape)."""
        return {
            "public_key": self.public_key.hex(),
            "period": self.period,
            "genesis_time": self.genesis_time,
            "hash": self.chain_hash,
            "groupHash": self.group_hash,
            "schemeID": SCHEME_ID,
            "metadata": {"beaconID": BEACON_ID, "note": NOTE},
        }

    def round_time(self, round_number: int) -> int:
        """Unix time at which ``round_number`` is published (round 1 at genesis)."""
        return self.genesis_time + (round_number - 1) * self.period

    def current_round(self) -> int:
        """The latest published round (0 before genesis)."""
        elapsed = self.clock() - self.genesis_time
        return 0 if elapsed < 0 else math.floor(elapsed / self.period) + 1

    def sign(self, round_number: int) -> bytes:
        """The chain's 48-byte signature of ``round_number`` (due or not: tests use it)."""
        return _sign(self._secret, round_number)

    def beacon(self, round_number: int) -> dict[str, Any]:
        """The ``/public/{round}`` answer for ``round_number``."""
        signature = self.sign(round_number)
        return {
            "round": round_number,
            "randomness": hashlib.sha256(signature).hexdigest(),
            "signature": signature.hex(),
        }

    # ------------------------------------------------------------------ faults

    def set_fault(
        self,
        mode: str | None,
        *,
        hang_seconds: float | None = None,
        redirect_to: str | None = None,
        times: int | None = None,
    ) -> None:
        """Switch a fault on (``FAULT_MODES``) for ``times`` answers (None = until cleared),
        or off with ``None``."""
        if mode is not None and mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}: choose from {', '.join(FAULT_MODES)}")
        if mode == "redirect" and not redirect_to:
            raise ValueError("the redirect fault needs redirect_to")
        with self._lock:
            self.faults.mode = mode
            self.faults.remaining = times
            if hang_seconds is not None:
                self.faults.hang_seconds = hang_seconds
            self.faults.redirect_to = redirect_to.rstrip("/") if redirect_to else None

    def set_future_status(self, status: int) -> None:
        """Answer 425 (Too Early) or 404 for rounds not yet due."""
        if status not in (404, 425):
            raise ValueError("a round not yet due answers 404 or 425")
        self.faults.future_status = status

    def _take_fault(self) -> str | None:
        with self._lock:
            mode = self.faults.mode
            if mode is not None and self.faults.remaining is not None:
                self.faults.remaining -= 1
                if self.faults.remaining <= 0:
                    self.faults.mode = None
            return mode

    def _log(self, path: str, status: int, fault: str | None) -> None:
        with self._lock:
            self.request_log.append({"path": path, "status": status, "fault": fault})

    def requests_for(self, path_suffix: str) -> int:
        """How many requests ended with ``path_suffix`` (tests check refused redirects)."""
        with self._lock:
            return sum(1 for e in self.request_log if e["path"].endswith(path_suffix))


def _drand_chain_hash(
    period: int, genesis_time: int, public_key: bytes, group_hash: str, beacon_id: str
) -> str:
    """drand's chain hash: SHA-256(period u32 ‖ genesis i64 ‖ key ‖ group hash ‖ beacon id)."""
    digest = hashlib.sha256(period.to_bytes(4, "big"))
    digest.update(genesis_time.to_bytes(8, "big", signed=True))
    digest.update(public_key)
    digest.update(bytes.fromhex(group_hash))
    digest.update(beacon_id.encode("utf-8"))  # drand omits it only for the id "default"
    return digest.hexdigest()


@lru_cache(maxsize=4096)
def _sign(secret: int, round_number: int) -> bytes:
    message = hashlib.sha256(round_number.to_bytes(8, "big")).digest()
    return BlstP1Element.hash_to_group(message, DST).scalar_mul(secret).compress()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timed out, refused a large answer) is not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "drawkit-local-drand"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the default stderr access log (``request_log`` holds it)."""

    @property
    def chain(self) -> LocalDrandChain:
        return self.server.chain  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._answer(405, {"error": "method not allowed"}, None)

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        chain = self.chain
        fault = chain._take_fault()
        if fault == "hang":
            if chain._stopping.wait(chain.faults.hang_seconds):
                self.close_connection = True
                return
        elif fault == "fail":
            return self._answer(500, {"error": "injected failure"}, fault)
        elif fault == "garbage":
            return self._answer(200, b'{"round": 1, "signature": ', fault)
        elif fault == "huge":
            return self._answer(200, {"padding": "0" * (1 << 20)}, fault)
        elif fault == "redirect":
            location = f"{chain.faults.redirect_to}{path}"
            return self._answer(302, {"error": "moved"}, fault, {"Location": location})
        status, payload = self._route(path, forge=fault == "forge")
        self._answer(status, payload, fault)

    def _route(self, path: str, *, forge: bool) -> tuple[int, Any]:
        chain = self.chain
        if path.rstrip("/") == "/chains":
            return 200, [chain.chain_hash]
        match = _PATH.match(path)
        if not match or match["hash"] not in (None, chain.chain_hash):
            return 404, {"error": "not found"}
        rest = match["rest"]
        if rest == "info":
            return 200, chain.info()
        current = chain.current_round()
        if rest == "public/latest":
            if current < 1:
                return chain.faults.future_status, {"error": "no round published yet"}
            wanted = current
        else:
            text = rest.removeprefix("public/")
            if not text.isdigit() or int(text) < 1 or int(text) >= 2**64:
                return 400, {"error": "round must be a positive integer"}
            wanted = int(text)
            if wanted > current:
                return chain.faults.future_status, {"error": "round not published yet"}
        if forge:
            other = chain.beacon(wanted + 1)
            return 200, {**other, "round": wanted}
        return 200, chain.beacon(wanted)

    def _answer(
        self, status: int, payload: Any, fault: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self.chain._log(urlsplit(self.path).path, status, fault)
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out on a hang)


def started_banner(chain: LocalDrandChain) -> list[str]:
    """What ``serve_forever`` prints: where it listens, its chain hash, how to point at it."""
    genesis = datetime.fromtimestamp(chain.genesis_time, tz=UTC).isoformat()
    return [
        f"drawkit local test drand chain listening on {chain.url}",
        f"chain hash {chain.chain_hash} (period {chain.period} s, genesis {genesis})",
        f"NOT public randomness: {NOTE}; its key lives in this process",
        f"export DRAWKIT_DRAND_RELAYS={chain.url}",
        f"export DRAWKIT_DRAND_CHAIN_HASH={chain.chain_hash}",
        "# Ctrl-C or SIGTERM to stop",
    ]
