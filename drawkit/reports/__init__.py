"""Reports: presentation over the application layer.

``run_report`` runs the day's notebooks (``drawkit/notebooks``) for a job into its report
folder, writes the index page and scans every shareable file for leaks. ``tables`` formats
the use-cases' results for the notebooks; ``notebook.start`` is each notebook's first call.
"""

from drawkit.reports.report import ReportSet, public_files, run_report
from drawkit.reports.runner import NOTEBOOKS, NotebookRunner, export_html
from drawkit.reports.scan import Leak, scan_files, scan_text

__all__ = [
    "NOTEBOOKS",
    "Leak",
    "NotebookRunner",
    "ReportSet",
    "export_html",
    "public_files",
    "run_report",
    "scan_files",
    "scan_text",
]
