"""The strong students of a weak-to-strong run, as plans trained by one loop.

    data = StudentData.split(half2, labels, gold, weak_labels, frac=0.2, seed=0)
    plans = plan_students(["xent", "confidence"], data, easy_hard=None, probe_gold=False)
    probs, monitors = train_students(plans, strong, test_prompts, gold_test, data)

A `StudentPlan` is everything that tells one student from another: its method name in the
results, its loss, the examples and targets it trains on, and the labels of the validation
slice its training curve is scored against (the labels it learns from: weak for a w2s
student, gold for the ceiling; no gold reaches a w2s student's early stopping). The run's
students are, in this order: one per `--losses` entry on the weak labels (`w2s-<loss>`), the
ceiling on gold, and with `--easy-to-hard` gold students on the easiest claims and on a random
subset of the same size. `train_students` trains every plan the same way, so a new kind of
student is a new plan, not a new branch of the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from elicit.tasks.base import Example
from elicit.w2s.curve import Monitor
from elicit.w2s.splits import hold_out

if TYPE_CHECKING:
    from elicit.w2s.easy_hard import EasyHardSplit
    from elicit.w2s.learner import Learner
    from elicit.w2s.probe import GoldProbes

CEILING = "ceiling"
PROBE_GOLD_SUFFIX = "+probe-gold"  # ft(weak)+lp(gold): a gold probe on a w2s student's features


@dataclass(frozen=True)
class StudentData:
    """Half 2 as the strong students see it (the claims the supervisor labelled): a training
    part and a held-out validation slice, each with the labels students learn from (the weak
    supervisor's, or the last chain link's) and gold; `weak` keeps the supervisor's own labels
    of the training part (the easy-to-hard split's difficulty, whatever the chain did)."""

    train: list[Example]
    val: list[Example]
    labels: np.ndarray
    val_labels: np.ndarray
    gold: np.ndarray
    val_gold: np.ndarray
    weak: np.ndarray

    @classmethod
    def split(
        cls,
        examples: Sequence[Example],
        labels: np.ndarray,
        gold: np.ndarray,
        weak: np.ndarray,
        *,
        frac: float,
        seed: int,
    ) -> StudentData:
        """Hold out `frac` of `examples` (whole groups, `splits.hold_out`) for validation."""
        train_idx, val_idx = hold_out(examples, frac, seed)
        return cls(
            train=[examples[i] for i in train_idx],
            val=[examples[i] for i in val_idx],
            labels=labels[train_idx],
            val_labels=labels[val_idx],
            gold=gold[train_idx],
            val_gold=gold[val_idx],
            weak=weak[train_idx],
        )


@dataclass(frozen=True)
class StudentPlan:
    """One strong student to train (see the module docs). probe_gold: also train a linear
    probe with gold labels on its fine-tuned features (`--probe-gold`, w2s students)."""

    method: str
    loss: str
    examples: list[Example]
    targets: np.ndarray
    val_targets: np.ndarray
    probe_gold: bool = False


def plan_students(
    losses: Sequence[str],
    data: StudentData,
    *,
    easy_hard: EasyHardSplit | None,
    probe_gold: bool,
) -> list[StudentPlan]:
    """The run's students, in training (and results) order."""
    plans = [
        StudentPlan(f"w2s-{loss}", loss, data.train, data.labels, data.val_labels, probe_gold)
        for loss in losses
    ]
    plans.append(StudentPlan(CEILING, "xent", data.train, data.gold, data.val_gold))
    if easy_hard is not None:
        for method, mask in (
            ("e2h-easy-gold", easy_hard.easy_train),
            ("e2h-random-gold", easy_hard.random_train),
        ):
            chosen = [ex for ex, keep in zip(data.train, mask, strict=True) if keep]
            plans.append(StudentPlan(method, "xent", chosen, data.gold[mask], data.val_gold))
    return plans


def train_students(
    plans: Sequence[StudentPlan],
    strong: Learner,
    test_prompts: list[str],
    gold_test: np.ndarray,
    data: StudentData,
    *,
    curve: bool = False,
    early_stop: bool = False,
    probes: GoldProbes | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Monitor]]:
    """Train every plan on a fresh copy of the strong model: P(True) on the test claims per
    method (and per gold probe), and the training curve of each student when `curve`."""
    probs: dict[str, np.ndarray] = {}
    monitors: dict[str, Monitor] = {}
    val_prompts = [ex.prompt for ex in data.val]
    for plan in plans:
        monitor = None
        if curve:
            monitor = Monitor(
                test_prompts,
                gold_test,
                val_prompts,
                plan.val_targets,
                data.val_gold,
                early_stop=early_stop,
            )
            monitors[plan.method] = monitor
        probed = probes is not None and plan.probe_gold
        (probs[plan.method],) = strong.fit_predict(
            plan.method,
            plan.examples,
            plan.targets,
            plan.loss,
            [test_prompts],
            monitor=monitor,
            keep=probed,
        )
        if probes is not None and probed:
            probs[plan.method + PROBE_GOLD_SUFFIX] = probes.fine_tuned(strong.trained)
            strong.trained = None
    return probs, monitors


__all__ = ["CEILING", "StudentData", "StudentPlan", "plan_students", "train_students"]
