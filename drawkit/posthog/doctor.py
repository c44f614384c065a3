"""``drawkit doctor``: check settings, key, project and every scope drawkit needs.

:func:`run_checks` returns a checklist (a notebook can call it too); each failed item
says what to fix. Checks that depend on an earlier failure are skipped, not failed twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from drawkit.config import (
    DEFAULT_BASE_URL,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_PROJECT_API_KEY,
    ENV_PROJECT_ID,
    validate_base_url,
)
from drawkit.errors import (
    DrawkitError,
    PostHogAuthError,
    PostHogError,
    PostHogNotFoundError,
    SettingsError,
)
from drawkit.posthog.client import PostHogClient
from drawkit.posthog.scopes import REQUIRED_SCOPES
from drawkit.posthog.transport import RetryPolicy
from drawkit.redact import redact

KEYS_PAGE = "PostHog: Settings > Personal API keys"
DOCTOR_POLICY = RetryPolicy(max_attempts=2, max_seconds=15.0, timeout=(3.05, 15.0))


@dataclass(frozen=True)
class Check:
    """One line of the checklist: ``ok`` is True, False, or None when skipped."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""

    def format(self) -> str:
        """``[ok] name: detail`` plus an indented ``fix:`` line when it failed."""
        mark = {True: "ok", False: "FAIL", None: "skip"}[self.ok]
        line = f"[{mark:>4}] {self.name}: {redact(self.detail)}"
        return line + (f"\n       fix: {redact(self.fix)}" if self.fix and not self.ok else "")


def _settings_checks(env: Mapping[str, str]) -> list[Check]:
    checks = []
    key = (env.get(ENV_API_KEY) or "").strip()
    if not key:
        checks.append(Check(ENV_API_KEY, False, "not set",
                            f"create a personal API key ({KEYS_PAGE}) and export it"))
    elif key.startswith("phc_"):
        checks.append(Check(ENV_API_KEY, False, "holds a project API key (phc_...)",
                            f"use a personal API key (phx_...); the phc_ key belongs in "
                            f"{ENV_PROJECT_API_KEY}"))
    else:
        checks.append(Check(ENV_API_KEY, True, "set (personal API key, value hidden)"))
    project = (env.get(ENV_PROJECT_ID) or "").strip()
    if not project:
        checks.append(Check(ENV_PROJECT_ID, False, "not set",
                            "export the numeric project id from your PostHog project settings"))
    elif not (project.isdigit() or project == "@current"):
        checks.append(Check(ENV_PROJECT_ID, False, f"{project!r} is not a numeric project id",
                            "export the numeric id shown in the project settings"))
    else:
        checks.append(Check(ENV_PROJECT_ID, True, project))
    base = env.get(ENV_BASE_URL) or DEFAULT_BASE_URL
    try:
        checks.append(Check(ENV_BASE_URL, True, validate_base_url(base)
                            + ("" if env.get(ENV_BASE_URL) else " (default)")))
    except SettingsError as exc:
        checks.append(Check(ENV_BASE_URL, False, str(exc),
                            "use https://us.posthog.com, https://eu.posthog.com or your "
                            "instance's https URL (plain http only for localhost)"))
    capture = (env.get(ENV_PROJECT_API_KEY) or "").strip()
    if not capture:
        checks.append(Check(ENV_PROJECT_API_KEY, False, "not set (needed to publish results)",
                            "export the project API key (phc_...) from the project settings"))
    elif capture.startswith("phx_"):
        checks.append(Check(ENV_PROJECT_API_KEY, False, "holds a personal API key (phx_...)",
                            "use the project API key (phc_...)"))
    else:
        checks.append(Check(ENV_PROJECT_API_KEY, True, "set (project API key, value hidden)"))
    return checks


def _probe(name: str, call: Callable[[], Any], ok_detail: str, *,
           not_found_ok: bool = False) -> Check:
    """Run one API call; turn its outcome into a checklist line."""
    try:
        call()
    except PostHogNotFoundError as exc:
        if not_found_ok:  # the scope check passed; the probe object simply does not exist
            return Check(name, True, ok_detail)
        return Check(name, False, str(exc), "check POSTHOG_PROJECT_ID and POSTHOG_BASE_URL")
    except PostHogAuthError as exc:
        scope = name.removeprefix("scope ")
        fix = (f"give POSTHOG_API_KEY the scope '{scope}' ({KEYS_PAGE})"
               if name.startswith("scope ") else f"fix the key ({KEYS_PAGE})")
        return Check(name, False, str(exc), fix)
    except DrawkitError as exc:
        return Check(name, False, str(exc), "see the message; run again with -v for details")
    return Check(name, True, ok_detail)


