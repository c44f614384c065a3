"""Helpers shared by the reliability tests (kept out of conftest so tests can import them)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python process that imports this checkout of drawkit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTHOG_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env
