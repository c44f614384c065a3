"""HTTP transport for the PostHog client: one session, one retry policy, call metrics.

Endpoint methods (``client.py``) never retry or time requests themselves: they call
:meth:`Transport.request`, which applies the timeout, the tenacity retry policy
(429 honouring Retry-After, 5xx, dropped connections and timeouts), turns final
failures into :mod:`drawkit.errors` exceptions and records per-endpoint metrics.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from drawkit.errors import (
    PostHogAuthError,
    PostHogBadRequestError,
    PostHogError,
    PostHogNotFoundError,
    PostHogRateLimitedError,
    PostHogUnavailableError,
)
from drawkit.redact import redact

logger = logging.getLogger("drawkit.posthog")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DETAIL_SECONDS = re.compile(r"available in (\d+(?:\.\d+)?) second")


@dataclass(frozen=True)
class RetryPolicy:
    """How PostHog calls are retried: bounded attempts AND bounded total time.

    ``timeout`` is the (connect, read) timeout of every request. Backoff is exponential
    from ``backoff_initial`` up to ``backoff_max``; a server's Retry-After is honoured as
    a minimum (clamped to ``max_retry_after``), and no wait runs past ``max_seconds``.
    """

    max_attempts: int = 5
    max_seconds: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 30.0
    timeout: tuple[float, float] = (3.05, 30.0)


class _Retryable(Exception):
    """A failed attempt that may succeed if repeated."""

    def __init__(self, status: int | None, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class _EndpointStats:
    calls: int = 0
    requests: int = 0
    retries: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)


class Metrics:
    """Per-endpoint counters: calls, HTTP requests, retries, errors and latency."""

    def __init__(self) -> None:
        self._stats: dict[str, _EndpointStats] = {}

    def _get(self, endpoint: str) -> _EndpointStats:
        return self._stats.setdefault(endpoint, _EndpointStats())

    def call(self, endpoint: str) -> None:
        self._get(endpoint).calls += 1

    def request(self, endpoint: str, seconds: float) -> None:
        stats = self._get(endpoint)
        stats.requests += 1
        stats.latencies.append(seconds)

    def retry(self, endpoint: str) -> None:
        self._get(endpoint).retries += 1

    def error(self, endpoint: str) -> None:
        self._get(endpoint).errors += 1

    def total_requests(self) -> int:
        """HTTP requests sent so far, over every endpoint (retries included)."""
        return sum(s.requests for s in self._stats.values())

    def reset(self) -> None:
        """Forget every counter."""
        self._stats.clear()

    def frame(self) -> pd.DataFrame:
        """One row per endpoint: calls, requests, retries, errors, latency (seconds)."""
        rows = []
        for endpoint, s in sorted(self._stats.items()):
            lat = pd.Series(s.latencies, dtype="float64")
            rows.append(
                {
                    "endpoint": endpoint,
                    "calls": s.calls,
                    "requests": s.requests,
                    "retries": s.retries,
                    "errors": s.errors,
                    "latency_total_s": float(lat.sum()),
                    "latency_mean_s": float(lat.mean()) if len(lat) else 0.0,
                    "latency_p95_s": float(lat.quantile(0.95)) if len(lat) else 0.0,
                    "latency_max_s": float(lat.max()) if len(lat) else 0.0,
                }
            )
        columns = [
            "endpoint", "calls", "requests", "retries", "errors",
            "latency_total_s", "latency_mean_s", "latency_p95_s", "latency_max_s",
        ]
        return pd.DataFrame(rows, columns=columns)


def parse_retry_after(response: requests.Response, now: Callable[[], datetime]) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP date) or a DRF detail."""
    header = response.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - now()).total_seconds())
    match = _DETAIL_SECONDS.search(_detail(response))
    return float(match.group(1)) if match else None


