"""Consistency rules, inconsistent pairs and the consistent relabellings of a pair."""

from __future__ import annotations

import pytest

from elicit.search.consistency import ConsistencyRule, consistent_relabellings, violates
from elicit.tasks.base import Consistency, Example


def ex(uid: str, group: str, key: str = "") -> Example:
    return Example(uid, f"{uid}\nI think this claim is", group, key)


A, B, C = ex("a", "g", "5"), ex("b", "g", "7"), ex("c", "g", "5")
OTHER = ex("d", "h", "7")


@pytest.mark.parametrize(
    ("x", "y", "labels", "expected"),
    [
        (A, B, (1, 1), True),  # two different answers cannot both be right
        (A, B, (1, 0), False),
        (A, B, (0, 0), False),  # both wrong is fine
        (A, C, (1, 0), True),  # same answer must share the label
        (A, C, (0, 0), False),
        (A, OTHER, (1, 1), False),  # other group: no constraint
    ],
)
def test_answer_rule(x: Example, y: Example, labels: tuple[int, int], expected: bool) -> None:
    assert violates(x, labels[0], y, labels[1], Consistency.ANSWER) is expected
    assert violates(y, labels[1], x, labels[0], Consistency.ANSWER) is expected


def test_answer_rule_ignores_empty_keys() -> None:
    assert not violates(ex("a", "g"), 1, ex("b", "g", "7"), 1, Consistency.ANSWER)
    assert not violates(ex("a", "g"), 1, ex("b", "g"), 0, Consistency.ANSWER)


def test_comparison_rule_exactly_one_order_holds() -> None:
    ab, ba = ex("ab", "p", "ab"), ex("ba", "p", "ba")
    c = Consistency.COMPARISON
    assert violates(ab, 1, ba, 1, c) and violates(ab, 0, ba, 0, c)
    assert not violates(ab, 1, ba, 0, c) and not violates(ab, 0, ba, 1, c)
    assert violates(ab, 1, ex("ab2", "p", "ab"), 0, c)  # duplicate order must agree


def test_none_rule_never_violates() -> None:
    assert not any(violates(A, x, B, y, Consistency.NONE) for x in (0, 1) for y in (0, 1))


def test_consistent_relabellings() -> None:
    assert consistent_relabellings(A, B, Consistency.ANSWER) == [(0, 0), (0, 1), (1, 0)]
    assert consistent_relabellings(A, C, Consistency.ANSWER) == [(0, 0), (1, 1)]
    ab, ba = ex("ab", "p", "ab"), ex("ba", "p", "ba")
    assert consistent_relabellings(ab, ba, Consistency.COMPARISON) == [(0, 1), (1, 0)]
    assert consistent_relabellings(A, B, Consistency.NONE) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_inconsistent_pairs_counts_unordered_labelled_pairs() -> None:
    pool = [A, B, C, OTHER, ex("e", "h", "9")]
    rule = ConsistencyRule(pool, Consistency.ANSWER)
    # a=1, b=1 (different answers), c=0 (same answer as a): pairs (0,1) and (0,2).
    assert rule.inconsistent_pairs({0: 1, 1: 1, 2: 0}) == [(0, 1), (0, 2)]
    assert rule.count({0: 1, 1: 1, 2: 0, 3: 1, 4: 1}) == 3  # + (3, 4) in group h
    assert rule.count({0: 1}) == 0  # an unlabelled partner constrains nothing
    assert rule.count({}) == 0
    assert rule.members[0] == (0, 1, 2) and rule.members[3] == (3, 4)
    assert ConsistencyRule(pool, Consistency.NONE).count({0: 1, 1: 1}) == 0
