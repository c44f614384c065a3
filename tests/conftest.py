"""Hypothesis settings for the whole suite.

`make test` (and CI) run the property tests derandomized: the same examples every run, so a
failure is reproducible and CI never fails by luck. `make reliability` sets
DRAWKIT_RELIABILITY_REPORT and fuzzes with fresh random examples each run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "drawkit",
    deadline=None,  # a shared 2-core CI machine must not turn slowness into failures
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize="DRAWKIT_RELIABILITY_REPORT" not in os.environ,
    print_blob=True,
)
settings.load_profile("drawkit")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _scratch_workspace(tmp_path_factory, monkeypatch):
    """Every test's default workspace is a fresh temporary folder, never the checkout's."""
    monkeypatch.setenv("DRAWKIT_WORKSPACE", str(tmp_path_factory.mktemp("workspace")))
