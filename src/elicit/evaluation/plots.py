"""The accuracy bar chart of `elicit eval`, in the style of the ICM paper's Figure 1.

One bar per method (accuracy at threshold 0, error bar = 95% Wilson interval), a diamond for
the calibrated accuracy (median threshold), a dotted line at the majority-class rate, and,
for tasks the paper reports, the paper's own numbers as hatched grey bars beside ours. The
paper's bars are fine-tuned Llama 8B/70B models; ours are a base model prompting in context,
and the legend says so.

Drawn on a bare `matplotlib.figure.Figure` (no pyplot), so the library never touches global
plotting state or needs a display.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from elicit.evaluation.paper import PaperResult
from elicit.runs import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from elicit.evaluation.summary import EvalSummary

#: Colours per method, close to the paper's Figure 1 palette; other label sources get BLUE.
COLOURS = {
    "zero-shot": "#c9b3e6",
    "zero-shot-chat": "#8e6cc4",
    "golden": "#e8b04a",
    "icm": "#3a9e8f",
    "random": "#a0a0a0",
    "human": "#6a8fd0",
}
BLUE = "#6a8fd0"
PAPER_COLOUR = "#dddddd"


def _slots(summary: EvalSummary, paper: PaperResult | None) -> list[str]:
    ours = [r.method for r in summary.results]
    extra = [m for m in (paper.accuracy if paper else {}) if m not in ours]
    return ours + extra


def plot_accuracy(summary: EvalSummary, path: str | Path) -> Path:
    """Draw the chart for `summary` into `path` (PNG, written atomically). Returns the path."""
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    paper = summary.paper
    slots = _slots(summary, paper)
    by_method = {r.method: r for r in summary.results}
    width = 0.38 if paper is not None else 0.6
    fig = Figure(figsize=(max(5.0, 1.1 * len(slots) + 1.5) + 3.0, 4.6), dpi=110)
    ax = fig.add_subplot(1, 1, 1)

    for x, method in enumerate(slots):
        xo = x - width / 2 if paper is not None else float(x)
        r = by_method.get(method)
        if r is not None and r.skipped is None and r.accuracy is not None:
            acc = 100 * r.accuracy
            lo = r.metrics.get("accuracy_ci_low")
            hi = r.metrics.get("accuracy_ci_high")
            yerr = None
            if lo is not None and hi is not None and not math.isnan(lo):
                yerr = [[acc - 100 * lo], [100 * hi - acc]]
            ax.bar(xo, acc, width, color=COLOURS.get(method, BLUE), edgecolor="black", lw=0.6)
            ax.errorbar(xo, acc, yerr=yerr, fmt="none", ecolor="black", capsize=3, lw=0.8)
            ax.text(xo, 1.5, f"{acc:.1f}", ha="center", va="bottom", fontsize=8)
            cal = r.metrics.get("calibrated_accuracy")
            if cal is not None and not math.isnan(cal):
                ax.plot(xo, 100 * cal, marker="D", color="black", ms=5, ls="none")
        elif r is not None:
            ax.text(xo, 3, "skipped", ha="center", va="bottom", fontsize=8, rotation=90)
        if paper is not None and method in paper.accuracy:
            value = paper.accuracy[method]
            xp = x + width / 2
            ax.bar(xp, value, width, color=PAPER_COLOUR, edgecolor="#555555", hatch="//", lw=0.6)
            ax.text(xp, value + 1, f"{value:.1f}", ha="center", va="bottom", fontsize=8)

    majority = _majority(summary)
    if majority is not None:
        ax.axhline(100 * majority, color="#444444", ls=":", lw=1)

    ax.set_xticks(range(len(slots)))
    ax.set_xticklabels(slots, rotation=20, ha="right")
    ax.set_xlim(-0.6, len(slots) - 0.4)
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(
        f"{summary.task}: {summary.n} held-out claims, seed {summary.seed}\n"
        f"{summary.model}, {summary.n_demos} in-context demos (no fine-tuning)",
        fontsize=10,
    )
    ax.spines[["top", "right"]].set_visible(False)
    handles: list[Artist] = [
        Patch(facecolor="white", edgecolor="black", label=f"ours: {summary.model}, in context"),
        Line2D([], [], marker="D", color="black", ls="none", label="ours, median threshold"),
    ]
    if majority is not None:
        handles.append(Line2D([], [], color="#444444", ls=":", label="majority class"))
    if paper is not None:
        handles.append(
            Patch(facecolor=PAPER_COLOUR, edgecolor="#555555", hatch="//", label=paper.label)
        )
    ax.legend(
        handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False
    )
    fig.tight_layout()
    return save_figure(fig, Path(path))


def _majority(summary: EvalSummary) -> float | None:
    for r in summary.results:
        frac = r.metrics.get("frac_gold_true")
        if frac is not None and not math.isnan(frac):
            return max(frac, 1 - frac)
    return None


def save_figure(fig: Figure, path: str | Path, dpi: float | None = None) -> Path:
    """Write `fig` to `path` as PNG atomically (`runs.atomic_write`). Returns the path."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi or "figure"))
