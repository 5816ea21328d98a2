"""Easy-to-hard generalization: train on the easiest claims with gold labels, test on the hardest.

    elicit w2s --task gsm8k-verification --easy-to-hard            # the release's difficulty
    elicit w2s --task sst2 --easy-to-hard --difficulty weak        # the supervisor's confidence

Burns et al. (2023) ask whether a strong model taught only what a weak supervisor can judge
reliably (the easy claims) generalizes to the hard ones. `elicit w2s --easy-to-hard` sorts the
students' half-2 claims by difficulty; the easiest `--easy-frac` of them (a threshold on the
difficulty, ties kept together) train one student with gold labels (`e2h-easy-gold`), and a
random subset of the same size another (`e2h-random-gold`: the control that separates "easy"
from "fewer"). Every method is then scored on the test claims above the threshold ("test-hard"
rows) and below it ("test-easy"), next to the students trained on all of half 2 (gold: the
ceiling; weak labels: the w2s students).

Difficulty (`--difficulty`):
- "field": the task's own difficulty per claim. The ICM GSM8K-verification file carries one
  per problem (`tasks.icm.gsm8k_difficulty`); other tasks have none.
- "weak": the weak supervisor's uncertainty, 0.5 - |P(True) - 0.5| (0 = certain, 0.5 = a coin
  flip). Hard then means "hard for the supervisor", which is the w2s question; it needs a
  supervisor with test predictions (not labels:FILE).
- "auto": the field where the task has one, else the supervisor's confidence.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from elicit.errors import ConfigError
from elicit.evaluation.metrics import auroc
from elicit.evaluation.results import build
from elicit.tasks.base import Example, LoadOptions, TaskData


def _gsm8k(options: LoadOptions) -> dict[str, float]:
    from elicit.tasks.icm import gsm8k_difficulty

    return gsm8k_difficulty(options)


#: Tasks whose data carries a difficulty: task -> (load options -> uid -> difficulty).
DIFFICULTY_FIELDS: dict[str, Callable[[LoadOptions], dict[str, float]]] = {
    "gsm8k-verification": _gsm8k,
}


def field_difficulty(
    task: str, options: LoadOptions, examples: Sequence[Example]
) -> np.ndarray | None:
    """The task's difficulty of each example (None when the task has no difficulty field)."""
    reader = DIFFICULTY_FIELDS.get(task)
    if reader is None:
        return None
    values = reader(options)
    missing = [ex.uid for ex in examples if ex.uid not in values]
    if missing:
        return None  # e.g. a user's GSM8K-format file without the field
    return np.asarray([values[ex.uid] for ex in examples], dtype=np.float64)


def confidence_difficulty(p_true: np.ndarray) -> np.ndarray:
    """0.5 - |p - 0.5|: 0 where the supervisor is certain, 0.5 where it flips a coin."""
    return 0.5 - np.abs(np.asarray(p_true, dtype=np.float64) - 0.5)


