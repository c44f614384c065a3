"""The day's reports: run the notebooks through the day's use-case, then the index page
and the leak scan over everything shareable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drawkit.errors import ReportError
from drawkit.reports.runner import NOTEBOOKS_DIR, NotebookRunner
from drawkit.reports.scan import Leak, scan_files

if TYPE_CHECKING:
    from drawkit.app.day import DayResult
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime

Say = Callable[[str], None]
SECRET_VARIABLES = ("DRAWKIT_SIGNING_KEY",)  # never in a shared file (the draw secret is revealed)


@dataclass
class ReportSet:
    """What a report run produced."""

    output_dir: Path
    day: DayResult | None = None
    executed: list[Path] = field(default_factory=list)
    html: list[Path] = field(default_factory=list)
    full_html: list[Path] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)

    @property
    def index(self) -> Path:
        """The folder's landing page."""
        return self.output_dir / "index.html"

    def format(self) -> str:
        """Where the reports are, and the verdict."""
        lines = [f"Reports in {self.output_dir}:", f"  index         {self.index}"]
        lines += [f"  auditor copy  {p}" for p in self.html]
        lines += [f"  full copy     {p}" for p in self.full_html]
        lines.append(f"  charts        {len(self.charts)} PNG files in "
                     f"{self.output_dir / 'charts'}")
        if self.day is not None:
            lines.append(f"Verdict: {self.day.verdict}")
        return "\n".join(lines)


def run_report(
    job: DrawJob,
    runtime: Runtime,
    *,
    steps: tuple[str, ...] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    full_copy: bool = False,
    progress_bar: bool = True,
    timeout: int = 600,
    say: Say | None = None,
) -> ReportSet:
    """Run the day's steps as notebooks into ``job.report_dir``; write the index page and
    scan every shareable file for keys and unmasked numbers (a leak fails the run)."""
    from drawkit.app.day import STEPS, run_day

    job = job.absolute()
    runner = NotebookRunner(runtime.kernel_env(), notebooks_dir=notebooks_dir,
                            full_copy=full_copy, progress_bar=progress_bar, timeout=timeout)
    out_dir = Path(job.report_dir)
    reports = ReportSet(out_dir, executed=runner.executed, html=runner.html,
                        full_html=runner.full_html)
    reports.day = run_day(job, runtime, runner, steps=steps or STEPS, say=say)
    reports.charts = sorted((out_dir / "charts").glob("*.png"))
    write_day_page(job, out_dir)
    secrets = (*runtime.settings(require_private=False).secrets,
               *[runtime.env.get(name, "").strip() for name in SECRET_VARIABLES])
    reports.leaks = scan_files(public_files(out_dir), secrets=secrets)
    if reports.leaks:
        listed = "; ".join(leak.format() for leak in reports.leaks[:5])
        raise ReportError(f"the reports in {out_dir} leak {len(reports.leaks)} value(s): {listed}")
    return reports


def public_files(out_dir: Path) -> list[Path]:
    """The report folder's shareable files drawkit wrote (notebooks, HTML, JSON, the
    verifier page with the public record in it), wherever they are in the folder; the
    copied spec and the vendored library are drawkit's own text, not this draw's."""
    kinds = {".ipynb", ".html", ".json", ".js", ".csv"}
    return sorted(p for p in out_dir.rglob("*") if p.is_file() and p.suffix in kinds
                  and "vendor" not in p.relative_to(out_dir).parts)  # the pinned BLS library


def write_day_page(job: DrawJob, out_dir: Path) -> Path:
    """The landing page (``index.html``), with the spec and the browser verifier beside it."""
    from drawkit.app.auditing import day_facts
    from drawkit.reports.day_page import build_page, copy_spec
    from drawkit.reports.landing import write_landing
    from drawkit.verifier import copy_verifier

    public = out_dir / "record.public.json"
    if public.is_file():
        copy_verifier(out_dir, public_record=public)
    copy_spec(out_dir)
    return write_landing(build_page(job, day_facts(job), out_dir), out_dir / "index.html")
