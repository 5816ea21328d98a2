"""The training curve of a fine-tuned student, and early stopping on weak labels.

    monitor = Monitor(test_prompts, gold_test, val_prompts, val_targets, val_gold, early_stop=True)
    result = train_classifier(..., eval_fn=monitor)   # every --eval-every steps and at the end
    best_step = monitor.restore(result.classifier)    # the weights of the best step

`train_classifier` calls the monitor every `--eval-every` optimizer steps and after the last
one, with the student in eval mode. Each call scores

- the test claims against gold: the curve that shows a student first learning the task and
  then overfitting to its supervisor's mistakes (the paper's Fig. 4-style diagnostic);
- when a validation slice of half 2 is held out, that slice against the labels the student
  learns from (weak labels for w2s students, gold for the ceiling): the only signal someone
  without gold labels has, so the one early stopping may use. Its gold accuracy is recorded
  too, as a diagnostic, and never used for selection.

Early stopping snapshots the trainable weights (the LoRA adapters: a few MB; every weight with
--no-lora) inside the callback whenever the validation accuracy beats the best so far (ties:
lower cross-entropy against the soft labels, then the earlier step), and `restore` puts the
best snapshot back after training. The training loop is untouched: the callback is its
existing `eval_fn` hook. Selecting by test accuracy instead would report the best of several
tries as if it were one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from elicit.evaluation.results import ResultRow

if TYPE_CHECKING:
    import torch

    from elicit.training.classifier import Classifier


@dataclass(frozen=True)
class CurveRow(ResultRow):
    """A tidy result row measured at optimizer step `step` of one student's training."""

    step: int = 0


def _accuracy(p_true: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of P(True) > 0.5 against labels (soft labels are rounded at 0.5)."""
    if len(labels) == 0:
        return math.nan
    return float(((p_true > 0.5) == (labels > 0.5)).mean())


def _xent(p_true: np.ndarray, targets: np.ndarray) -> float:
    p = np.clip(p_true, 1e-7, 1 - 1e-7)
    return float(-(targets * np.log(p) + (1 - targets) * np.log1p(-p)).mean())


class Monitor:
    """`eval_fn(classifier, step)` for `train_classifier`: records the curve, keeps the best."""

    def __init__(
        self,
        test_prompts: list[str],
        gold_test: np.ndarray,
        val_prompts: list[str],
        val_targets: np.ndarray,
        val_gold: np.ndarray,
        *,
        early_stop: bool = False,
    ) -> None:
        if len(val_prompts) != len(val_targets) or len(val_prompts) != len(val_gold):
            raise ValueError("val_prompts, val_targets and val_gold must align")
        if early_stop and not val_prompts:
            raise ValueError("early stopping needs a validation slice")
        self.test_prompts = test_prompts
        self.gold_test = np.asarray(gold_test)
        self.val_prompts = val_prompts
        self.val_targets = np.asarray(val_targets, dtype=np.float64)
        self.val_gold = np.asarray(val_gold)
        self.early_stop = early_stop
        self.history: list[dict[str, float]] = []
        self.best_step: int | None = None
        self._best_key: tuple[float, float] | None = None
        self._snapshot: dict[str, torch.Tensor] | None = None

    def __call__(self, clf: Classifier, step: int) -> dict[str, float]:
        p = clf.predict_proba(self.test_prompts + self.val_prompts)
        p_test, p_val = p[: len(self.test_prompts)], p[len(self.test_prompts) :]
        metrics = {"test_accuracy": _accuracy(p_test, self.gold_test)}
        if self.val_prompts:
            metrics["val_label_accuracy"] = _accuracy(p_val, self.val_targets)
            metrics["val_label_xent"] = _xent(p_val, self.val_targets)
            metrics["val_accuracy"] = _accuracy(p_val, self.val_gold)
        self.history.append({"step": float(step), **metrics})
        if self.early_stop:
            key = (metrics["val_label_accuracy"], -metrics["val_label_xent"])
            if self._best_key is None or key > self._best_key:
                from elicit.training.loop import trainable_state

                self._best_key, self.best_step = key, step
                self._snapshot = trainable_state(clf.module)
        return metrics

    def restore(self, clf: Classifier) -> int | None:
        """Put the best step's trainable weights back (early stopping); that step, or None."""
        if not self.early_stop or self._snapshot is None:
            return None
        import torch

        named = dict(clf.module.named_parameters())
        missing = [n for n in self._snapshot if n not in named]
        if missing:
            raise RuntimeError(
                f"early-stopping snapshot has weights the model lacks: {missing[:3]}"
            )
        with torch.no_grad():
            for name, value in self._snapshot.items():
                named[name].copy_(value.to(named[name].device))
        return self.best_step

    def rows(self, *, task: str, model: str, method: str, seed: int) -> list[CurveRow]:
        """The curve as tidy rows: metric "curve_accuracy" on split "test" (gold) and "val"
        (gold, diagnostic), "curve_label_accuracy" and "curve_label_xent" on "val"."""
        names = {
            "test_accuracy": ("test", "curve_accuracy", len(self.test_prompts)),
            "val_accuracy": ("val", "curve_accuracy", len(self.val_prompts)),
            "val_label_accuracy": ("val", "curve_label_accuracy", len(self.val_prompts)),
            "val_label_xent": ("val", "curve_label_xent", len(self.val_prompts)),
        }
        out = []
        for point in self.history:
            for key, (split, metric, n) in names.items():
                if key in point:
                    row = CurveRow(task=task, model=model, method=method, split=split, n=n,
                                   seed=seed, metric=metric, value=point[key],
                                   step=int(point["step"]))  # fmt: skip
                    out.append(row)
        return out


__all__ = ["CurveRow", "Monitor"]
