"""`elicit report`: one self-contained HTML page for one or many run directories.

    elicit report runs/label/sst2-gemma-3-270m-n64-s0           # -> that run's report.html
    elicit report runs/table/default --out table.html           # every run found under it
    elicit report runs/label/a runs/eval/b /tmp/w2s --out r.html

Each run gets a section (`sections`): its configuration, metrics and results tables, and what
its kind has to show (label: energy/agreement curves, confusion against gold, least confident
examples; eval: method bars; w2s: accuracy, agreement and PGR plots; train: loss). With several
runs the page starts with a combined results table (one row per run and method) and, when
runs measured accuracy, one bar chart of every run's methods side by side.

The page has no script and loads nothing: CSS is inline and every image is a base64 PNG (the
runs' own plots, or ones drawn here with matplotlib), so it can be mailed or archived as one
file. All text from the runs is HTML-escaped (`page.esc`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elicit.config import help_field
from elicit.errors import ConfigError
from elicit.evaluation.results import ResultRow
from elicit.reporting import plots, sections
from elicit.reporting.discover import (
    RunInfo,
    find_runs,
    inspect_run,
    is_run,
    read_json,
    result_rows,
)
from elicit.reporting.examples import ExamplesCache
from elicit.reporting.page import badge, esc, image, note, page, table
from elicit.runs import atomic_write_text

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class ReportConfig:
    """Options of `elicit report` (the run directories are positional arguments)."""

    out: str | None = help_field(
        None, "HTML file to write (default: RUN_DIR/report.html for one run, else ./report.html)"
    )
    examples: int = help_field(10, "least confident examples listed per label run")
    texts: bool = help_field(
        True, "reload each label run's task to show the claim texts of the listed examples"
    )

    def __post_init__(self) -> None:
        if self.examples < 0:
            raise ConfigError(f"--examples must be >= 0, got {self.examples}")


def collect(paths: Sequence[str | Path]) -> list[RunInfo]:
    """The runs named by `paths`: run directories as they are, other folders searched."""
    if not paths:
        raise ConfigError("no run directory given: pass one or more RUN_DIRs (see `elicit runs`)")
    out: list[RunInfo] = []
    for p in map(Path, paths):
        if is_run(p):
            out.append(inspect_run(p))
        elif p.is_dir():
            found = find_runs(p)
            if not found:
                raise ConfigError(
                    f"{p} is neither a run directory nor a folder holding any; pass a folder an "
                    "elicit command wrote (it has a config.json)"
                )
            out += found
        else:
            raise ConfigError(f"{p} does not exist; pass a run directory (see `elicit runs`)")
    seen: set[Path] = set()
    unique = []
    for info in out:  # the same run named twice (or found under two roots) is shown once
        key = info.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(info)
    return unique


def default_out(runs: Sequence[RunInfo]) -> Path:
    return runs[0].path / REPORT_FILE if len(runs) == 1 else Path(REPORT_FILE)


@dataclass(frozen=True)
class RunRow:
    """One tidy row of the combined table, with the run it came from."""

    run: str
    row: ResultRow


def combined_rows(runs: Sequence[RunInfo]) -> list[RunRow]:
    """Every run's tidy rows tagged with the run; a label run adds its agreement with gold."""
    rows: list[RunRow] = []
    for info in runs:
        rows += [RunRow(str(info.path), r) for r in result_rows(info.path)]
        if info.kind == "label":
            rows += _label_rows(info)
    return rows


def _label_rows(info: RunInfo) -> list[RunRow]:
    """A label run's agreement with gold and coverage as rows of method "icm-labels", read from
    its metrics.json (any version: a missing or non-numeric value is left out)."""
    m = read_json(info.path / "metrics.json")
    if not isinstance(m, dict) or isinstance(m.get("n"), bool) or not isinstance(m.get("n"), int):
        return []
    seed = info.config.get("seed")
    out = []
    for metric in ("agreement", "coverage"):
        value = m.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool):
            row = ResultRow(
                task=info.task or "", model=info.model or "", method="icm-labels",
                split=str(info.config.get("split", "train")), n=m["n"],
                seed=seed if isinstance(seed, int) else 0, metric=f"label_{metric}",
                value=float(value),
            )  # fmt: skip
            out.append(RunRow(str(info.path), row))
    return out


