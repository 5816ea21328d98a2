"""Plots of a self-improvement run, drawn from its tidy rows and sampled paths.

- `plot_before_after(rows, path)`: held-out accuracy of greedy and self-consistency decoding,
  before (base model) and after LMSI fine-tuning, with 95% Wilson intervals, beside the LMSI
  paper's PaLM-540B numbers for the task where it has them. Reads only `ResultRow` dicts, so it
  can redraw any run: `plot_before_after(read_jsonl("runs/self-improve/.../results.jsonl"), p)`.
- `plot_agreement(rows, path)`: histogram of the majority's agreement (the paper's confidence)
  over the unlabeled questions, stacked by whether the majority answer was right. A useful
  confidence is one where the right answers pile up at high agreement.

Drawn on bare `matplotlib.figure.Figure`s (no pyplot, no display, no global state).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from elicit.evaluation.plots import save_figure

#: Self-consistency accuracy before -> after in the LMSI paper (PaLM-540B, Table 3).
PAPER = {"gsm8k": (74.4, 82.1)}
STAGES = (("before", ""), ("after LMSI", "lmsi-"))
DECODINGS = ("greedy", "self-consistency")


def plot_before_after(rows: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    from matplotlib.figure import Figure

    acc = {r["method"]: r for r in rows if r.get("metric") == "accuracy"}
    fig = Figure(figsize=(7.5, 4.5), dpi=110)
    ax = fig.add_subplot()
    width = 0.35
    colours = ("#c9b3e6", "#3a9e8f")
    for s, (stage, prefix) in enumerate(STAGES):
        xs, ys, lo, hi = [], [], [], []
        for d, decoding in enumerate(DECODINGS):
            row = acc.get(prefix + decoding)
            if row is None or row.get("value") is None:
                continue
            v = 100 * float(row["value"])
            xs.append(d + (s - 0.5) * width)
            ys.append(v)
            lo.append(v - 100 * float(row.get("ci_low") or row["value"]))
            hi.append(100 * float(row.get("ci_high") or row["value"]) - v)
        if xs:
            n = next(iter(acc.values()))["n"]
            ax.bar(xs, ys, width, color=colours[s], label=f"{stage} (n={n})")
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor="black", capsize=3, lw=0.8)
            for x, y in zip(xs, ys, strict=True):
                ax.text(x, y + 1, f"{y:.1f}", ha="center", va="bottom", fontsize=8)
    task = next((str(r["task"]) for r in rows), "")
    if task in PAPER:
        before, after = PAPER[task]
        ax.hlines(before, 0.6, 1.4, colors="grey", linestyles=":")
        ax.hlines(after, 0.6, 1.4, colors="black", linestyles="--")
        ax.text(1.42, after, f"paper after {after}", va="center", fontsize=7)
        ax.text(1.42, before, f"paper before {before}", va="center", fontsize=7)
        ax.set_xlim(-0.6, 2.0)
    ax.set_xticks(range(len(DECODINGS)), list(DECODINGS))
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper left", fontsize=8)
    model = next((str(r["model"]) for r in rows), "")
    ax.set_title(title or f"{task}: self-improvement (LMSI), {model}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_agreement(
    agreements: Sequence[float], correct: Sequence[bool | None], path: str | Path, title: str = ""
) -> Path:
    """Histogram of agreement; `correct[i]` None when question i has no gold answer."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.2), dpi=110)
    ax = fig.add_subplot()
    bins = [i / 10 for i in range(11)]
    right = [a for a, c in zip(agreements, correct, strict=True) if c is True]
    wrong = [a for a, c in zip(agreements, correct, strict=True) if c is False]
    unknown = [a for a, c in zip(agreements, correct, strict=True) if c is None]
    data, labels, colours = [], [], []
    for values, label, colour in (
        (right, "majority correct", "#3a9e8f"),
        (wrong, "majority wrong", "#d0675a"),
        (unknown, "no gold", "#a0a0a0"),
    ):
        if values:
            data.append(values)
            labels.append(f"{label} ({len(values)})")
            colours.append(colour)
    if data:
        ax.hist(data, bins=bins, stacked=True, label=labels, color=colours, edgecolor="white")
        ax.legend(fontsize=8)
    ax.set_xlabel("agreement: share of sampled paths reaching the majority answer")
    ax.set_ylabel("questions")
    ax.set_xlim(0, 1)
    ax.set_title(title or "self-consistency agreement on the unlabeled questions", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
