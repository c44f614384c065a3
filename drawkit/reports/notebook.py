"""The notebook door: turn the ``job`` parameter into a job and a runtime, quietly.

``start(job)`` is the first call of every report notebook. With the parameter empty (a
notebook opened in JupyterLab), the job is an exploration on a scratch workspace, on
synthetic data, and the notebook says so: nothing there is a real draw.
"""

from __future__ import annotations

import logging
import warnings
from datetime import date
from pathlib import Path
from typing import Any

from drawkit.app.job import DrawJob, SourceSpec
from drawkit.app.runtime import Runtime
from drawkit.redact import install_log_redaction

SCRATCH_DATE = date(2026, 11, 24)
SCRATCH_NOTE = (
    "**Exploration on a scratch workspace** ({folder}): synthetic data, a scratch ledger; "
    "nothing here is a real draw. `drawkit report` runs these notebooks for real."
)


def start(job: str) -> tuple[DrawJob, Runtime]:
    """Quiet, safe notebook output, and the job and runtime this notebook runs."""
    warnings.filterwarnings("ignore")
    logging.getLogger().setLevel(logging.WARNING)
    install_log_redaction()
    import pandas as pd

    pd.set_option("display.max_columns", 20)
    pd.set_option("display.width", 120)
    runtime = Runtime.from_env()
    parsed = DrawJob.from_json(job) if job.strip() else scratch_job(scratch_base(runtime))
    return parsed, runtime


def project_root() -> Path:
    """The working directory, or its parent's parent when a notebook runs from the
    package's ``drawkit/notebooks`` folder (so scratch output lands in the git-ignored
    ``workspace/``, never next to the notebooks)."""
    cwd = Path.cwd().resolve()
    if cwd.name == "notebooks" and cwd.parent.name == "drawkit":
        return cwd.parent.parent
    return cwd


def scratch_base(runtime: Runtime) -> Path:
    """The workspace a scratch exploration goes under: ``$DRAWKIT_WORKSPACE`` (``make lab``
    sets it), else ``workspace/`` at the project root."""
    configured = (runtime.env.get("DRAWKIT_WORKSPACE") or "").strip()
    return Path(configured) if configured else project_root() / "workspace"


def scratch_job(base: Path) -> DrawJob:
    """An exploration job: synthetic data in ``<base>/scratch`` (made once)."""
    from drawkit.app.tools import synthesize

    workspace = base / "scratch"
    data = workspace / "data"
    if not (data / "recharges.csv").is_file():
        synthesize(2_000, 4, SCRATCH_DATE, data, seed=7)
    source = SourceSpec("local", recharges=data / "recharges.csv",
                        blacklist=data / "blacklist.csv")
    return DrawJob(SCRATCH_DATE, source=source, workspace=workspace, scratch=True,
                   replace_cohort=True, beacon_value=None, simulations=200, history_days=2)


def scratch_note(job: DrawJob) -> Any:
    """The banner a scratch notebook shows (nothing for a real job)."""
    from IPython.display import Markdown

    return Markdown(SCRATCH_NOTE.format(folder=job.workspace)) if job.scratch else None
