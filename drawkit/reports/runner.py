"""Run the report notebooks with papermill and export them to HTML.

Each notebook receives one parameter, ``job``: the :class:`drawkit.app.DrawJob` as JSON.
The kernel starts with the runtime's environment (``Runtime.kernel_env``), so settings
and secrets reach it that way and never as a parameter. Notebooks ship inside the package
(``drawkit/notebooks``), so a wheel install runs them too; the ``drawkit`` kernel is
registered for this Python on first use when it is missing.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from drawkit.errors import ReportError
from drawkit.redact import redact

NOTEBOOKS = ("01_daily_cohort", "02_draw_run", "03_audit")
NOTEBOOKS_DIR = Path(str(files("drawkit") / "notebooks"))
KERNEL = "drawkit"
PARAMETER = "job"
TITLES = {"01_daily_cohort": "Daily cohort", "02_draw_run": "Draw run", "03_audit": "Audit"}

Progress = Callable[[str], None]


@dataclass
class NotebookRunner:
    """Executes report notebooks for jobs into their report folders (ipynb + HTML)."""

    env: Mapping[str, str]
    notebooks_dir: Path = NOTEBOOKS_DIR
    full_copy: bool = False
    progress_bar: bool = True
    timeout: int = 600
    executed: list[Path] = field(default_factory=list)
    html: list[Path] = field(default_factory=list)
    full_html: list[Path] = field(default_factory=list)

    def __call__(self, name: str, job: Any) -> Path:
        """Run notebook ``name`` for ``job``; its auditor copy (and full copy) as HTML."""
        logging.getLogger("papermill").setLevel(logging.WARNING)  # progress comes from say()
        source = Path(self.notebooks_dir) / f"{name}.ipynb"
        check_notebook(source)
        out_dir = Path(job.report_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        executed = out_dir / f"{name}.ipynb"
        execute(source, executed, job.to_json(), env=self.env, cwd=out_dir,
                progress_bar=self.progress_bar, timeout=self.timeout)
        self.executed.append(executed)
        self.html.append(export_html(executed, out_dir / f"{name}.html", auditor=True))
        if self.full_copy:
            self.full_html.append(export_html(executed, out_dir / f"{name}.full.html",
                                              auditor=False))
        return executed


def check_notebook(notebook: Path) -> None:
    """The notebook exists and declares exactly the one ``job`` parameter."""
    import papermill

    if not notebook.is_file():
        raise ReportError(f"notebook {notebook} not found")
    declared = set(papermill.inspect_notebook(str(notebook)))
    if declared != {PARAMETER}:
        raise ReportError(
            f"{notebook.name} must declare exactly one parameter, {PARAMETER!r} "
            f"(it declares {', '.join(sorted(declared)) or 'none'})"
        )


def ensure_kernel() -> None:
    """Register the ``drawkit`` kernel for this Python when no kernel of that name exists."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        from ipykernel.kernelspec import install

        install(kernel_name=KERNEL, display_name=KERNEL, prefix=sys.prefix)


def _kernel_manager(env: Mapping[str, str]) -> type:
    """A kernel manager class that starts kernels with ``env`` (not this process's)."""
    from jupyter_client import AsyncKernelManager

    kernel_env = {**env, "MPLBACKEND": "Agg"}

    class RuntimeKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:
            kw.setdefault("env", dict(kernel_env))
            await super().start_kernel(**kw)

    return RuntimeKernelManager


def execute(
    source: Path,
    executed: Path,
    job_json: str,
    *,
    env: Mapping[str, str],
    cwd: Path,
    progress_bar: bool = True,
    timeout: int = 600,
) -> None:
    """Run one notebook with papermill; a failure becomes a ReportError naming the cell."""
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from papermill.exceptions import PapermillExecutionError

    ensure_kernel()
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters={PARAMETER: job_json},
            kernel_name=KERNEL,
            cwd=str(cwd),
            progress_bar=progress_bar,
            execution_timeout=timeout,
            kernel_manager_class=_kernel_manager(env),
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
            f"installed; run `make setup` (python -m ipykernel install --sys-prefix --name "
            f"{KERNEL})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - kernel died, timed out or could not start
        raise ReportError(
            redact(
                f"notebook {source.stem} did not run: {type(exc).__name__}: {exc}; "
                f"the partial notebook (if any) is {executed}"
            )
        ) from None


def export_html(executed: Path, target: Path, *, auditor: bool = True) -> Path:
    """Export an executed notebook to self-contained HTML. The auditor's copy has no code
    cells, no parameter cells and no stderr output."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

    from drawkit.store import write_public

    class DropStderr(Preprocessor):
        """Remove stderr streams (warnings, progress bars) from the auditor's copy."""

        def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
            if cell.get("cell_type") == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.name == "stderr")]
            return cell, resources

    notebook = nbformat.read(str(executed), as_version=4)
    notebook.metadata.get("papermill", {}).pop("parameters", None)
    exporter = HTMLExporter(template_name="lab")
    tags = {"injected-parameters", "parameters"}
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=tags, enabled=True), enabled=True
    )
    if auditor:
        exporter.exclude_input = True
        exporter.exclude_input_prompt = True
        exporter.exclude_output_prompt = True
        exporter.register_preprocessor(DropStderr(enabled=True), enabled=True)
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    body, _ = exporter.from_notebook_node(notebook)
    return write_public(target, body)
