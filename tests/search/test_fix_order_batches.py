"""ConsistencyFix on hand-computed cases; context orders; group-preserving batches."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from planted import prompt

from elicit.backends.fake import ScriptedLM
from elicit.errors import ConfigError
from elicit.search.batches import batch_seed, split_batches
from elicit.search.consistency import ConsistencyRule
from elicit.search.energy import EnergyEvaluator
from elicit.search.icm import consistency_fix
from elicit.search.order import context_order
from elicit.tasks.base import Consistency, Example


def fixed_score_lm(scores: dict[int, float]) -> ScriptedLM:
    """Each item's log-odds is fixed, whatever the context."""
    return ScriptedLM(lambda p: next(s for i, s in scores.items() if p.endswith(prompt(i))))


def fix_setup(
    kind: Consistency, keys: list[str], scores: dict[int, float]
) -> tuple[EnergyEvaluator, ScriptedLM]:
    examples = [Example(f"u{i}", prompt(i), "g", k) for i, k in enumerate(keys)]
    lm = fixed_score_lm(scores)
    rule = ConsistencyRule(examples, kind)
    order = list(range(len(examples)))
    return EnergyEvaluator(lm, examples, rule, order, mp="mean", alpha=50), lm


def test_fix_applies_the_best_consistent_relabelling() -> None:
    # A > B and B > A both True. Scores: +3 for "ab", -1 for "ba".
    ev, _ = fix_setup(Consistency.COMPARISON, ["ab", "ba"], {0: 3.0, 1: -1.0})
    cur = ev.evaluate({0: 1, 1: 1})
    assert cur.mp == pytest.approx(1.0) and cur.inconsistencies == 1
    assert cur.energy == pytest.approx(49.0)
    # Options: (0, 1) -> MP (-3 - 1) / 2 = -2, U = -100; (1, 0) -> MP (3 + 1) / 2 = 2, U = 100.
    labels, fixed = consistency_fix(ev, {0: 1, 1: 1}, cur, random.Random(0), rounds=10)
    assert labels == {0: 1, 1: 0}
    assert fixed.energy == pytest.approx(100.0) and fixed.inconsistencies == 0


def test_fix_keeps_the_labelling_when_every_fix_lowers_the_energy() -> None:
    # Two different answers both True, both predicted True with +3: U = 50 * 3 - 1 = 149.
    # (0, 0): MP -3, U -150; (0, 1) / (1, 0): MP 0, U 0. All worse: nothing changes.
    ev, _ = fix_setup(Consistency.ANSWER, ["5", "7"], {0: 3.0, 1: 3.0})
    cur = ev.evaluate({0: 1, 1: 1})
    assert cur.energy == pytest.approx(149.0)
    labels, fixed = consistency_fix(ev, {0: 1, 1: 1}, cur, random.Random(0), rounds=10)
    assert labels == {0: 1, 1: 1} and fixed is cur
    # Three evaluations were scored: the current one and the three consistent options.
    assert ev.n_evaluations == 4


def test_fix_resolves_several_pairs_over_rounds() -> None:
    # Group of answers [5, 5, 7]; the model is sure that 7 is right and 5 is wrong.
    ev, _ = fix_setup(Consistency.ANSWER, ["5", "5", "7"], {0: -2.0, 1: -2.0, 2: 4.0})
    start = {0: 1, 1: 0, 2: 1}  # 0 != 1 (same answer), 0 & 2 both True
    cur = ev.evaluate(start)
    assert cur.inconsistencies == 2
    labels, fixed = consistency_fix(ev, start, cur, random.Random(1), rounds=10)
    assert labels == {0: 0, 1: 0, 2: 1} and fixed.inconsistencies == 0


