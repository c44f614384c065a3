"""A drand HTTP client: chain info and rounds from relays, every answer authenticated.

A relay is a transport, not a trusted party. Each request has a timeout; relays are tried
in turn; a relay that answers something that does not verify (a wrong signature, another
round, garbage) is skipped with a warning and the next one is tried; redirects are refused
and plain HTTP is allowed to loopback only. Passes over the relays are retried (tenacity)
for transient failures, within a bound on attempts and on total time. Any non-200 answer is
"not available", never a value.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception

from drawkit.beacon.bls import check_round
from drawkit.beacon.chain import QUICKNET, ChainInfo
from drawkit.beacon.verify import Beacon, verify_answer
from drawkit.config import is_loopback_host
from drawkit.errors import (
    BeaconFormatError,
    BeaconNotAuthenticError,
    BeaconNotYetPublishedError,
    BeaconUnavailableError,
    SettingsError,
)

logger = logging.getLogger("drawkit.beacon")

DEFAULT_RELAYS: tuple[str, ...] = (
    "https://api.drand.sh",
    "https://api2.drand.sh",
    "https://api3.drand.sh",
    "https://drand.cloudflare.com",
)
ENV_RELAYS = "DRAWKIT_DRAND_RELAYS"
ENV_CHAIN_HASH = "DRAWKIT_DRAND_CHAIN_HASH"
MAX_ANSWER_BYTES = 64 * 1024
_TOO_EARLY_STATUSES = frozenset({404, 425})
_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

T = TypeVar("T")


# --------------------------------------------------------------------------- settings


def validate_relay(url: str, source: str = "drand relay") -> str:
    """``url`` without a trailing slash; refuse non-http(s) and plain HTTP off loopback."""
    text = url.strip() if isinstance(url, str) else ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{source} {url!r} must be an https URL such as {DEFAULT_RELAYS[0]}")
    if parts.query or parts.fragment:
        raise SettingsError(f"{source} {text!r} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise SettingsError(
            f"{source} {text!r} uses plain http to {parts.hostname}: HTTPS is required except "
            "for loopback addresses (localhost, 127.0.0.1, ::1)"
        )
    return text.rstrip("/")


def relays_from_env(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Relays from ``DRAWKIT_DRAND_RELAYS`` (comma separated), else the public defaults."""
    env = os.environ if env is None else env
    raw = (env.get(ENV_RELAYS) or "").strip()
    if not raw:
        return DEFAULT_RELAYS
    relays = [validate_relay(item, ENV_RELAYS) for item in raw.split(",") if item.strip()]
    if not relays:
        raise SettingsError(f"{ENV_RELAYS} names no relay: give comma-separated https URLs")
    return tuple(dict.fromkeys(relays))


def chain_hash_from_env(env: Mapping[str, str] | None = None) -> str | None:
    """The chain hash in ``DRAWKIT_DRAND_CHAIN_HASH`` (64 hex digits), or None when unset."""
    env = os.environ if env is None else env
    raw = (env.get(ENV_CHAIN_HASH) or "").strip().lower()
    if not raw:
        return None
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        raise SettingsError(f"{ENV_CHAIN_HASH} must be a drand chain hash (64 hex digits)")
    return raw


@dataclass(frozen=True)
class BeaconRetryPolicy:
    """How a call retries: passes over all relays, bounded in number and in total time.

    A pass tries each relay once (with the client's per-request timeout). A failed pass is
    retried after an exponential backoff only when some relay failed transiently (timeout,
    dropped connection, 5xx, a due round not there yet); no wait runs past ``max_seconds``.
    """

    max_passes: int = 3
    max_seconds: float = 20.0
    backoff_initial: float = 0.5
    backoff_max: float = 4.0

    def __post_init__(self) -> None:
        if self.max_passes < 1 or self.max_seconds <= 0:
            raise ValueError("max_passes must be >= 1 and max_seconds > 0")


