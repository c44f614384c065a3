"""The personal API key scopes drawkit needs, and which calls need which scope."""

from __future__ import annotations

# The minimal scope set for POSTHOG_API_KEY, each with why drawkit needs it.
# Event capture uses POSTHOG_PROJECT_API_KEY (phc_...), which has no scopes.
REQUIRED_SCOPES: dict[str, str] = {
    "project:read": "check that POSTHOG_PROJECT_ID exists and the key can reach it (doctor)",
    "query:read": "HogQL: aggregate points per subscriber, read recharges and published results",
    "cohort:read": "find the day's cohort, poll its calculation and read its members",
    "cohort:write": "create the daily cohort and static test cohorts",
    "person:read": "read cohort members and persons by distinct id",
}


def scope_for(method: str, endpoint: str) -> str | None:
    """The scope a request needs, from its method and path template (None if unknown)."""
    path = endpoint.split(" ", 1)[-1]
    if "/query/" in path:
        return "query:read"
    if "/cohorts/" in path:
        if "/persons/" in path and method == "GET":
            return "person:read"
        return "cohort:read" if method == "GET" else "cohort:write"
    if "/persons/" in path:
        return "person:read" if method == "GET" else "person:write"
    if path.startswith("/api/projects/"):
        return "project:read"
    return None
