"""Weak-to-strong plots in the paper's style, drawn from tidy result rows only.

- `plot_run`: one run: test accuracy per method with the weak and ceiling levels as lines,
  and student-supervisor agreement split by whether the supervisor was right.
- `plot_table`: many runs (tasks x seeds): accuracy per task and method (mean and sd over
  seeds), and PGR per task and loss.
- `plot_curve`: one run's training curves: test accuracy (and validation accuracy against the
  labels each student learns from) against the optimizer step, with the weak supervisor's and
  the ceiling's final test accuracy as lines and the early-stopping step marked.

Only rows of split "test" make the bars (easy-to-hard rows, split "test-hard"/"test-easy", and
curve rows, metric "curve_*", are other views of the same run).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from elicit.evaluation.plots import save_figure
from elicit.evaluation.results import ResultRow

ORDER = ("strong-zero-shot", "strong-gen-zero-shot", "weak", "probe-weak", "w2s-xent",
         "w2s-confidence", "w2s-confidence-code", "w2s-product", "w2s-xent+probe-gold",
         "w2s-confidence+probe-gold", "probe-gold", "e2h-easy-gold", "e2h-random-gold",
         "ceiling")  # fmt: skip
COLOURS = {
    "strong-zero-shot": "#c9b3e6",
    "strong-gen-zero-shot": "#b39ad6",
    "weak": "#a0a0a0",
    "probe-weak": "#b8b8b8",
    "w2s-xent": "#6a8fd0",
    "w2s-confidence": "#3a9e8f",
    "w2s-confidence-code": "#2f7f74",
    "w2s-product": "#8e6cc4",
    "w2s-xent+probe-gold": "#4b6fb0",
    "w2s-confidence+probe-gold": "#2a7e6f",
    "probe-gold": "#d99a3a",
    "e2h-easy-gold": "#c76b5a",
    "e2h-random-gold": "#d9a08f",
    "ceiling": "#e8b04a",
}


def _as_dicts(rows: Iterable[ResultRow | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [r.to_dict() if isinstance(r, ResultRow) else dict(r) for r in rows]


def _methods(present: Iterable[str]) -> list[str]:
    seen = set(present)
    return [m for m in ORDER if m in seen] + sorted(seen - set(ORDER))


def plot_run(rows: Iterable[ResultRow | Mapping[str, Any]], path: str | Path, title: str) -> Path:
    from matplotlib.figure import Figure

    data = [r for r in _as_dicts(rows) if r["split"] == "test"]
    acc = {r["method"]: r["value"] for r in data if r["metric"] == "accuracy"}
    agree: defaultdict[str, dict[str, float]] = defaultdict(dict)
    for r in data:
        if r["metric"].startswith("agreement"):
            agree[r["method"]][r["metric"]] = r["value"]
    fig = Figure(figsize=(10, 4), dpi=110)
    ax = fig.add_subplot(1, 2, 1)
    methods = _methods(acc)
    ax.bar(range(len(methods)), [100 * acc[m] for m in methods],
           color=[COLOURS.get(m, "#6a8fd0") for m in methods])  # fmt: skip
    for level, style in (("weak", ":"), ("ceiling", "--")):
        if level in acc:
            ax.axhline(100 * acc[level], color="black", linestyle=style, linewidth=1, label=level)
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax2 = fig.add_subplot(1, 2, 2)
    kinds = [("agreement", "all"), ("agreement_supervisor_right", "supervisor right"),
             ("agreement_supervisor_wrong", "supervisor wrong")]  # fmt: skip
    students = _methods(agree)
    width = 0.8 / max(1, len(kinds))
    for k, (metric, label) in enumerate(kinds):
        values = [100 * agree[m].get(metric, math.nan) for m in students]
        ax2.bar([i + k * width for i in range(len(students))], values, width, label=label)
    ax2.set_xticks([i + width for i in range(len(students))], students, rotation=30, ha="right")
    ax2.set_ylabel("agreement with the supervisor (%)")
    ax2.set_ylim(0, 100)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, Path(path))


def _mean_sd(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return math.nan, math.nan
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0


def plot_table(rows: Iterable[ResultRow | Mapping[str, Any]], path: str | Path) -> Path:
    """Accuracy (mean +- sd over seeds) per task and method, and PGR per task and loss."""
    from matplotlib.figure import Figure

    data = [r for r in _as_dicts(rows) if r["value"] is not None and r["split"] == "test"]
    tasks = sorted({r["task"] for r in data})
    by: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in data:
        by[(r["metric"], r["task"], r["method"])].append(float(r["value"]))
    fig = Figure(figsize=(11, 4), dpi=110)
    for panel, metric in enumerate(("accuracy", "pgr")):
        ax = fig.add_subplot(1, 2, panel + 1)
        methods = _methods(m for (k, _, m) in by if k == metric)
        width = 0.8 / max(1, len(methods))
        for j, method in enumerate(methods):
            stats = [_mean_sd(by.get((metric, t, method), [])) for t in tasks]
            scale = 100.0
            ax.bar([i + j * width for i in range(len(tasks))], [scale * m for m, _ in stats],
                   width, yerr=[scale * s for _, s in stats], capsize=2, label=method,
                   color=COLOURS.get(method, "#6a8fd0"))  # fmt: skip
        ax.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(tasks))], tasks)
        ax.set_ylabel("test accuracy (%)" if metric == "accuracy" else "PGR (%)")
        if metric == "pgr":
            ax.axhline(0, color="black", linewidth=0.8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, Path(path))


def plot_curve(rows: Iterable[ResultRow | Mapping[str, Any]], path: str | Path, title: str) -> Path:
    """Test accuracy vs optimizer step per student (solid), accuracy on the validation slice's
    training labels (dashed), weak and ceiling final test accuracy as lines, early stop marked."""
    from matplotlib.figure import Figure

    data = [r for r in _as_dicts(rows) if r["value"] is not None]
    final = {r["method"]: r["value"] for r in data
             if r["metric"] == "accuracy" and r["split"] == "test"}  # fmt: skip
    stops = {r["method"]: r["value"] for r in data if r["metric"] == "early_stop_step"}
    curves: defaultdict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in data:
        if r["metric"] == "curve_accuracy" and r["split"] == "test":
            curves[(r["method"], "test")].append((int(r["step"]), r["value"]))
        elif r["metric"] == "curve_label_accuracy":
            curves[(r["method"], "val")].append((int(r["step"]), r["value"]))
    fig = Figure(figsize=(7, 4.5), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    for method in _methods(m for m, _ in curves):
        colour = COLOURS.get(method, "#6a8fd0")
        for kind, style, label in (("test", "-", "test (gold)"),
                                   ("val", "--", "validation (its labels)")):  # fmt: skip
            points = sorted(curves.get((method, kind), []))
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, [100 * v for v in values], style, marker="o", markersize=3,
                        color=colour, label=f"{method}: {label}")  # fmt: skip
        if method in stops:
            ax.axvline(stops[method], color=colour, linewidth=0.8, alpha=0.6)
    for level, style in (("weak", ":"), ("ceiling", "-.")):
        if level in final:
            ax.axhline(100 * final[level], color="black", linestyle=style, linewidth=1,
                       label=f"{level} (final test)")  # fmt: skip
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title + (" (vertical lines: early-stopping step)" if stops else ""), fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return save_figure(fig, Path(path))


#: Points of `plot_sizes`: (strong student's parameters, mean, sd) per (metric, method).
SizePoints = dict[tuple[str, str], list[tuple[float, float, float]]]


def size_points(
    rows: Iterable[ResultRow | Mapping[str, Any]], sizes: Mapping[str, float]
) -> SizePoints:
    """Mean and sd over seeds of every (metric, method) of the test rows, per strong student
    of known size (rows carry a "strong" field; students missing from `sizes` are left out),
    in order of size. Of several rows of one seed (a rerun appended), the last counts."""
    latest: dict[tuple[str, str, str, Any], float] = {}
    for r in _as_dicts(rows):  # a rerun's rows replace the earlier rows of the same seed
        if r["value"] is None or r["split"] != "test" or r.get("step") is not None:
            continue
        if r.get("strong") in sizes:
            latest[(r["metric"], r["method"], str(r["strong"]), r.get("seed"))] = float(r["value"])
    by: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for (metric, method, strong, _), value in latest.items():
        by[(metric, method, strong)].append(value)
    points: SizePoints = defaultdict(list)
    for (metric, method, strong), values in sorted(by.items(), key=lambda kv: sizes[kv[0][2]]):
        points[(metric, method)].append((sizes[strong], *_mean_sd(values)))
    return dict(points)


def plot_sizes(
    rows: Iterable[ResultRow | Mapping[str, Any]],
    path: str | Path,
    sizes: Mapping[str, float],
    title: str,
    metric: str = "accuracy",
) -> Path:
    """The paper's headline figure: test accuracy (mean +- sd over seeds) of the weak supervisor,
    the students and the ceiling against the strong student's size (log scale), and PGR per
    loss against the same axis (`size_points`). metric "auroc": AUROC and PGR on AUROC."""
    from matplotlib.figure import Figure

    points = size_points(rows, sizes)
    if not points:
        raise ValueError(f"no test rows of the strong models {', '.join(sizes)}")
    ticks = sorted({x for series in points.values() for x, _, _ in series})
    names = {size: name for name, size in sizes.items()}
    fig = Figure(figsize=(11, 4), dpi=110)
    pgr = "pgr" if metric == "accuracy" else f"pgr_{metric}"
    panels = (
        (metric, ("weak", "w2s-xent", "w2s-confidence", "ceiling"), f"test {metric} (%)"),
        (pgr, ("w2s-xent", "w2s-confidence"), f"PGR on {metric} (%)"),
    )
    for panel, (shown, methods, label) in enumerate(panels):
        ax = fig.add_subplot(1, 2, panel + 1)
        for method in methods:
            series = points.get((shown, method), [])
            if series:
                xs, means, sds = zip(*series, strict=True)
                ax.errorbar(xs, [100 * m for m in means], yerr=[100 * s for s in sds],
                            marker="o", capsize=3, label=method,
                            color=COLOURS.get(method, "#6a8fd0"))  # fmt: skip
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{x / 1e6:.0f}M\n{names[x]}" for x in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_xlabel("strong student (parameters)")
        ax.set_ylabel(label)
        if shown == pgr:
            ax.axhline(0, color="black", linewidth=0.8)
            ax.axhline(100, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(title if panel == 0 else "performance gap recovered")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, Path(path))
