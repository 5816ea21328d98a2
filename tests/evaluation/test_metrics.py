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
    paired_gain,
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


def test_paired_gain_counts_discordant_questions_and_tests_them_exactly() -> None:
    before = [True] * 41 + [False] * 14 + [True] * 6 + [False] * 39
    after = [True] * 41 + [True] * 14 + [False] * 6 + [False] * 39
    g = paired_gain(before, after)
    assert (g.n, g.fixed, g.broken) == (100, 14, 6)
    assert g.gain == pytest.approx(0.08)
    assert g.p_value == pytest.approx(0.11532, abs=1e-5)  # 2 * P(Bin(20, 1/2) <= 6)
    assert g.ci.low < 0 < g.gain < g.ci.high < 0.2
    same = paired_gain(before, before)
    assert (same.gain, same.p_value, same.fixed, same.broken) == (0.0, 1.0, 0, 0)
    assert same.ci.low < 0 < same.ci.high  # no discordant question is not proof of no effect
    flipped = paired_gain(after, before)
    assert flipped.gain == -g.gain and flipped.p_value == g.p_value
    assert flipped.ci.low == pytest.approx(-g.ci.high) and flipped.ci.high == pytest.approx(
        -g.ci.low
    )
    assert paired_gain([True] * 10, [False] * 10).p_value == pytest.approx(2 / 2**10)
    assert math.isnan(paired_gain([], []).gain)
    with pytest.raises(ValueError, match="before has 2 answers"):
        paired_gain([True, False], [True])


def test_paired_gain_interval_covers_the_true_gain() -> None:
    """About 95% of intervals contain the true difference, at the sizes LMSI runs use."""
    rng = np.random.default_rng(0)
    # (n, P(fixed), P(broken), the most coverage allowed: near 95%, not a uselessly wide interval;
    # with nothing ever broken it is conservative, as the adjustment makes it)
    for n, p_fixed, p_broken, most in ((100, 0.14, 0.06, 0.975), (40, 0.05, 0.05, 0.985),
                                       (100, 0.02, 0.0, 1.0)):  # fmt: skip
        covered = 0
        for _ in range(2000):
            cell = rng.choice(3, size=n, p=[p_fixed, p_broken, 1 - p_fixed - p_broken])
            before, after = cell == 1, cell == 0  # fixed: wrong -> right; broken: right -> wrong
            g = paired_gain(list(before), list(after))
            covered += g.ci.low <= p_fixed - p_broken <= g.ci.high
        assert 0.93 <= covered / 2000 <= most, (n, p_fixed, p_broken, covered / 2000)
