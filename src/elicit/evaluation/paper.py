"""The ICM paper's own accuracies, shown next to ours so users see the scale gap.

Source: Wen et al. 2025, "Unsupervised Elicitation of Language Models" (arXiv 2506.10139),
Figure 1, values read off the figure (as recorded in ../shared/DESIGN.md). These are
*fine-tuned* Llama models (8B for GSM8K-verification, 70B for TruthfulQA and Alpaca), scored
on the paper's test sets; elicit's `eval` measures a base model prompting in context. The
numbers are context, never a target a small model is expected to reach.

Keys are elicit's method names: "zero-shot", "zero-shot-chat", "golden", "icm", and "human"
for Alpaca's human preference labels (pass them as `--labels human=PATH` to compare).
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER_SOURCE = "Wen et al. 2025 (arXiv 2506.10139), Fig. 1, values read off the figure"


@dataclass(frozen=True)
class PaperResult:
    """Accuracy (%) per method for one task, as the paper reports it."""

    task: str
    model: str
    accuracy: dict[str, float]

    @property
    def label(self) -> str:
        return f"paper ({self.model}, fine-tuned)"


#: elicit task name -> the paper's Figure 1 numbers for it.
PAPER_FIG1: dict[str, PaperResult] = {
    "gsm8k-verification": PaperResult(
        "gsm8k-verification",
        "Llama 8B",
        {"zero-shot": 48.0, "zero-shot-chat": 64.7, "golden": 81.4, "icm": 81.0},
    ),
    "truthfulqa": PaperResult(
        "truthfulqa",
        "Llama 70B",
        {"zero-shot": 60.3, "zero-shot-chat": 74.0, "golden": 92.1, "icm": 90.9},
    ),
    "alpaca-comparison": PaperResult(
        "alpaca-comparison",
        "Llama 70B",
        {"zero-shot": 49.6, "zero-shot-chat": 66.6, "human": 65.5, "icm": 68.0},
    ),
}


def paper_result(task: str) -> PaperResult | None:
    """The paper's numbers for `task`, or None when the paper reports none for it."""
    return PAPER_FIG1.get(task)