@dataclass(frozen=True)
class WaitProgress:
    """What :meth:`DrandClient.wait_for_round` is doing, for a progress callback."""

    round: int
    due_at: datetime
    seconds_to_due: float  # negative once the round's time has passed
    waited: float  # seconds since the wait began
    state: str  # "waiting" (before due), "fetching", "retrying" (due, not fetched yet)
    detail: str = ""


# --------------------------------------------------------------------------- relays

_TRANSIENT, _TOO_EARLY, _REFUSED = "transient", "too early", "refused"


class _RelayFailure(Exception):
    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class _PassFailed(Exception):
    def __init__(self, retryable: bool) -> None:
        super().__init__("no relay answered")
        self.retryable = retryable


class _RelayPool:
    """Failover across relays with one tenacity retry layer over whole passes."""

    def __init__(
        self,
        relays: Iterable[str],
        timeout: float,
        policy: BeaconRetryPolicy,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        now: Callable[[], datetime],
        session: requests.Session | None,
    ) -> None:
        self.relays = tuple(dict.fromkeys(validate_relay(r) for r in relays))
        if not self.relays:
            raise SettingsError("no drand relay given: pass at least one https URL")
        if not timeout > 0:
            raise SettingsError("the drand request timeout must be positive")
        self.timeout = float(timeout)
        self.policy = policy
        self.clock, self.sleep, self.now = clock, sleep, now
        self.session = session or requests.Session()
        self.last_relay: str | None = None

    def get(
        self,
        path: str,
        parse: Callable[[Any], T],
        *,
        what: str,
        due: datetime | None = None,
        deadline: float | None = None,
    ) -> T:
        """The first authentic ``parse``-d answer for ``path`` from any relay, or raise."""
        start = self.clock()
        own = start + self.policy.max_seconds
        deadline = own if deadline is None else min(deadline, own)
        failures: dict[str, str] = {}
        refused: set[str] = set()
        retrying = Retrying(
            stop=lambda state: state.attempt_number >= self.policy.max_passes
            or self.clock() >= deadline,
            wait=lambda state: self._wait(state, deadline),
            retry=retry_if_exception(lambda e: isinstance(e, _PassFailed) and e.retryable),
            sleep=self.sleep,
            before_sleep=lambda state: logger.info(
                "drand %s: no relay answered (pass %d); retrying", what, state.attempt_number
            ),
            reraise=True,
        )
        try:
            return retrying(self._pass, path, parse, what, due, deadline, failures, refused)
        except _PassFailed:
            passes = retrying.statistics.get("attempt_number", 1)
            tried = "; ".join(f"{relay}: {reason}" for relay, reason in failures.items())
            raise BeaconUnavailableError(
                f"no drand relay gave an authentic {what} after {passes} pass(es) in "
                f"{self.clock() - start:.1f}s (tried {tried}). Check the network and "
                f"{ENV_RELAYS}, then run again"
            ) from None

    def _pass(
        self,
        path: str,
        parse: Callable[[Any], T],
        what: str,
        due: datetime | None,
        deadline: float,
        failures: dict[str, str],
        refused: set[str],
    ) -> T:
        retryable = False
        for relay in self.relays:
            if relay in refused:
                continue
            remaining = deadline - self.clock()
            if remaining <= 0:
                failures.setdefault(relay, "not tried: the time bound ran out")
                break
            try:
                answer = parse(self._get_json(relay, path, min(self.timeout, remaining)))
                self.last_relay = relay
                return answer
            except _RelayFailure as failure:
                failures[relay] = failure.reason
                if failure.kind == _REFUSED:
                    refused.add(relay)
                    logger.warning("drand relay %s skipped for %s: %s", relay, what, failure)
                else:
                    retryable = True
            except (BeaconFormatError, BeaconNotAuthenticError) as exc:
                failures[relay] = f"answered a {what} that is not authentic ({exc})"
                refused.add(relay)
                logger.warning("drand relay %s answered a %s that is not authentic, "
                               "skipped: %s", relay, what, exc)  # fmt: skip
        if due is not None and self.now() < due:
            tried = "; ".join(f"{relay}: {reason}" for relay, reason in failures.items())
            raise BeaconNotYetPublishedError(
                f"{what} is not published yet: it is due at {due.isoformat()} "
                f"(relays: {tried})"
            )
        raise _PassFailed(retryable and len(refused) < len(self.relays))

    def _get_json(self, relay: str, path: str, timeout: float) -> Any:
        try:
            response = self.session.get(
                relay + path,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
                headers={"Accept": "application/json"},
            )
        except requests.Timeout:
            raise _RelayFailure(f"timed out after {timeout:.1f}s", _TRANSIENT) from None
        except requests.RequestException as exc:
            raise _RelayFailure(f"connection failed ({type(exc).__name__})", _TRANSIENT) from None
        with response:
            status = response.status_code
            if 300 <= status < 400:
                target = urlsplit(response.headers.get("Location") or "").netloc or "elsewhere"
                raise _RelayFailure(
                    f"redirected (HTTP {status}) to {target}: redirects are refused", _REFUSED
                )
            if status in _TOO_EARLY_STATUSES:
                raise _RelayFailure(f"HTTP {status}: not available", _TOO_EARLY)
            if status != 200:
                kind = _TRANSIENT if status in _TRANSIENT_STATUSES else _REFUSED
                raise _RelayFailure(f"HTTP {status}: not available", kind)
            body = self._read(response, timeout)
        try:
            return json.loads(body)
        except ValueError:
            raise BeaconFormatError("the answer is not JSON") from None

    @staticmethod
    def _read(response: requests.Response, timeout: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=8192):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _RelayFailure(
                        f"answer larger than {MAX_ANSWER_BYTES} bytes: refused", _REFUSED
                    )
                chunks.append(chunk)
        except requests.RequestException as exc:
            reason = f"the answer stopped ({type(exc).__name__}; timeout {timeout:.1f}s)"
            raise _RelayFailure(reason, _TRANSIENT) from None
        return b"".join(chunks)

    def _wait(self, state: RetryCallState, deadline: float) -> float:
        p = self.policy
        wait = min(p.backoff_max, p.backoff_initial * 2 ** (state.attempt_number - 1))
        return max(0.0, min(wait, deadline - self.clock()))


