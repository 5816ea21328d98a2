"""Metrics against hand-computed values and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from elicit.evaluation.metrics import (
    accuracy,
    auroc,
    calibrated_accuracy,
    median_predictions,
    wilson_interval,
)


def test_accuracy_threshold_zero() -> None:
    assert accuracy([1.0, -1.0, 0.5, -0.1], [1, 0, 0, 0]) == 0.75
    # score exactly 0 predicts False
    assert accuracy([0.0], [0]) == 1.0


def test_calibrated_accuracy_removes_constant_bias() -> None:
    scores = np.array([5.1, 5.3, 5.0, 5.4])  # always "True" at threshold 0
    gold = [0, 1, 0, 1]
    assert accuracy(scores, gold) == 0.5
    assert calibrated_accuracy(scores, gold) == 1.0
    assert median_predictions([3.0, 1.0, 2.0]).tolist() == [1, 0, 1]


def test_auroc_hand_values() -> None:
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auroc([1.0, 1.0], [0, 1]) == 0.5  # tie counts half
    assert math.isnan(auroc([1.0, 2.0], [1, 1]))


def test_wilson_interval() -> None:
    ci = wilson_interval(50, 100)
    assert ci.low == pytest.approx(0.4038, abs=1e-3)
    assert ci.high == pytest.approx(0.5962, abs=1e-3)
    assert wilson_interval(0, 10).low == 0.0
    assert wilson_interval(10, 10).high == 1.0
    for n in range(1, 300):  # rounding must never leave p outside its interval
        for k in (0, n):
            ci = wilson_interval(k, n)
            assert ci.low <= k / n <= ci.high, (k, n)
    assert math.isnan(wilson_interval(0, 0).low)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="equal length"):
        accuracy([1.0], [1, 0])
    with pytest.raises(ValueError, match="0 or 1"):
        accuracy([1.0], [2])
    with pytest.raises(ValueError, match="NaN"):
        auroc([float("nan"), 1.0], [0, 1])
    assert math.isnan(accuracy([], []))
