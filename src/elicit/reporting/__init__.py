"""Reports and everyday use of run directories: find runs, report them, export their labels.

    elicit runs [ROOT]                      list runs: kind, status, task, model, key numbers
    elicit report RUN_DIR... [--out FILE]   one self-contained HTML page (`report`, `sections`)
    elicit export RUN_DIR --format jsonl|csv|hf|dpo --out PATH

Modules: discover (run discovery, kind and status), report and sections (the HTML page), page
(escaping and HTML pieces), plots (figures the runs did not draw), examples (reloading a run's
claim texts), export (labels as files, datasets and preference pairs).
"""

from elicit.reporting.discover import RunInfo, RunsConfig, find_runs, inspect_run
from elicit.reporting.export import ExportConfig, ExportSummary, run_export
from elicit.reporting.report import ReportConfig, render, write_report

__all__ = [
    "ExportConfig",
    "ExportSummary",
    "ReportConfig",
    "RunInfo",
    "RunsConfig",
    "find_runs",
    "inspect_run",
    "render",
    "run_export",
    "write_report",
]
