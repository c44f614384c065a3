"""Run the report notebooks with papermill and export them to HTML.

``run_reports`` executes 01 (cohort), 02 (draw) and 03 (audit) in order into
``<out>/<draw date>/`` with the ``drawkit`` kernel, exports each to an auditor's HTML copy
(no code, no parameters cell) and optionally a full copy, then scans every executed
notebook and HTML file for API keys and unmasked phone numbers. A failing notebook stops
the run with a :class:`ReportError` naming the notebook, the cell and the error; its
partially executed notebook stays in the folder for inspection.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.kernelspec import NoSuchKernel
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor
from papermill.exceptions import PapermillExecutionError

from drawkit.config import Settings
from drawkit.errors import ReportError
from drawkit.redact import redact
from drawkit.reports.params import PARAMETER_NAMES, PATH_PARAMETERS, ReportParams
from drawkit.reports.scan import Leak, scan_files

NOTEBOOKS = ("01_daily_cohort", "02_draw_run", "03_audit")
NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "drawkit"
TITLES = {
    "01_daily_cohort": "Daily cohort",
    "02_draw_run": "Draw run",
    "03_audit": "Audit",
}

Progress = Callable[[str], None]


@dataclass
class ReportRun:
    """What a report run produced."""

    output_dir: Path
    executed: list[Path] = field(default_factory=list)
    html: list[Path] = field(default_factory=list)
    full_html: list[Path] = field(default_factory=list)
    charts: list[Path] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)

    @property
    def index(self) -> Path:
        """The folder's index page linking the auditor copies."""
        return self.output_dir / "index.html"


def report_parameters(params: Mapping[str, Any], out_root: str | Path) -> dict[str, Any]:
    """Complete, check and absolutise the parameters; output_dir = ``<out>/<date>``."""
    unknown = sorted(set(params) - set(PARAMETER_NAMES))
    if unknown:
        raise ReportError(
            f"unknown report parameter(s) {', '.join(unknown)}; known: {', '.join(PARAMETER_NAMES)}"
        )
    values = {k: v for k, v in params.items() if v is not None}
    checked = ReportParams.from_values(**values)  # raises on bad values before any kernel starts
    if checked.source == "posthog":
        Settings.from_env()  # missing or wrong POSTHOG_* fail here, naming the variable
    values["draw_date"] = checked.draw_date.isoformat()
    values.setdefault("output_dir", str(Path(out_root) / values["draw_date"]))
    for name in PATH_PARAMETERS:
        if values.get(name):
            values[name] = str(Path(str(values[name])).expanduser().resolve())
    return values


