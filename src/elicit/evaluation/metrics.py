"""Classification metrics on label log-odds, with uncertainty.

All functions take scores s = log P(True) - log P(False) and gold labels in {0, 1}.

- accuracy: predict True when s > 0 (the model's own decision).
- calibrated accuracy: predict True for the half of the examples with the highest scores
  (threshold at the median score). It uses no gold labels, and removes the constant bias
  toward one label word that small base models have, which otherwise dominates zero-shot
  accuracy.
- AUROC: threshold-free ranking quality.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson_interval(successes: int, n: int, z: float = 1.96) -> Interval:
    """95% Wilson score interval for a binomial proportion (sensible at 0, n and small n)."""
    if n == 0:
        return Interval(math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Rounding can put an end a hair inside p (at p = 1 with n = 100: 0.9999999999999999);
    # the interval always contains the observed proportion.
    return Interval(max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def _check(
    scores: Sequence[float] | np.ndarray, gold: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(gold, dtype=np.int64)
    if s.shape != g.shape or s.ndim != 1:
        raise ValueError(f"scores {s.shape} and gold {g.shape} must be 1-d of equal length")
    if not np.isin(g, (0, 1)).all():
        raise ValueError("gold labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    return s, g


def accuracy(scores: Sequence[float] | np.ndarray, gold: Sequence[int] | np.ndarray) -> float:
    s, g = _check(scores, gold)
    return float(((s > 0).astype(np.int64) == g).mean()) if len(s) else math.nan


def median_predictions(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Label the top half by score True (ties broken by position), without gold."""
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    pred = np.zeros(len(s), dtype=np.int64)
    pred[order[: (len(s) + 1) // 2]] = 1
    return pred


def calibrated_accuracy(
    scores: Sequence[float] | np.ndarray, gold: Sequence[int] | np.ndarray
) -> float:
    s, g = _check(scores, gold)
    return float((median_predictions(s) == g).mean()) if len(s) else math.nan


def auroc(scores: Sequence[float] | np.ndarray, gold: Sequence[int] | np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with ties counted half); NaN for one class."""
    s, g = _check(scores, gold)
    pos, neg = s[g == 1], s[g == 0]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    # Average ranks handle ties exactly.
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[g == 1].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def summarize(scores: np.ndarray, gold: list[int]) -> dict[str, float | None]:
    """The metrics every zero-shot score is reported with (`elicit score`, `elicit eval`'s
    methods, a trained classifier's test scores): accuracy with its Wilson interval,
    calibrated accuracy, AUROC and the score's balance."""
    n = len(gold)
    correct = int(((scores > 0).astype(int) == np.asarray(gold)).sum())
    ci = wilson_interval(correct, n)
    return {
        "accuracy": accuracy(scores, gold),
        "accuracy_ci_low": ci.low,
        "accuracy_ci_high": ci.high,
        "calibrated_accuracy": calibrated_accuracy(scores, gold),
        "auroc": auroc(scores, gold),
        "frac_predicted_true": float((scores > 0).mean()),
        "frac_gold_true": float(np.mean(gold)),
        "mean_score": float(scores.mean()),
    }