def _detail(response: requests.Response) -> str:
    """The error text PostHog sent: JSON ``detail`` (DRF) or ``error``, else the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(body, Mapping):
        detail = body.get("detail") or body.get("error") or ""
        attr = body.get("attr")
        return f"{detail} (field: {attr})" if attr else str(detail)
    return str(body)[:300]


# An error handler gets (status, detail, endpoint) and returns the exception to raise,
# or None to use the generic one. Endpoint methods pass one to phrase 404s precisely.
ErrorHandler = Callable[[int, str], PostHogError | None]


class Transport:
    """One requests.Session plus the retry policy, error mapping and metrics."""

    def __init__(
        self,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        default_error: Callable[[int, str, str, str], PostHogError] | None = None,
    ) -> None:
        self.session = session or requests.Session()
        self.policy = policy or RetryPolicy()
        self.metrics = Metrics()
        self._sleep = sleep
        self._clock = clock
        self._default_error = default_error or _generic_error

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        on_error: ErrorHandler | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request with timeout and retries; return the 2xx response or raise.

        ``endpoint`` is the name used in metrics and logs (a path template such as
        ``GET /cohorts/{id}/``): it never holds a phone number or a key.
        """
        self.metrics.call(endpoint)
        kwargs.setdefault("timeout", self.policy.timeout)
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts)
            | stop_after_delay(self.policy.max_seconds),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            before_sleep=lambda state: self._before_sleep(endpoint, state),
            reraise=True,
        )
        start = self._clock()
        try:
            return retrying(self._attempt, method, url, endpoint, on_error, kwargs)
        except _Retryable as exc:
            self.metrics.error(endpoint)
            attempts = retrying.statistics.get("attempt_number", 1)
            host = urlsplit(url).netloc
            raise _exhausted(exc, endpoint, host, attempts, self._clock() - start) from None
        except PostHogError:
            self.metrics.error(endpoint)
            raise

    def _attempt(
        self,
        method: str,
        url: str,
        endpoint: str,
        on_error: ErrorHandler | None,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        started = self._clock()
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout as exc:
            self.metrics.request(endpoint, self._clock() - started)
            raise _Retryable(None, f"timed out ({type(exc).__name__})") from None
        except requests.ConnectionError as exc:
            self.metrics.request(endpoint, self._clock() - started)
            raise _Retryable(None, f"connection failed ({type(exc).__name__})") from None
        elapsed = self._clock() - started
        self.metrics.request(endpoint, elapsed)
        status = response.status_code
        logger.debug("%s status=%s %.3fs", endpoint, status, elapsed)
        if status < 400:
            return response
        detail = redact(_detail(response))
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(response, lambda: datetime.now(UTC))
            raise _Retryable(status, f"HTTP {status} {detail}".strip(), retry_after)
        error = on_error(status, detail) if on_error else None
        if error is None:
            error = self._default_error(status, detail, endpoint, url)
        error.endpoint, error.status = endpoint, status
        # The caller gets the error; -v shows it here too (a 404 can be an expected answer).
        logger.debug("%s status=%s failed: %s", endpoint, status, redact(str(error)))
        raise error

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff; Retry-After as a floor; never past the total-time bound."""
        p = self.policy
        wait = min(p.backoff_max, p.backoff_initial * 2 ** (state.attempt_number - 1))
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, p.max_retry_after))
        elapsed = state.seconds_since_start or 0.0
        return max(0.0, min(wait, p.max_seconds - elapsed))

    def _before_sleep(self, endpoint: str, state: RetryCallState) -> None:
        self.metrics.retry(endpoint)
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "%s attempt=%d failed (%s); retrying in %.2fs",
            endpoint,
            state.attempt_number,
            redact(str(exc)),
            wait,
        )


def _exhausted(
    exc: _Retryable, endpoint: str, host: str, attempts: int, seconds: float
) -> PostHogError:
    what = f"{endpoint} to {host} failed after {attempts} attempt(s) in {seconds:.1f}s"
    what += f": {exc.reason}"
    if exc.status == 429:
        err: PostHogError = PostHogRateLimitedError(
            f"PostHog rate limit (429): {what}. Wait and run again, or lower the request rate",
            endpoint=endpoint, status=429, attempts=attempts,
        )
    else:
        err = PostHogUnavailableError(
            f"PostHog unavailable: {what}. Check POSTHOG_BASE_URL and PostHog's status, "
            "then run again",
            endpoint=endpoint, status=exc.status, attempts=attempts,
        )
    logger.error("%s gave up: %s", endpoint, redact(str(err)))
    return err


def _generic_error(status: int, detail: str, endpoint: str, url: str) -> PostHogError:
    if status in (401, 403):
        return PostHogAuthError(f"{endpoint} was refused ({status}): {detail}")
    if status == 404:
        return PostHogNotFoundError(f"{endpoint} not found (404): {detail}")
    if status == 400:
        return PostHogBadRequestError(f"PostHog rejected {endpoint} (400): {detail}")
    return PostHogError(f"{endpoint} failed with HTTP {status}: {detail}")