def run_reports(
    params: Mapping[str, Any],
    out_root: str | Path = "reports",
    *,
    notebooks: tuple[str, ...] = NOTEBOOKS,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    full_copy: bool = False,
    progress_bar: bool = True,
    timeout: int = 600,
    on_progress: Progress | None = None,
) -> ReportRun:
    """Execute, export and scan the report notebooks; raise ReportError on any failure."""
    say = on_progress or (lambda _text: None)
    logging.getLogger("papermill").setLevel(logging.WARNING)  # progress comes from say()
    values = report_parameters(params, out_root)
    out_dir = Path(values["output_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    run = ReportRun(out_dir)
    for number, name in enumerate(notebooks, start=1):
        say(f"[{number}/{len(notebooks)}] {name}")
        source = Path(notebooks_dir) / f"{name}.ipynb"
        _check_parameters(source, values)
        executed = out_dir / f"{name}.ipynb"
        execute(source, executed, values, cwd=out_dir, progress_bar=progress_bar, timeout=timeout)
        run.executed.append(executed)
        run.html.append(export_html(executed, out_dir / f"{name}.html", auditor=True))
        if full_copy:
            run.full_html.append(
                export_html(executed, out_dir / f"{name}.full.html", auditor=False)
            )
    run.charts = sorted((out_dir / "charts").glob("*.png"))
    write_index(run, values["draw_date"])
    run.leaks = scan_files(public_files(out_dir))
    if run.leaks:
        listed = "; ".join(leak.format() for leak in run.leaks[:5])
        raise ReportError(f"the reports in {out_dir} leak {len(run.leaks)} value(s): {listed}")
    return run


def public_files(out_dir: Path) -> list[Path]:
    """The report folder's shareable files (notebooks, HTML, JSON); ``private/`` excluded."""
    kinds = {".ipynb", ".html", ".json"}
    return sorted(p for p in out_dir.iterdir() if p.is_file() and p.suffix in kinds)


def _check_parameters(notebook: Path, values: Mapping[str, Any]) -> None:
    if not notebook.exists():
        raise ReportError(f"notebook {notebook} not found")
    declared = set(papermill.inspect_notebook(str(notebook)))
    unknown = sorted(set(values) - declared)
    if unknown:
        raise ReportError(f"{notebook.name} has no parameter(s) {', '.join(unknown)}")


def execute(
    source: Path,
    executed: Path,
    values: Mapping[str, Any],
    *,
    cwd: Path,
    progress_bar: bool = True,
    timeout: int = 600,
) -> None:
    """Run one notebook with papermill; a failure becomes a ReportError naming the cell."""
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=dict(values),
            kernel_name=KERNEL,
            cwd=str(cwd),
            progress_bar=progress_bar,
            execution_timeout=timeout,
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],  # no kernel chatter
        )
    except PapermillExecutionError as exc:
        first_line = next((ln for ln in str(exc.source).splitlines() if ln.strip()), "")
        raise ReportError(
            redact(
                f"notebook {source.stem} failed in cell {exc.cell_index} (execution count "
                f"{exc.exec_count}: {first_line.strip()[:80]}): {exc.ename}: {exc.evalue}; "
                f"the partial notebook is {executed}"
            )
        ) from None
    except NoSuchKernel:
        raise ReportError(
            f"notebook {source.stem} did not run: the Jupyter kernel '{KERNEL}' is not "
            "installed; run `make setup` (python -m ipykernel install --sys-prefix --name "
            f"{KERNEL})"
        ) from None
    except Exception as exc:  # kernel died, timed out or could not start
        raise ReportError(
            redact(
                f"notebook {source.stem} did not run: {type(exc).__name__}: {exc}; "
                f"the partial notebook (if any) is {executed}"
            )
        ) from None


class _DropStderr(Preprocessor):
    """Remove stderr streams (warnings, progress bars) from the auditor's copy."""

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        if cell.get("cell_type") == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
        return cell, resources


def export_html(executed: Path, target: Path, *, auditor: bool = True) -> Path:
    """Export an executed notebook to self-contained HTML. The auditor's copy has no code
    cells, no parameter cells and no stderr output."""
    notebook = nbformat.read(str(executed), as_version=4)
    exporter = HTMLExporter(template_name="lab")
    tags = {"injected-parameters", "parameters"}
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=tags, enabled=True), enabled=True
    )
    if auditor:
        exporter.exclude_input = True
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        exporter.register_preprocessor(_DropStderr(enabled=True), enabled=True)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    body, _ = exporter.from_notebook_node(notebook)
    target.write_text(body, encoding="utf-8")
    return target


def write_index(run: ReportRun, draw_date: str) -> Path:
    """A small index page linking the auditor copies and the charts."""
    links = "".join(
        f'<li><a href="{p.name}">{html.escape(TITLES.get(p.stem, p.stem))}</a></li>'
        for p in run.html
    )
    charts = "".join(
        f'<li><a href="charts/{p.name}">{html.escape(p.stem)}</a></li>' for p in run.charts
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>drawkit reports "
        f"{html.escape(draw_date)}</title></head><body><h1>drawkit reports for "
        f"{html.escape(draw_date)}</h1><h2>Reports</h2><ul>{links}</ul>"
        f"<h2>Charts (PNG)</h2><ul>{charts}</ul></body></html>"
    )
    run.index.write_text(page, encoding="utf-8")
    return run.index
