"""The energy plot of a label run: energy and label agreement with gold against iterations.

Reads only trace rows (the dicts written to trace.jsonl), so it can redraw any finished run:

    plot_trace(read_jsonl("runs/label/.../trace.jsonl"), "energy_plot.png", title="sst2")

Batches are drawn one after the other on a shared step axis (batch boundaries dashed).
Agreement is drawn on a second axis when the rows carry it (the data had gold labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from elicit.evaluation.plots import save_figure


def plot_trace(rows: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> None:
    # A bare Figure renders with the Agg canvas and leaves pyplot's global backend alone.
    from matplotlib.figure import Figure

    steps = list(range(1, len(rows) + 1))
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    ax.plot(steps, [r["energy"] for r in rows], color="tab:blue", lw=1.2, label="energy U")
    ax.set_xlabel("search step (iterations, batches one after another)")
    ax.set_ylabel("energy U = alpha * MP - I", color="tab:blue")
    for k in range(1, len(rows)):
        if rows[k].get("batch", 0) != rows[k - 1].get("batch", 0):
            ax.axvline(k + 0.5, color="grey", ls="--", lw=0.8)
    handles, labels = ax.get_legend_handles_labels()
    agree = [(s, r["agreement"]) for s, r in zip(steps, rows, strict=True) if "agreement" in r]
    if agree:
        ax2 = ax.twinx()
        ax2.plot(
            [s for s, _ in agree],
            [a for _, a in agree],
            color="tab:orange",
            lw=1.2,
            label="agreement with gold (labelled so far)",
        )
        ax2.set_ylim(0, 1)
        ax2.set_ylabel("label agreement with gold", color="tab:orange")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if handles:
        ax.legend(handles, labels, loc="lower right", fontsize=8)
    ax.set_title(title or "ICM search")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
