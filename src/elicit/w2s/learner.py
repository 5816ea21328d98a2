"""The models of a weak-to-strong run: a `Learner` trains copies of one model on P(True)
targets and predicts P(True); `weak_predictions` gives the weak supervisor's labels.

    strong = Learner(config, "gemma-3-270m", out)
    (p_test,) = strong.fit_predict("w2s-xent", examples, weak_labels, "xent", [test_prompts])
    weak_half2, weak_test = weak_predictions(config, data, out)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from elicit.errors import ConfigError
from elicit.tasks.base import Example, TaskData
from elicit.w2s.curve import Monitor
from elicit.w2s.splits import W2SData

if TYPE_CHECKING:
    from elicit.w2s.config import W2SConfig


def prompts_of(examples: TaskData | Sequence[Example]) -> list[str]:
    return [ex.prompt for ex in examples]


def gold_of(data: TaskData) -> np.ndarray:
    return np.asarray(data.gold_of(data.examples), dtype=np.int64)


class Learner:
    """Trains copies of one model on (examples, P(True) targets) and predicts P(True).

    objective "word" / "linear": each `fit` fine-tunes a freshly loaded copy (`elicit train`'s
    code); "probe": the model is loaded once, frozen, and each `fit` trains a linear probe on
    its cached features, starting from the label words' unembeddings (`probe`).
    """

    def __init__(self, config: W2SConfig, model: str, out: Path) -> None:
        self.config = config
        self.model = model
        self.out = out
        self.histories: dict[str, list[float]] = {}
        self.best_steps: dict[str, int] = {}  # early stopping: the step each student kept
        self.trained: Any = None  # the last fine-tuned Classifier, when `fit_predict(keep=True)`
        self._features: Any = None
        if config.objective == "probe":
            from elicit.w2s.probe import FrozenFeatures

            self._features = FrozenFeatures(model)

    def zero_shot(self, prompts: list[str]) -> np.ndarray:
        """P(True) of the untrained model (the probe's initial head: the label-word logits)."""
        if self._features is not None:
            head = self._features.label_word_head()
            return np.asarray(head.predict_proba(self._features.features(prompts)))
        from elicit.training.classifier import make_classifier

        clf = make_classifier(self.model, self.config.objective, seed=self.config.seed)  # type: ignore[arg-type]
        return clf.predict_proba(prompts)

    def fit_predict(
        self,
        name: str,
        examples: list[Example],
        targets: np.ndarray,
        loss_name: str,
        predict: list[list[str]],
        *,
        monitor: Monitor | None = None,
        keep: bool = False,
    ) -> list[np.ndarray]:
        """Train on (examples, targets) with loss `loss_name`; P(True) for each prompt list.

        monitor: scores the fine-tuned student during training (and restores its best step
        with early stopping); keep: hold the fine-tuned classifier in `self.trained`.
        """
        from elicit.w2s.losses import make_loss

        config = self.config
        loss = make_loss(loss_name, a_max=config.a_max)
        if self._features is not None:
            from elicit.w2s.probe import train_probe

            x = self._features.features([ex.prompt for ex in examples])
            head = train_probe(
                x,
                targets,
                self._features.label_word_head(),
                loss=loss,
                epochs=config.probe_epochs,
                lr=config.probe_lr,
                seed=config.seed,
            )
            return [head.predict_proba(self._features.features(p)) for p in predict]
        from elicit.training.classifier import train_classifier

        result = train_classifier(
            self.model,
            examples,
            targets.tolist(),
            config.fit_options(),
            self.out / name,
            seed=config.seed,
            objective=config.objective,  # type: ignore[arg-type]
            loss=loss,
            eval_fn=monitor,
            progress=config.progress,
        )
        self.histories[name] = list(result.losses)
        if monitor is not None:
            step = monitor.restore(result.classifier)
            if step is not None:
                self.best_steps[name] = step
        self.trained = result.classifier if keep else None
        return [result.classifier.predict_proba(p) for p in predict]


def weak_predictions(
    config: W2SConfig, data: W2SData, out: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    """P(True) of the weak supervisor on half 2 and on the test set (None for a labels file)."""
    if config.weak == "tfidf":
        from elicit.w2s.tfidf import TfidfSupervisor

        sup = TfidfSupervisor(seed=config.seed).fit(prompts_of(data.half1), gold_of(data.half1))
        return sup.predict_proba(prompts_of(data.half2)), sup.predict_proba(prompts_of(data.test))
    if config.weak.startswith("labels:"):
        from elicit.labels import check_prompts
        from elicit.training.data import read_targets

        path = config.weak.removeprefix("labels:")
        labels = read_targets(path)
        prompts = {ex.uid: ex.prompt for ex in (*data.half1.examples, *data.half2.examples)}
        check_prompts(path, prompts, f"--weak labels:{path}")  # no labels of edited claims
        covered = [ex for ex in data.half2.examples if ex.uid in labels]
        if not covered:
            raise ConfigError(
                f"--weak labels:{path} labels none of the {len(data.half2)} half-2 examples; "
                "label the same task's train split (elicit label --split train) with --n none or "
                "a larger --n"
            )
        return np.asarray([labels.get(ex.uid, math.nan) for ex in data.half2.examples]), None
    weak = Learner(config, config.weak, out)
    half2, test = weak.fit_predict(
        "weak",
        list(data.half1.examples),
        gold_of(data.half1).astype(float),
        "xent",
        [prompts_of(data.half2), prompts_of(data.test)],
    )
    return half2, test


__all__ = ["Learner", "gold_of", "prompts_of", "weak_predictions"]