# --------------------------------------------------------------------------- client


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DrandClient:
    """Rounds of one drand chain (quicknet by default), authenticated, from relays.

    ``timeout`` bounds every HTTP request (connect and each read); ``policy`` bounds the
    passes over the relays and the total time of one call. ``clock``/``sleep`` (monotonic
    seconds) and ``now`` (wall clock, aware) can be replaced in tests; they must agree.
    """

    def __init__(
        self,
        relays: Iterable[str] | None = None,
        chain: ChainInfo = QUICKNET,
        *,
        timeout: float = 5.0,
        policy: BeaconRetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utc_now,
        session: requests.Session | None = None,
    ) -> None:
        if not isinstance(chain, ChainInfo):
            raise TypeError("chain must be a drawkit.beacon.ChainInfo")
        self.chain = chain
        self._pool = _RelayPool(
            DEFAULT_RELAYS if relays is None else relays,
            timeout, policy or BeaconRetryPolicy(), clock, sleep, now, session,
        )  # fmt: skip

    @classmethod
    def discover(
        cls, chain_hash: str, relays: Iterable[str] | None = None, **options: Any
    ) -> DrandClient:
        """A client for the chain with ``chain_hash``, its parameters fetched from the relays.

        The answer is authenticated by its hash: the parameters must hash to ``chain_hash``.
        ``options`` are the constructor's keyword arguments."""
        wanted = (chain_hash or "").strip().lower()
        probe = cls(relays, QUICKNET, **options)
        chain = probe._pool.get(
            f"/{wanted}/info",
            lambda payload: ChainInfo.from_json(payload, expected_hash=wanted),
            what=f"chain info for {wanted[:12]}…",
        )
        client = cls(probe.relays, chain, **options)
        client._pool.session = probe._pool.session
        return client

    @property
    def relays(self) -> tuple[str, ...]:
        """The relays, in the order they are tried."""
        return self._pool.relays

    @property
    def last_relay(self) -> str | None:
        """The relay whose answer the last successful call used."""
        return self._pool.last_relay

    def chain_info(self) -> ChainInfo:
        """The chain's ``/info`` from the relays, checked to be this client's chain."""
        return self._pool.get(
            f"/{self.chain.hash}/info",
            lambda payload: ChainInfo.from_json(payload, expected_hash=self.chain.hash),
            what="chain info",
        )

    def round(self, round_number: int) -> Beacon:
        """Round ``round_number``, authenticated. BeaconNotYetPublishedError while its
        publication time has not passed; BeaconUnavailableError when no relay has it."""
        return self._round(round_number, deadline=None)

    def latest(self) -> Beacon:
        """The latest round a relay has, authenticated."""
        return self._pool.get(
            f"/{self.chain.hash}/public/latest",
            lambda payload: verify_answer(self.chain, payload),
            what="latest round",
        )

    def wait_for_round(
        self,
        round_number: int,
        max_wait: float,
        on_progress: Callable[[WaitProgress], None] | None = None,
        *,
        poll_seconds: float = 1.0,
    ) -> Beacon:
        """Wait (at most ``max_wait`` seconds) until the round is published, then fetch it.

        Fails at once with BeaconNotYetPublishedError when the round is due after the wait
        bound; the last fetch may overrun the bound by one request timeout. ``on_progress``
        is called about every ``poll_seconds`` while waiting or retrying."""
        check_round(round_number)
        if not max_wait >= 0 or not poll_seconds > 0:
            raise BeaconFormatError("max_wait must be >= 0 and poll_seconds > 0")
        pool = self._pool
        due = self.chain.round_time(round_number)
        start = pool.clock()
        deadline = start + max_wait
        to_due = (due - pool.now()).total_seconds()
        if to_due > max_wait:
            raise BeaconNotYetPublishedError(
                f"round {round_number} is due at {due.isoformat()}, in {to_due:.0f}s: later "
                f"than the wait bound of {max_wait:g}s"
            )

        def report(state: str, detail: str = "") -> None:
            if on_progress is not None:
                seconds = (due - pool.now()).total_seconds()
                on_progress(WaitProgress(round_number, due, seconds, pool.clock() - start,
                                         state, detail))  # fmt: skip

        while True:
            remaining = deadline - pool.clock()
            to_due = (due - pool.now()).total_seconds()
            if to_due > 0:
                if remaining <= 0:
                    raise BeaconNotYetPublishedError(
                        f"round {round_number} is still not due after waiting {max_wait:g}s"
                    )
                report("waiting")
                pool.sleep(min(to_due, poll_seconds, remaining))
                continue
            report("fetching")
            try:  # the last fetch may overrun the bound by one request timeout
                fetch_by = max(deadline, pool.clock() + pool.timeout)
                return self._round(round_number, deadline=fetch_by)
            except (BeaconNotYetPublishedError, BeaconUnavailableError) as exc:
                remaining = deadline - pool.clock()
                if remaining <= 0:
                    raise type(exc)(
                        f"round {round_number} was not fetched within the wait bound of "
                        f"{max_wait:g}s: {exc}"
                    ) from None
                report("retrying", str(exc))
                pool.sleep(min(poll_seconds, remaining))

    def _round(self, round_number: int, deadline: float | None) -> Beacon:
        check_round(round_number)
        return self._pool.get(
            f"/{self.chain.hash}/public/{round_number}",
            lambda payload: verify_answer(self.chain, payload, expected_round=round_number),
            what=f"round {round_number}",
            due=self.chain.round_time(round_number),
            deadline=deadline,
        )


__all__ = [
    "DEFAULT_RELAYS",
    "ENV_CHAIN_HASH",
    "ENV_RELAYS",
    "BeaconRetryPolicy",
    "DrandClient",
    "WaitProgress",
    "chain_hash_from_env",
    "relays_from_env",
    "validate_relay",
]
