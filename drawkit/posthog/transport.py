"""HTTP transport for the PostHog client: one session, one retry policy, call metrics.

Endpoint methods (``client.py``) never retry or time requests themselves: they call
:meth:`Transport.request`, which pins every request to the configured origins (HTTPS,
or HTTP on loopback only; pagination links and redirects included), applies the
timeout, the tenacity retry policy (429 honouring Retry-After within a bounded total
wait, 5xx, dropped connections and timeouts) and the HogQL query budget, turns final
failures into :mod:`drawkit.errors` exceptions and records per-endpoint metrics.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import pandas as pd
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
)

from drawkit.config import Origin, is_loopback_host, url_origin
from drawkit.errors import (
    PostHogAuthError,
    PostHogBadRequestError,
    PostHogError,
    PostHogNotFoundError,
    PostHogRateLimitedError,
    PostHogUnavailableError,
    SettingsError,
)
from drawkit.redact import redact

logger = logging.getLogger("drawkit.posthog")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_DETAIL_SECONDS = re.compile(r"available in (\d+(?:\.\d+)?) second")


SERVER_QUERY_SECONDS = 60.0  # PostHog's ClickHouse max_execution_time
HOGQL_PER_HOUR = 120  # PostHog's HogQLQueryThrottle default (per team)
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    """How PostHog calls are retried: bounded attempts AND bounded total time.

    ``timeout`` is the (connect, read) timeout of every request; the read timeout is
    above PostHog's 60 s query limit, so a slow query is answered (or refused with 504)
    by the server instead of being abandoned and charged again. Failures other than 429
    are retried with exponential backoff (``backoff_initial`` up to ``backoff_max``) for
    at most ``max_attempts`` attempts and ``max_seconds`` in all. A 429 is waited out:
    its Retry-After (clamped to ``max_retry_after``) is honoured, for at most
    ``max_rate_limited_seconds`` of waiting and ``max_rate_limited_attempts`` answers.
    ``hogql_per_hour`` is the client's own HogQL budget (None: no budget), counted
    before PostHog's throttle is hit.
    """

    max_attempts: int = 5
    max_seconds: float = 180.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 300.0
    max_rate_limited_seconds: float = 900.0
    max_rate_limited_attempts: int = 100
    timeout: tuple[float, float] = (3.05, SERVER_QUERY_SECONDS + 15.0)
    hogql_per_hour: int | None = HOGQL_PER_HOUR


class QueryBudget:
    """The HogQL queries charged in the last hour, against ``per_hour``.

    PostHog charges every HogQL query that reaches its query runner (a retried query is
    charged again; a 429 is not). :meth:`acquire` waits for a free slot when the hour is
    used up, for at most ``max_wait`` seconds, and otherwise raises
    PostHogRateLimitedError naming the budget, before PostHog is asked at all.
    """

    def __init__(self, per_hour: int | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, window: float = 3600.0) -> None:
        self.per_hour = per_hour
        self.window = window
        self.charged = 0
        self._times: deque[float] = deque()
        self._clock = clock
        self._sleep = sleep

    def used(self) -> int:
        """Queries charged inside the current window."""
        self._expire()
        return len(self._times)

    def _expire(self) -> None:
        now = self._clock()
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()

    def acquire(self, max_wait: float) -> float:
        """Wait (bounded) until a query may be sent; return the seconds waited."""
        if self.per_hour is None:
            return 0.0
        self._expire()
        if len(self._times) < self.per_hour:
            return 0.0
        wait = self._times[0] + self.window - self._clock()
        if wait > max_wait:
            raise PostHogRateLimitedError(
                f"drawkit's HogQL budget of {self.per_hour} queries per hour is used up "
                f"(PostHog's own throttle would answer 429): the next slot frees in "
                f"{wait:.0f}s, more than the {max_wait:.0f}s this call may wait. Run again "
                "later, or raise RetryPolicy.hogql_per_hour if the project has the "
                "API-queries add-on (2,400/hour)",
                endpoint="POST /query/", status=429,
            )
        logger.warning("HogQL budget of %d/hour reached: waiting %.1fs", self.per_hour, wait)
        self._sleep(wait)
        self._expire()
        return wait

    def charge(self) -> None:
        """Record one query that reached PostHog."""
        self.charged += 1
        self._times.append(self._clock())


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
    throttled: int = 0
    waited: float = 0.0
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

    def throttled(self, endpoint: str) -> None:
        self._get(endpoint).throttled += 1

    def waited(self, endpoint: str, seconds: float) -> None:
        self._get(endpoint).waited += seconds

    def total_requests(self) -> int:
        """HTTP requests sent so far, over every endpoint (retries included)."""
        return sum(s.requests for s in self._stats.values())

    def reset(self) -> None:
        """Forget every counter."""
        self._stats.clear()

    def frame(self) -> pd.DataFrame:
        """One row per endpoint: calls, HTTP requests, retries, errors, 429 answers,
        seconds waited for Retry-After or the query budget, latency (seconds)."""
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
                    "throttled": s.throttled,
                    "waited_s": s.waited,
                    "latency_total_s": float(lat.sum()),
                    "latency_mean_s": float(lat.mean()) if len(lat) else 0.0,
                    "latency_p95_s": float(lat.quantile(0.95)) if len(lat) else 0.0,
                    "latency_max_s": float(lat.max()) if len(lat) else 0.0,
                }
            )
        columns = [
            "endpoint", "calls", "requests", "retries", "errors", "throttled", "waited_s",
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
    """One requests.Session plus origin pinning, the retry policy, error mapping, the
    HogQL budget and metrics."""

    def __init__(
        self,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        *,
        origins: Iterable[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        default_error: Callable[[int, str, str, str], PostHogError] | None = None,
    ) -> None:
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxy or .netrc credentials from the environment
        self.policy = policy or RetryPolicy()
        self.metrics = Metrics()
        self.budget = QueryBudget(self.policy.hogql_per_hour, clock=clock, sleep=sleep)
        self.origins: set[Origin] = {url_origin(o) for o in origins}
        self._sleep = sleep
        self._clock = clock
        self._default_error = default_error or _generic_error

    def check_url(self, url: str, endpoint: str, what: str = "request") -> Origin:
        """Refuse a URL that would leave the pinned origins or use plain HTTP off loopback."""
        try:
            origin = url_origin(url, what)
        except SettingsError as exc:
            raise PostHogError(f"{endpoint}: refused a {what} URL: {exc}",
                               endpoint=endpoint) from None
        if origin.scheme != "https" and not is_loopback_host(origin.host):
            raise PostHogError(
                f"{endpoint}: refused a {what} to plain http://{origin.host}: drawkit sends "
                "keys and numbers over HTTPS only", endpoint=endpoint,
            )
        if self.origins and origin not in self.origins:
            pinned = ", ".join(sorted(map(str, self.origins)))
            raise PostHogError(
                f"{endpoint}: refused a {what} to {origin}, which is not the PostHog origin "
                f"drawkit was configured with ({pinned}): nothing was sent there. Check "
                "POSTHOG_BASE_URL (use the final https URL of the instance)",
                endpoint=endpoint,
            )
        return origin

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        on_error: ErrorHandler | None = None,
        charge: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """Send a request with timeout and retries; return the 2xx response or raise.

        ``endpoint`` is the name used in metrics and logs (a path template such as
        ``GET /cohorts/{id}/``): it never holds a phone number or a key. ``charge``
        marks a HogQL query: it is counted against the hourly query budget.
        """
        self.metrics.call(endpoint)
        self.check_url(url, endpoint)
        kwargs.setdefault("timeout", self.policy.timeout)
        kwargs["allow_redirects"] = False
        state = {"limited": 0.0}
        retrying = Retrying(
            stop=lambda rs: self._stop(rs, state),
            wait=lambda rs: self._wait(rs, state),
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            before_sleep=lambda rs: self._before_sleep(endpoint, rs, state),
            reraise=True,
        )
        start = self._clock()
        try:
            return retrying(self._attempt, method, url, endpoint, on_error, charge, kwargs)
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
        charge: bool,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        if charge:
            waited = self.budget.acquire(self.policy.max_rate_limited_seconds)
            if waited:
                self.metrics.waited(endpoint, waited)
        started = self._clock()
        try:
            response = self._send(method, url, endpoint, kwargs)
        except requests.Timeout as exc:
            self.metrics.request(endpoint, self._clock() - started)
            if charge:
                self.budget.charge()  # the server may still be running it, and counted it
            raise _Retryable(None, f"timed out ({type(exc).__name__})") from None
        except requests.ConnectionError as exc:
            self.metrics.request(endpoint, self._clock() - started)
            raise _Retryable(None, f"connection failed ({type(exc).__name__})") from None
        elapsed = self._clock() - started
        self.metrics.request(endpoint, elapsed)
        status = response.status_code
        if charge and status != 429:
            self.budget.charge()
        logger.debug("%s status=%s %.3fs", endpoint, status, elapsed)
        if status < 400:
            return response
        detail = redact(_detail(response))
        if status in RETRY_STATUSES:
            if status == 429:
                self.metrics.throttled(endpoint)
            retry_after = parse_retry_after(response, lambda: datetime.now(UTC))
            raise _Retryable(status, f"HTTP {status} {detail}".strip(), retry_after)
        error = on_error(status, detail) if on_error else None
        if error is None:
            error = self._default_error(status, detail, endpoint, url)
        error.endpoint, error.status = endpoint, status
        # The caller gets the error; -v shows it here too (a 404 can be an expected answer).
        logger.debug("%s status=%s failed: %s", endpoint, status, redact(str(error)))
        raise error

    def _send(self, method: str, url: str, endpoint: str,
              kwargs: dict[str, Any]) -> requests.Response:
        """One HTTP exchange; a redirect is followed only for GET within the pinned origin."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self.session.request(method, url, **kwargs)
            if not response.is_redirect:
                return response
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            self.check_url(target, endpoint, "redirect")
            if method.upper() not in ("GET", "HEAD"):
                raise PostHogError(
                    f"{endpoint} was answered with a redirect ({response.status_code}); "
                    "drawkit never re-sends a body to another URL. Set POSTHOG_BASE_URL to "
                    "the final https URL of the instance",
                    endpoint=endpoint, status=response.status_code,
                )
            url = target
            kwargs = {**kwargs, "params": None}  # the Location carries its own query
        raise PostHogError(f"{endpoint}: more than {MAX_REDIRECTS} redirects",
                           endpoint=endpoint)

    def _stop(self, state: RetryCallState, limits: dict[str, float]) -> bool:
        """Stop on too many non-429 failures, the total time bound, or the 429 wait bound."""
        exc = state.outcome.exception() if state.outcome else None
        p = self.policy
        if isinstance(exc, _Retryable) and exc.status == 429:
            return (limits["limited"] >= p.max_rate_limited_seconds
                    or limits.get("limited_attempts", 0) >= p.max_rate_limited_attempts)
        failures = state.attempt_number - limits.get("limited_attempts", 0)
        elapsed = (state.seconds_since_start or 0.0) - limits["limited"]
        return failures >= p.max_attempts or elapsed >= p.max_seconds

    def _wait(self, state: RetryCallState, limits: dict[str, float]) -> float:
        """Exponential backoff; a 429's Retry-After waited out within the 429 bound."""
        p = self.policy
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.status == 429:
            floor = min(p.backoff_max, p.backoff_initial * 2 ** min(state.attempt_number, 6))
            wait = max(floor, min(exc.retry_after or 0.0, p.max_retry_after))
            wait = max(0.0, min(wait, p.max_rate_limited_seconds - limits["limited"]))
            limits["limited"] += wait
            limits["limited_attempts"] = limits.get("limited_attempts", 0) + 1
            return wait
        wait = min(p.backoff_max, p.backoff_initial * 2 ** (state.attempt_number - 1))
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            wait = max(wait, min(exc.retry_after, p.max_retry_after))
        elapsed = (state.seconds_since_start or 0.0) - limits["limited"]
        return max(0.0, min(wait, p.max_seconds - elapsed))

    def _before_sleep(self, endpoint: str, state: RetryCallState,
                      limits: dict[str, float]) -> None:
        self.metrics.retry(endpoint)
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        if isinstance(exc, _Retryable) and exc.status == 429:
            self.metrics.waited(endpoint, wait)
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
            f"PostHog rate limit (429): {what}. PostHog allows 120 HogQL queries per hour "
            "per team by default (2,400 with the API-queries add-on) and a few at once: "
            "wait and run again, or lower the request rate",
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