@dataclass(frozen=True)
class EasyHardRecord:
    """An easy-to-hard split as a w2s run's metrics.json records it: where the difficulty came
    from, the cut, the subset sizes, and per test subset ("test-hard", "test-easy") the
    accuracy of every method (each subset a key of its own in the JSON)."""

    difficulty: str
    threshold: float
    n_train: int
    n_easy_train: int
    n_test: int
    n_hard_test: int
    n_easy_test: int
    accuracy: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "accuracy"
        }
        d.update({subset: dict(acc) for subset, acc in self.accuracy.items()})
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], what: str = "easy_to_hard") -> EasyHardRecord:
        """Read what `to_dict` wrote; `what` names it in errors."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in names and k != "accuracy"}
        values["accuracy"] = {
            k: dict(v) for k, v in d.items() if k not in names and isinstance(v, Mapping)
        }
        return build(cls, values, what)


@dataclass(frozen=True)
class EasyHardSplit:
    """Which training claims are easy, which test claims are hard, and the cut between them."""

    source: str  # "field" or "weak"
    threshold: float  # easy: difficulty <= threshold
    easy_train: np.ndarray  # bool mask over the training claims
    random_train: np.ndarray  # bool mask: a random subset of the easy subset's size
    hard_test: np.ndarray  # bool mask over the test claims

    def describe(self) -> EasyHardRecord:
        return EasyHardRecord(
            difficulty=self.source,
            threshold=self.threshold,
            n_train=len(self.easy_train),
            n_easy_train=int(self.easy_train.sum()),
            n_test=len(self.hard_test),
            n_hard_test=int(self.hard_test.sum()),
            n_easy_test=int((~self.hard_test).sum()),
        )


def split_easy_hard(
    train_difficulty: np.ndarray,
    test_difficulty: np.ndarray,
    easy_frac: float,
    seed: int,
    source: str,
) -> EasyHardSplit:
    """The easiest `easy_frac` of the training claims (the threshold is the difficulty of the
    k-th easiest, so claims tied with it, e.g. one GSM8K problem's solutions, stay together)
    and the test claims harder than all of them."""
    d_train = np.asarray(train_difficulty, dtype=np.float64)
    d_test = np.asarray(test_difficulty, dtype=np.float64)
    if not 0.0 < easy_frac < 1.0:
        raise ConfigError(f"--easy-frac must be in (0, 1), got {easy_frac}")
    if len(d_train) < 2 or len(d_test) == 0:
        raise ConfigError("easy-to-hard needs at least 2 training and 1 test claim; raise --n")
    k = min(len(d_train), max(1, round(easy_frac * len(d_train))))
    threshold = float(np.sort(d_train)[k - 1])
    easy = d_train <= threshold
    hard_test = d_test > threshold
    if easy.all() or not hard_test.any():
        raise ConfigError(
            f"the {source} difficulty does not separate easy from hard claims here (threshold "
            f"{threshold:.3f}: {int(easy.sum())} of {len(easy)} training claims easy, "
            f"{int(hard_test.sum())} hard test claims); lower --easy-frac or use another "
            "--difficulty"
        )
    chosen = random.Random(f"{seed}/easy-to-hard").sample(range(len(d_train)), int(easy.sum()))
    random_mask = np.zeros(len(d_train), dtype=bool)
    random_mask[chosen] = True
    return EasyHardSplit(source, threshold, easy, random_mask, hard_test)


def choose_split(
    task: str,
    difficulty: str,
    easy_frac: float,
    seed: int,
    train: tuple[LoadOptions, Sequence[Example]],
    test: tuple[LoadOptions, TaskData],
    weak_train: np.ndarray,
    weak_test: np.ndarray | None,
    weak_name: str,
) -> EasyHardSplit:
    """The split by `difficulty` ("field", "weak" or "auto"; see the module docs).

    train / test: the load options of each split (where the task's difficulty field is read)
    and its claims; weak_train / weak_test: the weak supervisor's P(True) on them.
    """
    d_train = d_test = None
    if difficulty in ("auto", "field"):
        d_train = field_difficulty(task, train[0], train[1])
        d_test = field_difficulty(task, test[0], test[1].examples)
        if (d_train is None or d_test is None) and difficulty == "field":
            raise ConfigError(
                f"task {task!r} has no difficulty field (tasks with one: "
                f"{', '.join(DIFFICULTY_FIELDS)}); use --difficulty weak (the weak supervisor's "
                "confidence)"
            )
    if d_train is not None and d_test is not None:
        return split_easy_hard(d_train, d_test, easy_frac, seed, "field")
    if weak_test is None:
        raise ConfigError(
            f"--easy-to-hard: task {task!r} has no difficulty field and the weak supervisor "
            f"{weak_name!r} has no test predictions to measure its confidence with; use a tfidf "
            "or model supervisor"
        )
    return split_easy_hard(
        confidence_difficulty(weak_train), confidence_difficulty(weak_test), easy_frac, seed,
        "weak",
    )  # fmt: skip


def subset_scores(
    probs: Mapping[str, np.ndarray], gold_test: np.ndarray, hard: np.ndarray
) -> list[tuple[str, str, str, int, float]]:
    """(split, method, metric, n, value) rows: accuracy and AUROC of every method on the hard
    ("test-hard") and on the easy ("test-easy") test claims, and each subset's share of True
    (method "gold", metric "frac_true": the subsets need not be balanced)."""
    out: list[tuple[str, str, str, int, float]] = []
    for split, mask in (("test-hard", hard), ("test-easy", ~hard)):
        gold = np.asarray(gold_test)[mask]
        n = len(gold)
        out.append((split, "gold", "frac_true", n, float(gold.mean()) if n else math.nan))
        for method, p in probs.items():
            q = np.asarray(p)[mask]
            acc = float(((q > 0.5).astype(np.int64) == gold).mean()) if n else math.nan
            out.append((split, method, "accuracy", n, acc))
            score = np.log(q + 1e-12) - np.log1p(-q + 1e-12)
            out.append((split, method, "auroc", n, auroc(score, gold) if n else math.nan))
    return out


__all__ = [
    "DIFFICULTY_FIELDS",
    "EasyHardRecord",
    "EasyHardSplit",
    "choose_split",
    "confidence_difficulty",
    "field_difficulty",
    "split_easy_hard",
    "subset_scores",
]
