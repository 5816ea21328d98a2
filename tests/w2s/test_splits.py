"""Weak-to-strong data: halves and the validation slice keep groups whole, the test set is
balanced."""

from __future__ import annotations

import pytest

from elicit.errors import ConfigError
from elicit.tasks.base import Example, TaskData
from elicit.w2s.splits import balance, hold_out, split_halves


def data(n: int, group_size: int = 1, true_every: int = 2) -> TaskData:
    examples = tuple(
        Example(uid=f"u{i}", prompt=f"claim {i}", group=f"g{i // group_size}") for i in range(n)
    )
    gold = {f"u{i}": int(i % true_every == 0) for i in range(n)}
    return TaskData(task="t", examples=examples, gold=gold)


def test_halves_partition_by_group_and_are_seeded() -> None:
    d = data(30, group_size=3)
    a, b = split_halves(d, seed=1)
    assert {e.uid for e in a} | {e.uid for e in b} == {e.uid for e in d}
    assert not {e.group for e in a} & {e.group for e in b}
    assert abs(len(a) - len(b)) <= 3
    assert set(a.gold) == {e.uid for e in a}
    again, _ = split_halves(d, seed=1)
    other, _ = split_halves(d, seed=2)
    assert [e.uid for e in again] == [e.uid for e in a]
    assert [e.uid for e in other] != [e.uid for e in a]


def test_halves_need_two_groups() -> None:
    with pytest.raises(ConfigError, match="larger --n"):
        split_halves(data(4, group_size=4), seed=0)


def test_balance_undersamples_the_larger_class() -> None:
    d = data(20, true_every=4)  # 5 True, 15 False
    b = balance(d, seed=0)
    labels = [b.gold[e.uid] for e in b]
    assert labels.count(1) == labels.count(0) == 5
    order = [int(e.uid[1:]) for e in b]
    assert order == sorted(order)
    with pytest.raises(ConfigError, match="only one class"):
        balance(data(5, true_every=1), seed=0)


def test_validation_slice_keeps_groups_whole() -> None:
    examples = list(data(40, group_size=4).examples)
    train, val = hold_out(examples, 0.2, seed=0)
    assert sorted(train + val) == list(range(40))
    assert len(val) == 8  # two groups of four
    assert not {examples[i].group for i in train} & {examples[i].group for i in val}
    assert hold_out(examples, 0.2, seed=0) == (train, val)
    assert hold_out(examples, 0.0, seed=0) == (list(range(40)), [])
    with pytest.raises(ConfigError, match="validation slice"):
        hold_out(list(data(4, group_size=4).examples), 0.2, seed=0)  # one group: all or nothing