def combined_table(rows: Sequence[RunRow]) -> str:
    metrics = sections.order_metrics({r.row.metric for r in rows})
    cells: dict[tuple[str, str, str, str], dict[str, ResultRow]] = {}
    for r in rows:
        key = (r.run, r.row.task, r.row.model, r.row.method)
        cells.setdefault(key, {})[r.row.metric] = r.row
    body = [
        [*key, *(sections.value_text(found.get(m), m) for m in metrics)]
        for key, found in cells.items()
    ]
    return table(("run", "task", "model", "method", *metrics), body, cls="wide")


def combined_bars(runs: Sequence[RunInfo], rows: Sequence[RunRow]) -> str:
    acc = [r for r in rows if r.row.metric == "accuracy" and not math.isnan(r.row.value)]
    groups = list(dict.fromkeys(r.run for r in acc))
    if len(groups) < 2:
        return ""
    methods = list(dict.fromkeys(r.row.method for r in acc))
    value = {(r.run, r.row.method): r.row.value for r in acc}
    series = {m: [value.get((g, m), float("nan")) for g in groups] for m in methods}
    short = _short_names(groups)
    png = plots.grouped_bars_png(short, series, "test accuracy per run and method", "accuracy")
    return "<h2>Method comparison across runs</h2>" + image(png, "accuracy per run and method")


def _short_names(paths: Sequence[str]) -> list[str]:
    """Run paths without their common prefix, so the bar chart's labels stay short."""
    parts = [Path(p).parts for p in paths]
    common = 0
    while all(len(p) > common + 1 for p in parts) and len({p[common] for p in parts}) == 1:
        common += 1
    return ["/".join(p[common:]) for p in parts]


def run_section(
    info: RunInfo, config: ReportConfig, anchor: str, cache: ExamplesCache | None = None
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.modified))
    head = (
        f'<section class="run" id="{esc(anchor)}"><h2>{esc(info.path)} {badge(info.status)}</h2>'
        f'<p class="meta">{esc(info.kind)} run, task {esc(info.task or "-")}, model '
        f"{esc(info.model or '-')}, last modified {esc(when)}</p>"
        + (note(info.note) if info.note else "")
    )
    parts = [sections.results(info.path)]
    if info.kind == "label":
        parts.append(sections.label_sections(info, config.examples, config.texts, cache))
    elif info.kind == "eval":
        parts.append(sections.eval_sections(info))
    elif info.kind == "w2s":
        parts.append(sections.w2s_sections(info))
    elif info.kind == "train":
        parts.append(sections.train_sections(info))
    parts.append(sections.other_plots(info.path))
    details = sections.metrics(info.path) + sections.configuration(info)
    return head + "".join(parts) + f'<div class="grid">{details}</div></section>'


def render(runs: Sequence[RunInfo], config: ReportConfig) -> str:
    """The report page for `runs` as an HTML string."""
    title = (
        f"elicit report: {runs[0].path}" if len(runs) == 1 else f"elicit report: {len(runs)} runs"
    )
    body = [f"<h1>{esc(title)}</h1>",
            f'<p class="meta">written {esc(time.strftime("%Y-%m-%d %H:%M"))}</p>']  # fmt: skip
    anchors = [f"run-{i}" for i in range(len(runs))]
    if len(runs) > 1:
        index = [
            (f'<a href="#{a}">{esc(r.path)}</a>', esc(r.kind), badge(r.status), esc(r.task or "-"),
             esc(r.model or "-"), esc(r.numbers_text()))
            for a, r in zip(anchors, runs, strict=True)
        ]  # fmt: skip
        body.append("<h2>Runs</h2>")
        body.append(table(("run", "kind", "status", "task", "model", "key numbers"), index,
                          raw_cells=True, cls="wide"))  # fmt: skip
        rows = combined_rows(runs)
        if rows:
            body.append("<h2>Results of all runs</h2>" + combined_table(rows))
            body.append(combined_bars(runs, rows))
    cache: ExamplesCache = {}
    for a, info in zip(anchors, runs, strict=True):
        body.append(run_section(info, config, a, cache))
    return page(title, "".join(body))


def write_report(paths: Sequence[str | Path], config: ReportConfig) -> tuple[Path, list[RunInfo]]:
    """Write the report for the runs named by `paths`; returns (page path, runs shown)."""
    runs = collect(paths)
    out = Path(config.out) if config.out else default_out(runs)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; pass a file name such as {out}/report.html")
    atomic_write_text(out, render(runs, config))
    return out, runs


__all__ = ["REPORT_FILE", "ReportConfig", "collect", "render", "write_report"]
