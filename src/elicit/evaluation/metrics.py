"""Classification metrics on label log-odds, with uncertainty.

All functions take scores s = log P(True) - log P(False) and gold labels in {0, 1}.

- accuracy: predict True when s > 0 (the model's own decision).
- calibrated accuracy: predict True for the half of the examples with the highest scores
  (threshold at the median score). It uses no gold labels, and removes the constant bias
  toward one label word that small base models have, which otherwise dominates zero-shot
  accuracy.
- AUROC: threshold-free ranking quality.

`paired_gain` compares two models answering the same questions (before and after training):
the gain in accuracy with an interval for paired proportions, and the exact McNemar test.
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


@dataclass(frozen=True)
class PairedGain:
    """Accuracy after minus before on the same n questions (`paired_gain`).

    fixed: questions wrong before and right after; broken: right before, wrong after. Only
    these discordant questions carry information about the difference.
    """

    n: int
    fixed: int
    broken: int
    gain: float
    ci: Interval
    p_value: float  # exact two-sided McNemar test of "no difference"


def paired_gain(before: Sequence[bool], after: Sequence[bool], z: float = 1.96) -> PairedGain:
    """The gain in accuracy from `before` to `after` (per-question correctness, same order).

    Interval: Bonett and Price's adjusted Wald interval for a difference of paired
    proportions (one pseudo-count added to each discordant cell, which keeps its coverage
    near 95% at small counts where the plain Wald interval is too narrow); clipped to [-1, 1].
    p: exact McNemar, 2 * P(X <= min(fixed, broken)) for X ~ Binomial(fixed + broken, 1/2).
    """
    if len(before) != len(after):
        raise ValueError(f"before has {len(before)} answers and after {len(after)}")
    n = len(before)
    if n == 0:
        return PairedGain(0, 0, 0, math.nan, Interval(math.nan, math.nan), math.nan)
    fixed = sum(1 for b, a in zip(before, after, strict=True) if a and not b)
    broken = sum(1 for b, a in zip(before, after, strict=True) if b and not a)
    p12, p21 = (fixed + 1) / (n + 2), (broken + 1) / (n + 2)
    centre = p12 - p21
    half = z * math.sqrt(max(0.0, p12 + p21 - centre * centre) / (n + 2))
    discordant = fixed + broken
    tail = sum(math.comb(discordant, k) for k in range(min(fixed, broken) + 1))
    p_value = min(1.0, 2 * tail / 2**discordant) if discordant else 1.0
    return PairedGain(
        n=n,
        fixed=fixed,
        broken=broken,
        gain=(fixed - broken) / n,
        ci=Interval(max(-1.0, centre - half), min(1.0, centre + half)),
        p_value=p_value,
    )


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
