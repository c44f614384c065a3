"""The day's reports: run the notebooks through the day's use-case, then the index page
and the leak scan over everything shareable."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drawkit.errors import ReportError
from drawkit.reports.runner import NOTEBOOKS_DIR, TITLES, NotebookRunner
from drawkit.reports.scan import Leak, scan_files
from drawkit.store import write_public

if TYPE_CHECKING:
    from drawkit.app.day import DayResult
    from drawkit.app.job import DrawJob
    from drawkit.app.runtime import Runtime

Say = Callable[[str], None]


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
    write_index(reports, job.draw_date.isoformat())
    secrets = runtime.settings(require_private=False).secrets
    reports.leaks = scan_files(public_files(out_dir), secrets=secrets)
    if reports.leaks:
        listed = "; ".join(leak.format() for leak in reports.leaks[:5])
        raise ReportError(f"the reports in {out_dir} leak {len(reports.leaks)} value(s): {listed}")
    return reports


def public_files(out_dir: Path) -> list[Path]:
    """The report folder's shareable files (notebooks, HTML, JSON)."""
    kinds = {".ipynb", ".html", ".json"}
    return sorted(p for p in out_dir.iterdir() if p.is_file() and p.suffix in kinds)


def write_index(reports: ReportSet, draw_date: str) -> Path:
    """A small index page linking the auditor copies and the charts."""
    links = "".join(
        f'<li><a href="{p.name}">{html.escape(TITLES.get(p.stem, p.stem))}</a></li>'
        for p in reports.html
    )
    charts = "".join(
        f'<li><a href="charts/{p.name}">{html.escape(p.stem)}</a></li>' for p in reports.charts
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>drawkit reports "
        f"{html.escape(draw_date)}</title></head><body><h1>drawkit reports for "
        f"{html.escape(draw_date)}</h1><h2>Reports</h2><ul>{links}</ul>"
        f"<h2>Charts (PNG)</h2><ul>{charts}</ul></body></html>"
    )
    return write_public(reports.index, page)
