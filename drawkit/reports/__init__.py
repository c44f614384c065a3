"""Reports: the three notebooks' steps, the papermill runner, HTML export and leak scan.

``run_reports`` runs ``notebooks/01_daily_cohort``, ``02_draw_run`` and ``03_audit`` for a
draw date into ``reports/<date>/``; ``drawkit.reports.steps`` holds what the notebooks
compute, so the notebooks keep only narrative, tables and charts.
"""

from drawkit.reports.params import PARAMETER_NAMES, ReportParams
from drawkit.reports.run import NOTEBOOKS, ReportRun, export_html, run_reports
from drawkit.reports.scan import Leak, scan_files, scan_text

__all__ = [
    "NOTEBOOKS",
    "PARAMETER_NAMES",
    "Leak",
    "ReportParams",
    "ReportRun",
    "export_html",
    "run_reports",
    "scan_files",
    "scan_text",
]
