"""PostHogClient: the private API (cohorts, persons, HogQL) and event capture.

Each method reads like the API call it makes; retries, timeouts, error mapping and
metrics live in :mod:`drawkit.posthog.transport`.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import requests

from drawkit.config import (
    ENV_API_KEY,
    ENV_PROJECT_API_KEY,
    ENV_PROJECT_ID,
    Settings,
    validate_base_url,
)
from drawkit.errors import (
    InputError,
    PostHogAuthError,
    PostHogBadRequestError,
    PostHogError,
    PostHogNotFoundError,
    PostHogUnavailableError,
    SettingsError,
)
from drawkit.posthog.scopes import scope_for
from drawkit.posthog.transport import ErrorHandler, RetryPolicy, Transport
from drawkit.redact import register_secrets

# Private API hosts whose capture (ingestion) host differs, as posthog-python maps them.
_INGESTION_HOSTS = {
    "app.posthog.com": "us.i.posthog.com",
    "us.posthog.com": "us.i.posthog.com",
    "eu.posthog.com": "eu.i.posthog.com",
}
try:
    __version__ = version("drawkit")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0"
CAPTURE_CHUNK = 1000  # events per /batch/ request
CAPTURE_MAX_BYTES = 4 * 1024 * 1024  # stay well under PostHog's 20 MB batch cap
STATIC_INSERT_CHUNK = 1000  # PostHog's DEFAULT_COHORT_INSERT_BATCH_SIZE
# refresh modes of POST /query/: "blocking" may serve a cached answer for hours;
# "force_blocking" always recomputes (use it for every answer that is written or certified).
REFRESH_MODES = ("blocking", "force_blocking", "async", "force_async", "lazy_async")


@dataclass(frozen=True)
class QueryResult:
    """A HogQL result: column names, rows (lists in column order) and the hasMore flag."""

    columns: list[str]
    results: list[list[Any]]
    types: list[Any] = field(default_factory=list)
    has_more: bool = False
    cached: bool = False

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the query's column names."""
        return pd.DataFrame(self.results, columns=self.columns)

    def __len__(self) -> int:
        return len(self.results)


