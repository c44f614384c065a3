"""`drawkit` subcommands of the posthog area: ``doctor``."""

from __future__ import annotations

import argparse

from drawkit.posthog.doctor import format_checklist, run_checks


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands."""
    doctor = subparsers.add_parser(
        "doctor",
        help="check the POSTHOG_* settings, the key, the project and the scopes drawkit needs",
        description="Check each POSTHOG_* variable, the base URL, that the personal API key "
        "is accepted, that the project exists, that every scope drawkit needs works and that "
        "the project API key can capture. Exits 1 when a check fails.",
    )
    doctor.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    checks = run_checks()
    print(format_checklist(checks))
    return 1 if any(c.ok is False for c in checks) else 0
