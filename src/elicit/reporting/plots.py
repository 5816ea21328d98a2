"""Plots the HTML report draws itself, as PNG bytes ready to embed.

Runs already write their own plots (energy_plot.png, accuracy.png, w2s.png, ...) and the report
embeds those as they are. This module draws what no run writes: curves of an interrupted label
run (from its checkpoints' traces), PGR bars of a w2s run, a train run's loss, and the bar chart
comparing methods across several runs. Everything reads tidy rows or trace rows only.

Drawn on bare `matplotlib.figure.Figure`s with the Agg canvas: no pyplot, no display, no global
state touched.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BAR = "#3a9e8f"
OTHER = "#6a8fd0"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def trace_png(rows: Sequence[Mapping[str, Any]], title: str) -> bytes:
    """Energy and agreement-with-gold curves of a label run's trace rows.

    The search module's own `plot_trace` draws it (the same figure as energy_plot.png); it
    writes to a path, so it goes through a temporary file.
    """
    from elicit.search.plot import plot_trace

    with tempfile.TemporaryDirectory(prefix="elicit-report-") as tmp:
        path = Path(tmp) / "trace.png"
        plot_trace(rows, path, title=title)
        return path.read_bytes()


def bars_png(
    values: Sequence[tuple[str, float]],
    title: str,
    ylabel: str,
    *,
    percent: bool = True,
    highlight: str | None = None,
) -> bytes:
    """One bar per (name, value); values in [0, 1] are drawn as percentages when `percent`."""
    from matplotlib.figure import Figure

    names = [n for n, _ in values]
    heights = [100 * v if percent else v for _, v in values]
    fig = Figure(figsize=(max(5.0, 0.7 * len(names) + 2.5), 4.2))
    ax = fig.add_subplot()
    colours = [BAR if highlight is None or n == highlight else OTHER for n in names]
    bars = ax.bar(range(len(names)), heights, color=colours)
    for bar, h in zip(bars, heights, strict=True):
        if math.isfinite(h):
            ax.annotate(f"{h:.1f}" if percent else f"{h:.3g}",
                        (bar.get_x() + bar.get_width() / 2, h), ha="center",
                        va="bottom" if h >= 0 else "top", fontsize=8)  # fmt: skip
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    if percent and all(0 <= h <= 100 for h in heights if math.isfinite(h)):
        ax.set_ylim(0, 105)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def grouped_bars_png(
    groups: Sequence[str], series: Mapping[str, Sequence[float]], title: str, ylabel: str
) -> bytes:
    """Bars per group (e.g. a run) and series (e.g. a method); NaN leaves a gap."""
    from matplotlib.figure import Figure

    n = max(1, len(series))
    width = 0.8 / n
    fig = Figure(figsize=(max(6.0, 0.5 * len(groups) * n + 3), 4.6))
    ax = fig.add_subplot()
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (n - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, [100 * v for v in values], width, label=name)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel + " (%)")
    # Headroom above 100% keeps the legend off the bars.
    ax.set_ylim(0, 100 + 8 * math.ceil(n / 4) + 5)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncols=min(4, n), loc="upper left")
    fig.tight_layout()
    return _png(fig)


def loss_png(rows: Sequence[Mapping[str, Any]], title: str) -> bytes:
    """Training loss per step (a train run's train_log.jsonl)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    ax.plot([r.get("step", i + 1) for i, r in enumerate(rows)], [r["loss"] for r in rows], lw=1.2)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


__all__ = ["bars_png", "grouped_bars_png", "loss_png", "trace_png"]