def capture_url_for(base_url: str) -> str:
    """The ingestion base URL for a private API base URL (same host unless PostHog Cloud)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if host in _INGESTION_HOSTS:
        return urlunsplit((parts.scheme, _INGESTION_HOSTS[host], "", "", ""))
    return base_url.rstrip("/")


class PostHogClient:
    """A client for one PostHog project, over one requests.Session.

    ``api_key`` is the personal API key (private API), ``project_api_key`` the project
    key used for capture. Keys are sent in headers/bodies only and never logged.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        project_id: str | int,
        project_api_key: str | None = None,
        *,
        capture_url: str | None = None,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = validate_base_url(base_url)
        self.capture_url = validate_base_url(capture_url or capture_url_for(self.base_url))
        self.project_id = str(project_id)
        self._project_api_key = project_api_key
        register_secrets([api_key, project_api_key])
        self._transport = Transport(session, policy, origins=[self.base_url, self.capture_url],
                                    sleep=sleep, clock=clock)
        self._query_root = "environments"  # PostHog's query path; /projects/ is the alias
        self._sleep, self._clock = sleep, clock
        self.session.headers.update(
            {"Authorization": f"Bearer {api_key}", "User-Agent": f"drawkit/{__version__}"}
        )

    def __repr__(self) -> str:
        return f"PostHogClient(base_url={self.base_url!r}, project_id={self.project_id!r})"

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PostHogClient:
        """Build a client from :class:`drawkit.config.Settings` (checks what is missing)."""
        if not settings.api_key:
            raise SettingsError(f"{ENV_API_KEY} is not set: export a personal API key (phx_...)")
        if not settings.project_id:
            raise SettingsError(f"{ENV_PROJECT_ID} is not set: export the numeric project id")
        return cls(
            settings.base_url,
            settings.api_key,
            settings.project_id,
            settings.project_api_key,
            **kwargs,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> PostHogClient:
        """Build a client from the POSTHOG_* environment variables."""
        return cls.from_settings(Settings.from_env(env), **kwargs)

    @property
    def session(self) -> requests.Session:
        """The one requests.Session every call goes through."""
        return self._transport.session

    @property
    def policy(self) -> RetryPolicy:
        """The retry and timeout policy."""
        return self._transport.policy

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def __enter__(self) -> PostHogClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ metrics

    def metrics_frame(self) -> pd.DataFrame:
        """Per-endpoint calls, HTTP requests, retries, errors and latency."""
        return self._transport.metrics.frame()

    def request_count(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self._transport.metrics.total_requests()

    def reset_metrics(self) -> None:
        """Start counting afresh (the hourly query budget keeps its history)."""
        self._transport.metrics.reset()
        self._transport.budget.charged = 0

    def queries_charged(self) -> int:
        """HogQL queries that reached PostHog (and count against its throttle) so far."""
        return self._transport.budget.charged

    def queries_left_this_hour(self) -> int | None:
        """HogQL queries still inside the hourly budget (None: no budget set)."""
        budget = self._transport.budget
        return None if budget.per_hour is None else max(0, budget.per_hour - budget.used())

    # ------------------------------------------------------------------ plumbing

    def _project_path(self, path: str = "") -> str:
        return f"/api/projects/{self.project_id}/{path}"

    def _private(
        self,
        method: str,
        path: str,
        template: str,
        *,
        on_error: ErrorHandler | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """A private API request; ``template`` names the endpoint in metrics and logs."""
        endpoint = f"{method} {template}"
        return self._transport.request(
            method,
            self.base_url + path if path.startswith("/") else path,
            endpoint=endpoint,
            on_error=on_error or self._errors(method, endpoint),
            **kwargs,
        )

    def _errors(self, method: str, endpoint: str, not_found: str | None = None) -> ErrorHandler:
        """Error phrasing for private calls: name the variable or object to fix."""

        def handle(status: int, detail: str) -> PostHogError | None:
            if status == 401:
                return PostHogAuthError(
                    f"{ENV_API_KEY} was rejected (401) by {self.base_url}: check it is a "
                    "current personal API key (phx_...) copied in full"
                )
            if status == 403:
                scope = scope_for(method, endpoint)
                need = f"the scope '{scope}'" if scope else "the needed scope"
                return PostHogAuthError(
                    f"{ENV_API_KEY} is not allowed to call {endpoint} (403): give the key "
                    f"{need} and access to project {self.project_id} "
                    "(PostHog: Settings > Personal API keys)"
                )
            if status == 404:
                if not_found is None or "project" in detail.lower():
                    return self._project_not_found()
                return PostHogNotFoundError(f"{not_found} not found in project {self.project_id}")
            if status == 400:
                return PostHogBadRequestError(f"PostHog rejected {endpoint} (400): {detail}")
            return None

        return handle

    def _project_not_found(self) -> PostHogNotFoundError:
        return PostHogNotFoundError(
            f"project {self.project_id} not found at {self.base_url}: check {ENV_PROJECT_ID}"
        )

    def _json(self, response: requests.Response, endpoint: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise PostHogUnavailableError(
                f"{endpoint} answered HTTP {response.status_code} with a body that is not "
                f"JSON: is {self.base_url} a PostHog instance?",
                endpoint=endpoint, status=response.status_code,
            ) from exc

    def _pages(
        self,
        path: str,
        template: str,
        params: Mapping[str, Any] | None = None,
        not_found: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the results of a DRF-paginated list, following ``next`` to the end."""
        url: str | None = self.base_url + path
        first = True
        endpoint = f"GET {template}"
        while url:
            self._transport.check_url(url, endpoint, "pagination link")
            response = self._transport.request(
                "GET",
                url,
                endpoint=endpoint,
                on_error=self._errors("GET", endpoint, not_found),
                params=params if first else None,
            )
            body = self._json(response, endpoint)
            yield from body.get("results") or []
            url, first = body.get("next"), False

    # ------------------------------------------------------------------ project

    def get_project(self) -> dict[str, Any]:
        """The project object (checks the key and POSTHOG_PROJECT_ID)."""
        endpoint = "GET /api/projects/{id}/"
        response = self._private("GET", self._project_path(), "/api/projects/{id}/")
        return self._json(response, endpoint)

    # ------------------------------------------------------------------ cohorts

    def list_cohorts(self, page_size: int = 100) -> list[dict[str, Any]]:
        """Every cohort of the project (all pages)."""
        return list(self._pages(self._project_path("cohorts/"), "/cohorts/", {"limit": page_size}))

    def get_cohort(self, cohort_id: int) -> dict[str, Any]:
        """One cohort by id."""
        endpoint = "GET /cohorts/{id}/"
        response = self._private(
            "GET",
            self._project_path(f"cohorts/{int(cohort_id)}/"),
            "/cohorts/{id}/",
            on_error=self._errors("GET", endpoint, f"cohort {cohort_id}"),
        )
        return self._json(response, endpoint)

    def create_cohort(
        self,
        name: str,
        filters: Mapping[str, Any] | None = None,
        *,
        is_static: bool = False,
        description: str = "",
        query: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a cohort: dynamic (``filters``) or static (``is_static``, ``query``)."""
        body: dict[str, Any] = {"name": name, "description": description, "is_static": is_static}
        if filters is not None:
            body["filters"] = filters
        if query is not None:
            body["query"] = query
        response = self._private("POST", self._project_path("cohorts/"), "/cohorts/", json=body)
        return self._json(response, "POST /cohorts/")

    def update_cohort(self, cohort_id: int, **fields: Any) -> dict[str, Any]:
        """PATCH a cohort's fields (e.g. ``deleted=True`` for PostHog's soft delete)."""
        endpoint = "PATCH /cohorts/{id}/"
        response = self._private(
            "PATCH",
            self._project_path(f"cohorts/{int(cohort_id)}/"),
            "/cohorts/{id}/",
            on_error=self._errors("PATCH", endpoint, f"cohort {cohort_id}"),
            json=fields,
        )
        return self._json(response, endpoint)

    def add_persons_to_static_cohort(self, cohort_id: int, person_uuids: Iterable[str]) -> int:
        """Add persons (by person UUID) to a static cohort, at most 1,000 per request
        (PostHog's insert batch); returns the number of requests sent."""
        endpoint = "PATCH /cohorts/{id}/add_persons_to_static_cohort/"
        ids = list(person_uuids)
        chunks = [ids[i : i + STATIC_INSERT_CHUNK] for i in range(0, len(ids), STATIC_INSERT_CHUNK)]
        for chunk in chunks:
            self._private(
                "PATCH",
                self._project_path(f"cohorts/{int(cohort_id)}/add_persons_to_static_cohort/"),
                "/cohorts/{id}/add_persons_to_static_cohort/",
                on_error=self._errors("PATCH", endpoint, f"cohort {cohort_id}"),
                json={"person_ids": chunk},
            )
        return len(chunks)

    def iter_cohort_persons(
        self, cohort_id: int, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Yield every person of a cohort, page by page, following ``next`` to the end."""
        return self._pages(
            self._project_path(f"cohorts/{int(cohort_id)}/persons/"),
            "/cohorts/{id}/persons/",
            {"limit": page_size, "format": "json"},
            not_found=f"cohort {cohort_id}",
        )

    def get_cohort_persons(self, cohort_id: int, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every person of a cohort as a list (see :meth:`iter_cohort_persons`)."""
        return list(self.iter_cohort_persons(cohort_id, page_size))

    # ------------------------------------------------------------------ persons

    def iter_persons(
        self,
        *,
        distinct_id: str | None = None,
        search: str | None = None,
        properties: list[Mapping[str, Any]] | None = None,
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Yield persons matching a distinct id, a search text or property filters."""
        params: dict[str, Any] = {"limit": page_size}
        if distinct_id is not None:
            params["distinct_id"] = distinct_id
        if search is not None:
            params["search"] = search
        if properties is not None:
            params["properties"] = json.dumps(list(properties))
        return self._pages(self._project_path("persons/"), "/persons/", params)

    def get_persons(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Persons as a list; same filters as :meth:`iter_persons`."""
        return list(self.iter_persons(**kwargs))

    # ------------------------------------------------------------------ query

    def query(
        self,
        hogql: str,
        values: Mapping[str, Any] | None = None,
        *,
        refresh: str = "blocking",
    ) -> QueryResult:
        """Run a HogQL query (POST /query/, kind HogQLQuery); ``values`` fill {placeholders}.

        ``refresh="blocking"`` (PostHog's default) may return a cached answer that is
        hours old; pass ``"force_blocking"`` when the answer decides what is written or
        certified. Every call is one query charged against PostHog's HogQL throttle
        (120/hour by default) and drawkit's own budget (``RetryPolicy.hogql_per_hour``).
        """
        if refresh not in REFRESH_MODES:
            raise InputError(f"refresh must be one of {', '.join(REFRESH_MODES)}")
        node: dict[str, Any] = {"kind": "HogQLQuery", "query": hogql}
        if values:
            node["values"] = dict(values)
        body = self._query_post({"query": node, "refresh": refresh})
        if "results" not in body and body.get("query_status"):
            body = self._await_query(body["query_status"])
        return QueryResult(
            columns=list(body.get("columns") or []),
            results=list(body.get("results") or []),
            types=list(body.get("types") or []),
            has_more=bool(body.get("hasMore")),
            cached=bool(body.get("is_cached")),
        )

    def _query_path(self, path: str = "") -> str:
        return f"/api/{self._query_root}/{self.project_id}/query/{path}"

    def _query_post(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST the query to /api/environments/ (PostHog's path), falling back once to the
        /api/projects/ alias for an older self-hosted instance that has no environments."""
        endpoint = "POST /query/"
        try:
            response = self._private("POST", self._query_path(), "/query/",
                                     on_error=self._query_errors(endpoint), json=payload,
                                     charge=True)
        except PostHogNotFoundError:
            if self._query_root != "environments":
                raise
            self._query_root = "projects"
            response = self._private("POST", self._query_path(), "/query/",
                                     on_error=self._query_errors(endpoint), json=payload,
                                     charge=True)
        return self._json(response, endpoint)

    def query_frame(self, hogql: str, values: Mapping[str, Any] | None = None, *,
                    refresh: str = "blocking") -> pd.DataFrame:
        """Run a HogQL query and return the rows as a DataFrame."""
        return self.query(hogql, values, refresh=refresh).to_frame()

    def _query_errors(self, endpoint: str) -> ErrorHandler:
        base = self._errors("POST", endpoint)

        def handle(status: int, detail: str) -> PostHogError | None:
            if status == 400:
                return PostHogBadRequestError(f"PostHog rejected the HogQL query (400): {detail}")
            return base(status, detail)

        return handle

    def _await_query(self, status: Mapping[str, Any]) -> dict[str, Any]:
        """Poll an asynchronous query until complete, within the policy's total time."""
        query_id = status.get("id")
        deadline = self._clock() + self.policy.max_seconds
        endpoint = "GET /query/{id}/"
        while not status.get("complete"):
            if self._clock() > deadline or not query_id:
                raise PostHogUnavailableError(
                    f"HogQL query {query_id} did not complete within "
                    f"{self.policy.max_seconds:.0f}s: try again later",
                    endpoint=endpoint,
                )
            self._sleep(0.5)
            response = self._private("GET", self._query_path(f"{query_id}/"), "/query/{id}/")
            status = self._json(response, endpoint).get("query_status") or {}
        if status.get("error"):
            raise PostHogBadRequestError(
                f"HogQL query failed: {status.get('error_message') or status.get('error')}",
                endpoint=endpoint,
            )
        return status.get("results") if isinstance(status.get("results"), dict) else status

    # ------------------------------------------------------------------ capture

    def capture_event(
        self,
        event: str,
        distinct_id: str,
        properties: Mapping[str, Any] | None = None,
        *,
        timestamp: datetime | str | None = None,
        uuid: str | None = None,
        set_properties: Mapping[str, Any] | None = None,
    ) -> str:
        """Capture one event with the project API key; returns the event's uuid."""
        payload = build_event(event, distinct_id, properties, timestamp, uuid, set_properties)
        self._send_batch([payload])
        return payload["uuid"]

    def capture_batch(
        self,
        events: Iterable[Mapping[str, Any]],
        *,
        chunk_size: int = CAPTURE_CHUNK,
        compress: bool = True,
    ) -> int:
        """Capture many events (dicts from :func:`build_event`) in gzipped /batch/ chunks.

        Returns the number of events sent. Every event must carry its ``uuid`` so a
        retried chunk is the identical chunk.
        """
        sent = 0
        chunk: list[Mapping[str, Any]] = []
        for event in events:
            chunk.append(event)
            if len(chunk) >= chunk_size:
                sent += self._send_batch(chunk, compress)
                chunk = []
        if chunk:
            sent += self._send_batch(chunk, compress)
        return sent

    def _send_batch(self, events: list[Mapping[str, Any]], compress: bool = True) -> int:
        if not self._project_api_key:
            raise SettingsError(
                f"{ENV_PROJECT_API_KEY} is not set: export the project API key (phc_...) "
                "used to capture events"
            )
        body = json.dumps(
            {
                "api_key": self._project_api_key,
                "batch": list(events),
                "historical_migration": False,
                # No sent_at: PostHog would shift every timestamp by (receive time - sent_at),
                # and a retried batch would carry a stale one. Events say $ignore_sent_at too.
            },
            default=str,
        ).encode("utf-8")
        if len(body) > CAPTURE_MAX_BYTES and len(events) > 1:
            half = len(events) // 2
            return self._send_batch(events[:half], compress) + self._send_batch(
                events[half:], compress
            )
        headers = {"Content-Type": "application/json"}
        if compress:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        self._transport.request(
            "POST",
            self.capture_url + "/batch/",
            endpoint="POST /batch/",
            on_error=self._capture_errors,
            data=body,
            headers=headers,
        )
        return len(events)

    def _capture_errors(self, status: int, detail: str) -> PostHogError | None:
        if status in (401, 403):
            return PostHogAuthError(
                f"{ENV_PROJECT_API_KEY} was rejected ({status}) by {self.capture_url}: check it "
                "is the project API key (phc_...) of project " + self.project_id
            )
        if status == 400:
            return PostHogBadRequestError(f"PostHog capture rejected the batch (400): {detail}")
        return None


def build_event(
    event: str,
    distinct_id: str,
    properties: Mapping[str, Any] | None = None,
    timestamp: datetime | str | None = None,
    uuid: str | None = None,
    set_properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An event dict for capture: uuid (random if not given), UTC ISO timestamp, $set.

    An event with a ``timestamp`` (a source system's time) carries ``$ignore_sent_at``
    so PostHog's clock-skew correction never moves it (a recharge near the cutoff would
    otherwise cross into another draw).
    """
    if not event or not str(distinct_id):
        raise InputError("an event needs a name and a distinct_id")
    props = dict(properties or {})
    props.setdefault("$lib", "drawkit")
    props.setdefault("$lib_version", __version__)
    if timestamp is not None:
        props["$ignore_sent_at"] = True
    if set_properties:
        props["$set"] = dict(set_properties)
    try:
        stamp = pd.Timestamp(datetime.now(UTC) if timestamp is None else timestamp)
        event_id = str(uuidlib.UUID(uuid)) if uuid else str(uuidlib.uuid4())
    except ValueError as exc:
        raise InputError(f"event {event!r}: bad timestamp or uuid: {exc}") from exc
    if stamp is pd.NaT:
        raise InputError(f"event {event!r}: the timestamp is empty")
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return {
        "event": event,
        "distinct_id": str(distinct_id),
        "properties": props,
        "timestamp": stamp.isoformat(),
        "uuid": event_id,
    }
