"""PGR, its stability flag and the agreement diagnostics."""

from __future__ import annotations

import math

import pytest

from elicit.w2s.pgr import agreement, pgr, pgr_summary


def test_pgr_values_and_edge_cases() -> None:
    assert pgr(0.6, 0.7, 0.8) == pytest.approx(0.5)
    assert pgr(0.6, 0.6, 0.8) == 0.0
    assert pgr(0.6, 0.9, 0.8) == pytest.approx(1.5)  # a student above the ceiling
    assert pgr(0.6, 0.5, 0.8) == pytest.approx(-0.5)
    assert math.isnan(pgr(0.7, 0.8, 0.7))  # ceiling = weak: undefined
    assert math.isnan(pgr(0.8, 0.8, 0.7))  # ceiling below weak: dropped, as the paper does


def test_summary_is_stable_for_a_clear_gap() -> None:
    s = pgr_summary([0.6, 0.62, 0.61], [0.7, 0.71, 0.69], [0.8, 0.81, 0.82])
    assert s.values == pytest.approx((0.5, 0.9 / 1.9, 0.8 / 2.1))
    assert s.mean == pytest.approx(sum(s.values) / 3)
    assert not s.unstable and s.reason == ""
    assert s.to_dict()["pgr_mean"] == pytest.approx(s.mean)


def test_summary_flags_small_or_missing_gaps() -> None:
    tiny = pgr_summary([0.70, 0.70], [0.71, 0.70], [0.71, 0.715])
    assert tiny.unstable and "mean gap" in tiny.reason
    missing = pgr_summary([0.7, 0.6], [0.72, 0.7], [0.69, 0.8])
    assert missing.unstable and "ceiling <= weak" in missing.reason
    assert math.isnan(missing.values[0]) and missing.mean == pytest.approx(0.5)
    noisy = pgr_summary([0.5, 0.5, 0.5], [0.6, 0.6, 0.6], [0.55, 0.95, 0.53])
    assert noisy.unstable and "standard errors" in noisy.reason
    with pytest.raises(ValueError):
        pgr_summary([], [], [])
    one = pgr_summary([0.5], [0.6], [0.7])
    assert math.isnan(one.sd) and one.to_dict()["pgr_sd"] is None


def test_agreement_split_by_supervisor_correctness() -> None:
    gold = [1, 1, 0, 0, 1]
    weak = [1, 0, 0, 1, 1]  # right on 0, 2, 4; wrong on 1, 3
    student = [1, 1, 0, 1, 0]
    a = agreement(student, weak, gold)
    assert a.overall == pytest.approx(3 / 5)
    assert a.supervisor_right == pytest.approx(2 / 3)  # agrees on 0 and 2, not 4
    assert a.supervisor_wrong == pytest.approx(1 / 2)  # copies the mistake on 3, not on 1
    assert (a.n_right, a.n_wrong) == (3, 2)
    all_right = agreement([1, 0], [1, 0], [1, 0])
    assert math.isnan(all_right.supervisor_wrong)
    with pytest.raises(ValueError):
        agreement([1], [1, 0], [1, 0])
