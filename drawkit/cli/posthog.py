"""`drawkit doctor`: check the PostHog settings, key, project and scopes."""

from __future__ import annotations

import argparse


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
    from drawkit.app.runtime import Runtime
    from drawkit.app.tools import doctor

    report = doctor(Runtime.from_env())
    print(report.format())
    return 0 if report.ok else 1
