"""The data of one weak-to-strong run: two training halves and a balanced test set.

Burns et al.: the weak supervisor is trained on ground truth of half 1; its predictions on half
2 are the weak labels the student learns from; everything is tested on a held-out set balanced
between the classes (so 50% is chance and a constant predictor cannot look good). The ceiling,
the strong model trained on ground truth, is trained here on half 2's gold labels, as the
released code does (`train_weak_to_strong.py` trains its strong ground-truth model on
`train2_ds`), so the ceiling and the students see the same claims and differ only in their
labels; the paper's text says only "ground truth labels" and does not name a half.

Halves are split by consistency group, so two claims about the same question never sit on
both sides (the supervisor would otherwise have seen the student's questions).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from elicit.errors import ConfigError
from elicit.tasks.base import Example, TaskData


@dataclass(frozen=True)
class W2SData:
    half1: TaskData  # the weak supervisor's training data (gold labels)
    half2: TaskData  # the student's training data (weak labels; gold only for the ceiling)
    test: TaskData  # balanced held-out set

    def describe(self) -> str:
        return f"half 1: {len(self.half1)}, half 2: {len(self.half2)}, test: {len(self.test)}"


def _subset(data: TaskData, examples: list[Example]) -> TaskData:
    chosen = tuple(examples)
    return replace(data, examples=chosen, gold={ex.uid: data.gold[ex.uid] for ex in chosen})


def split_halves(data: TaskData, seed: int) -> tuple[TaskData, TaskData]:
    """Two halves of (nearly) equal size, whole groups on each side, seeded."""
    groups: dict[str, list[Example]] = {}
    for ex in data.examples:
        groups.setdefault(ex.group, []).append(ex)
    order = list(groups)
    random.Random(seed).shuffle(order)
    first: list[Example] = []
    second: list[Example] = []
    for g in order:  # greedy: each group goes to the currently smaller half
        (first if len(first) <= len(second) else second).extend(groups[g])
    if not first or not second:
        raise ConfigError(
            f"task {data.task!r}: {len(data)} training example(s) in {len(groups)} group(s) "
            "cannot be split into two halves; pass a larger --n"
        )
    return _subset(data, first), _subset(data, second)


def balance(data: TaskData, seed: int) -> TaskData:
    """Undersample the larger class so True and False are equally common, order kept."""
    by_label: dict[int, list[int]] = {0: [], 1: []}
    for i, ex in enumerate(data.examples):
        by_label[data.gold[ex.uid]].append(i)
    k = min(len(by_label[0]), len(by_label[1]))
    if k == 0:
        raise ConfigError(
            f"task {data.task!r}: the test sample has only one class ({len(data)} examples); "
            "pass a larger --test-n"
        )
    rng = random.Random(seed)
    keep = sorted(rng.sample(by_label[0], k) + rng.sample(by_label[1], k))
    return _subset(data, [data.examples[i] for i in keep])


def hold_out(examples: Sequence[Example], frac: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, validation) indices into `examples`: about `frac` of them, whole groups, seeded.

    The validation slice keeps the labels the students learn from (weak labels for w2s
    students), so it needs no gold: it is what early stopping may select on.
    """
    if frac <= 0:
        return list(range(len(examples))), []
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.group, []).append(i)
    order = list(groups)
    random.Random(f"{seed}/validation").shuffle(order)
    target = round(frac * len(examples))
    val: list[int] = []
    for g in order:
        if len(val) >= target:
            break
        val.extend(groups[g])
    train = sorted(set(range(len(examples))) - set(val))
    if not val or not train:
        raise ConfigError(
            f"cannot hold out {frac:.0%} of {len(examples)} half-2 claims in {len(groups)} "
            "group(s) as a validation slice and train on the rest; pass a larger --n or change "
            "--val-frac"
        )
    return train, sorted(val)