def run_checks(
    env: Mapping[str, str] | None = None, *, policy: RetryPolicy = DOCTOR_POLICY
) -> list[Check]:
    """The full checklist for the POSTHOG_* settings in ``env`` (default os.environ)."""
    env = os.environ if env is None else env
    checks = _settings_checks(env)
    by = {c.name: c.ok for c in checks}
    private_ok = by[ENV_API_KEY] and by[ENV_PROJECT_ID] and by[ENV_BASE_URL]
    names = ["key accepted", "project found", *[f"scope {s}" for s in REQUIRED_SCOPES],
             "capture (project API key)"]
    if not private_ok:
        return checks + [Check(n, None, "skipped: fix the settings above first") for n in names]
    client = PostHogClient(
        env.get(ENV_BASE_URL) or DEFAULT_BASE_URL, env[ENV_API_KEY].strip(),
        env[ENV_PROJECT_ID].strip(), (env.get(ENV_PROJECT_API_KEY) or "").strip() or None,
        policy=policy,
    )
    with client:
        checks.extend(_api_checks(client, bool(by[ENV_PROJECT_API_KEY])))
    return checks


def _api_checks(client: PostHogClient, capture_ok: bool) -> list[Check]:
    checks: list[Check] = []
    try:
        project = client.get_project()
    except PostHogAuthError as exc:
        rejected = exc.status == 401
        checks.append(Check("key accepted", not rejected, str(exc) if rejected else "accepted",
                            f"create a new personal API key ({KEYS_PAGE})"))
        if rejected:
            rest = ["project found", *[f"scope {s}" for s in REQUIRED_SCOPES]]
            checks += [Check(n, None, "skipped: the key was rejected") for n in rest]
            checks.append(_capture_check(client, capture_ok))
            return checks
        checks.append(Check("project found", None, "unknown: the key may not read projects"))
        checks.append(Check("scope project:read", False, str(exc),
                            f"give POSTHOG_API_KEY the scope 'project:read' ({KEYS_PAGE})"))
    except PostHogNotFoundError as exc:
        checks.append(Check("key accepted", True, "accepted"))
        checks.append(Check("project found", False, str(exc),
                            f"set {ENV_PROJECT_ID} to a project this key can access"))
        rest = [f"scope {s}" for s in REQUIRED_SCOPES]
        checks += [Check(n, None, "skipped: project not found") for n in rest]
        checks.append(_capture_check(client, capture_ok))
        return checks
    except PostHogError as exc:
        checks.append(Check("key accepted", False, str(exc),
                            f"check {ENV_BASE_URL} is reachable and is a PostHog instance"))
        rest = ["project found", *[f"scope {s}" for s in REQUIRED_SCOPES]]
        checks += [Check(n, None, "skipped: PostHog did not answer") for n in rest]
        checks.append(_capture_check(client, capture_ok))
        return checks
    else:
        name = project.get("name") if isinstance(project, dict) else None
        checks.append(Check("key accepted", True, "accepted"))
        checks.append(Check("project found", True, f"project {client.project_id}"
                            + (f" '{name}'" if name else "")))
        checks.append(Check("scope project:read", True, "project readable"))
    checks.append(_probe("scope query:read", lambda: client.query("SELECT 1"),
                         "HogQL query ran"))
    checks.append(_probe("scope cohort:read", lambda: client.list_cohorts(1),
                         "cohorts listed"))
    checks.append(_probe("scope cohort:write",
                         lambda: client.update_cohort(0, description="drawkit doctor probe"),
                         "cohort writes allowed", not_found_ok=True))
    checks.append(_probe("scope person:read",
                         lambda: next(client.iter_persons(distinct_id="drawkit-doctor",
                                                          page_size=1), None),
                         "persons readable"))
    checks.append(_capture_check(client, capture_ok))
    return checks


def _capture_check(client: PostHogClient, capture_ok: bool) -> Check:
    name = "capture (project API key)"
    if not capture_ok:
        return Check(name, None, f"skipped: fix {ENV_PROJECT_API_KEY} first")
    return _probe(
        name,
        lambda: client.capture_event("drawkit_doctor", "drawkit",
                                     {"$process_person_profile": False}),
        f"event accepted at {client.capture_url}",
    )


def format_checklist(checks: list[Check]) -> str:
    """The printed checklist with a closing verdict."""
    lines = ["drawkit doctor: PostHog settings and access", *[c.format() for c in checks]]
    failed = [c for c in checks if c.ok is False]
    lines.append(
        "all checks passed" if not failed else f"{len(failed)} check(s) failed: fix them and run "
        "drawkit doctor again"
    )
    return "\n".join(lines)
