"""PostHog HTTP client: auth, timeouts, retries, pagination, errors, call metrics, HogQL.

>>> client = PostHogClient.from_env()
>>> client.query("SELECT count() FROM events").results
"""

from drawkit.posthog.client import PostHogClient, QueryResult, build_event, capture_url_for
from drawkit.posthog.scopes import REQUIRED_SCOPES
from drawkit.posthog.transport import RetryPolicy

__all__ = [
    "REQUIRED_SCOPES",
    "PostHogClient",
    "QueryResult",
    "RetryPolicy",
    "build_event",
    "capture_url_for",
]