def test_fix_applies_one_pair_per_round() -> None:
    examples = [Example(f"u{i}", prompt(i), f"g{i // 2}", ("ab", "ba")[i % 2]) for i in range(4)]
    lm = fixed_score_lm({0: 1.0, 1: -1.0, 2: 1.0, 3: -1.0})
    rule = ConsistencyRule(examples, Consistency.COMPARISON)
    ev = EnergyEvaluator(lm, examples, rule, [0, 1, 2, 3], mp="mean", alpha=50)
    start = {0: 1, 1: 1, 2: 1, 3: 1}
    cur = ev.evaluate(start)
    assert cur.inconsistencies == 2
    _, one = consistency_fix(ev, start, cur, random.Random(0), rounds=1)
    assert one.inconsistencies == 1
    labels, two = consistency_fix(ev, start, cur, random.Random(0), rounds=2)
    assert labels == {0: 1, 1: 0, 2: 1, 3: 0} and two.inconsistencies == 0


def groups_of(examples: list[Example], order: list[int]) -> list[str]:
    return [examples[i].group for i in order]


def test_interleaved_order_keeps_group_members_apart() -> None:
    examples = [
        Example(f"u{i}", prompt(i), f"g{i // 2}", "ab" if i % 2 else "ba") for i in range(20)
    ]
    for seed in range(5):
        order = context_order(examples, "interleaved", random.Random(seed))
        assert sorted(order) == list(range(20))
        groups = groups_of(examples, order)
        assert all(a != b for a, b in itertools.pairwise(groups))
        assert order == context_order(examples, "interleaved", random.Random(seed))
    assert context_order(examples, "interleaved", random.Random(0)) != context_order(
        examples, "interleaved", random.Random(1)
    )


def test_interleaved_order_with_one_large_group() -> None:
    # 3 members of L and 2 singletons: L . L . L is the only arrangement without neighbours.
    examples = [Example(f"u{i}", prompt(i), g) for i, g in enumerate(["L", "L", "L", "a", "b"])]
    for seed in range(5):
        groups = groups_of(examples, context_order(examples, "interleaved", random.Random(seed)))
        assert groups[0] == groups[2] == groups[4] == "L"
    # Unavoidable neighbours: only one group.
    solo = [Example(f"u{i}", prompt(i), "g") for i in range(3)]
    assert sorted(context_order(solo, "interleaved", random.Random(0))) == [0, 1, 2]


def test_grouped_order_keeps_members_together() -> None:
    examples = [Example(f"u{i}", prompt(i), f"g{i % 4}") for i in range(12)]
    groups = groups_of(examples, context_order(examples, "grouped", random.Random(0)))
    runs = [g for k, g in enumerate(groups) if k == 0 or groups[k - 1] != g]
    assert len(runs) == 4 and Counter(groups) == Counter(
        f"g{k}" for k in range(4) for _ in range(3)
    )
    with pytest.raises(ConfigError):
        context_order(examples, "sorted", random.Random(0))  # type: ignore[arg-type]


def test_batches_keep_groups_whole_and_balanced() -> None:
    sizes = [1, 2, 3, 4] * 25  # 250 examples in 100 groups
    examples = [
        Example(f"u{g}-{m}", prompt(g), f"g{g}")
        for g, size in enumerate(sizes)
        for m in range(size)
    ]
    batches = split_batches(examples, batch_size=64, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(len(examples)))
    assert len(batches) == 4 and all(len(b) <= 64 for b in batches)
    batch_of = {examples[i].group: k for k, b in enumerate(batches) for i in b}
    for k, b in enumerate(batches):
        assert all(batch_of[examples[i].group] == k for i in b)
        assert b == sorted(b)
    assert batches == split_batches(examples, batch_size=64, seed=0)
    assert batches != split_batches(examples, batch_size=64, seed=1)
    assert split_batches(examples, batch_size=1000, seed=0) == [list(range(len(examples)))]
    with pytest.raises(ConfigError):
        split_batches(examples, batch_size=0, seed=0)


def test_batch_seeds_are_distinct_and_stable() -> None:
    seeds = {batch_seed(0, b) for b in range(100)} | {batch_seed(1, b) for b in range(100)}
    assert len(seeds) == 200
    assert batch_seed(7, 3) == batch_seed(7, 3)
