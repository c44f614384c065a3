"""The PostHog daily cohort: people who recharged in the draw window, not blacklisted.

``CohortGenerator.ensure_daily_cohort(date)`` is idempotent: it finds the day's cohort
by name ("<cohort_name_prefix> <date>") or creates it, then waits (bounded) while
PostHog calculates it. PostHog stores filters normalised (``negation``, ``bytecode``,
``conditionHash`` added), so filters are compared after the same normalisation: an
unchanged promotion never PATCHes the cohort (which would recalculate it for minutes).

A behavioural cohort filter compares event *counts*; "recharged at least ₦100" cannot
be one, so the cohort holds everyone who recharged in the window and the local rules
(:func:`drawkit.eligibility.apply_rules`) decide points on its members' events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from drawkit.config import PromotionConfig
from drawkit.eligibility import draw_window
from drawkit.errors import CohortNotReadyError, InputError
from drawkit.msisdn import mask, normalize
from drawkit.posthog.client import PostHogClient

logger = logging.getLogger("drawkit.sources.posthog_cohort")

# Keys PostHog adds to every filter node it stores; drawkit never sets them.
_SERVER_KEYS = frozenset({"bytecode", "bytecode_error", "conditionHash"})


def normalise_filters(node: Any) -> Any:
    """Cohort filters as PostHog stores them, minus what it adds: no bytecode or
    conditionHash, no ``negation: false``, no null values (so two spellings compare)."""
    if isinstance(node, dict):
        return {
            key: normalise_filters(value)
            for key, value in sorted(node.items())
            if key not in _SERVER_KEYS and value is not None
            and not (key == "negation" and value is False)
        }
    if isinstance(node, list):
        return [normalise_filters(item) for item in node]
    return node


@dataclass(frozen=True)
class CohortStats:
    """What a cohort holds and its calculation state."""

    id: int
    name: str
    count: int | None
    is_calculating: bool
    is_static: bool
    last_calculation: str | None
    errors_calculating: int

    def format(self) -> str:
        """One line for a notebook or the CLI."""
        state = "calculating" if self.is_calculating else "ready"
        return f"cohort {self.id} '{self.name}': {self.count} persons ({state})"


class CohortGenerator:
    """Builds and reads the daily draw cohorts of one promotion in PostHog."""

    def __init__(
        self,
        client: PostHogClient,
        config: PromotionConfig | None = None,
        *,
        wait_seconds: float = 300.0,
        poll_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.config = config or PromotionConfig()
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self._sleep = sleep
        self._clock = clock

    def cohort_name(self, draw_date: date) -> str:
        """The day's cohort name: "<cohort_name_prefix> <YYYY-MM-DD>"."""
        return f"{self.config.posthog.cohort_name_prefix} {draw_date.isoformat()}"

    def cohort_filters(self, draw_date: date) -> dict[str, Any]:
        """Filters: performed the recharge event in the window AND blacklisted is not true."""
        window = draw_window(self.config, draw_date)
        names = self.config.posthog
        performed: dict[str, Any] = {
            "type": "behavioral",
            "key": names.recharge_event,
            "value": "performed_event",
            "event_type": "events",
            "explicit_datetime": window.start.isoformat() if window.start else "-3650d",
            "explicit_datetime_to": window.cutoff.isoformat(),
        }
        not_blacklisted = {
            "type": "person",
            "key": names.blacklist_property,
            "operator": "is_not",
            "value": ["true"],
        }
        return {"properties": {"type": "AND", "values": [
            {"type": "AND", "values": [performed, not_blacklisted]}
        ]}}

    def find_cohort(self, name: str) -> dict[str, Any] | None:
        """The newest non-deleted cohort with exactly this name, or None."""
        matches = [
            c for c in self.client.list_cohorts() if c.get("name") == name and not c.get("deleted")
        ]
        return max(matches, key=lambda c: int(c["id"])) if matches else None

    def ensure_daily_cohort(self, draw_date: date, *, wait: bool = True) -> dict[str, Any]:
        """Find or create the day's cohort; wait (bounded) until PostHog has calculated it."""
        name = self.cohort_name(draw_date)
        filters = self.cohort_filters(draw_date)
        cohort = self.find_cohort(name)
        if cohort is None:
            window = draw_window(self.config, draw_date)
            cohort = self.client.create_cohort(
                name,
                filters,
                description=f"drawkit: {self.config.posthog.recharge_event} between "
                f"{window.start} and {window.cutoff}, not blacklisted",
            )
            logger.info("created cohort %s '%s'", cohort.get("id"), name)
        elif normalise_filters(cohort.get("filters")) != normalise_filters(filters):
            # The promotion config changed since the cohort was made: bring it in line.
            cohort = self.client.update_cohort(int(cohort["id"]), filters=filters)
            logger.info("updated the filters of cohort %s '%s'", cohort.get("id"), name)
        else:
            logger.info("reusing cohort %s '%s'", cohort.get("id"), name)
        return self.wait_until_ready(cohort) if wait else cohort

    def wait_until_ready(self, cohort: dict[str, Any]) -> dict[str, Any]:
        """Poll while ``is_calculating``; raise CohortNotReadyError after ``wait_seconds``."""
        deadline = self._clock() + self.wait_seconds
        cohort_id = int(cohort["id"])
        while cohort.get("is_calculating"):
            if self._clock() >= deadline:
                raise CohortNotReadyError(
                    f"cohort {cohort_id} '{cohort.get('name')}' was still calculating after "
                    f"{self.wait_seconds:.0f}s: run again later (the cohort is reused, not "
                    "re-created) or raise the wait bound",
                    endpoint="GET /cohorts/{id}/",
                )
            self._sleep(self.poll_seconds)
            cohort = self.client.get_cohort(cohort_id)
        return cohort

    def get_cohort_stats(self, cohort: dict[str, Any] | int) -> CohortStats:
        """Size and calculation state of a cohort (a cohort dict or an id)."""
        if not isinstance(cohort, dict):
            cohort = self.client.get_cohort(int(cohort))
        count = cohort.get("count")
        return CohortStats(
            id=int(cohort["id"]),
            name=str(cohort.get("name") or ""),
            count=None if count is None else int(count),
            is_calculating=bool(cohort.get("is_calculating")),
            is_static=bool(cohort.get("is_static")),
            last_calculation=cohort.get("last_calculation"),
            errors_calculating=int(cohort.get("errors_calculating") or 0),
        )

    def create_test_cohort(self, msisdns: Iterable[str], name: str | None = None) -> dict:
        """A static cohort of sample persons (numbers in any format) for trying things out.

        Every number must be a known person in PostHog; unknown ones are named (masked).
        """
        wanted = sorted({normalize(m) for m in msisdns})
        if not wanted:
            raise InputError("create_test_cohort needs at least one phone number")
        person_ids, missing = [], []
        for msisdn in wanted:
            found = self.client.get_persons(distinct_id=msisdn)
            if found:
                person_ids.append(str(found[0].get("uuid") or found[0]["id"]))
            else:
                missing.append(mask(msisdn))
        if missing:
            raise InputError(
                f"{len(missing)} number(s) are not persons in project "
                f"{self.client.project_id}: {', '.join(missing[:10])}"
            )
        cohort = self.client.create_cohort(
            name or f"{self.config.posthog.cohort_name_prefix} test {len(wanted)} persons",
            is_static=True,
            description="drawkit test cohort",
        )
        self.client.add_persons_to_static_cohort(int(cohort["id"]), person_ids)
        return self.wait_until_ready(self.client.get_cohort(int(cohort["id"])))
