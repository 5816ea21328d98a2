"""Classifier losses as small callables, `loss(logits, targets, step_frac) -> scalar`.

    logits     (B, 2) float: column 0 = False, column 1 = True (any scale; softmaxed here)
    targets    (B,)   float: P(True) per example, soft (0.7) or hard (0.0 / 1.0)
    step_frac  float in [0, 1]: how far training is, for losses that warm up a term

This is the openai/weak-to-strong shape, so weak-to-strong code can pass its own loss (e.g.
the auxiliary confidence loss) to `train_classifier` unchanged. The default is cross-entropy
against the soft targets, which for hard targets is ordinary cross-entropy.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


class ClassifierLoss(Protocol):
    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float
    ) -> torch.Tensor: ...


@runtime_checkable
class BatchLoss(ClassifierLoss, Protocol):
    """A loss whose per-example targets depend on the whole optimizer batch (the confidence
    loss hardens the student's predictions by a threshold over the batch).

    `step_targets(p_true, targets, step_frac)` returns the targets of every example of one
    optimizer batch, from the student's (detached) P(True) and the given targets; the loss of
    any part of the batch is then soft cross-entropy against its share of them. Trainers that
    split a batch into micro-batches use this, so the result does not depend on the split.
    """

    def step_targets(
        self, p_true: torch.Tensor, targets: torch.Tensor, step_frac: float
    ) -> torch.Tensor: ...


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, step_frac: float
) -> torch.Tensor:
    """Mean over the batch of -[t log p(True) + (1 - t) log p(False)]."""
    del step_frac  # constant over training
    logp = torch.log_softmax(logits.float(), dim=-1)
    t = targets.float().to(logp.device)
    return -(t * logp[:, 1] + (1 - t) * logp[:, 0]).mean()


def bradley_terry(
    reward_a: torch.Tensor, reward_b: torch.Tensor, p_a_wins: torch.Tensor
) -> torch.Tensor:
    """Reward-model loss on pairs: cross-entropy of sigma(r(x, a) - r(x, b)) against
    P(a wins), i.e. -log sigma(r_a - r_b) for a hard preference for a.

    A soft preference p counts as p of "a wins" and 1 - p of "b wins"; logsigmoid is the
    numerically stable form of log(sigma(.)).
    """
    margin = reward_a.float() - reward_b.float()
    p = p_a_wins.float().to(margin.device)
    logsig = torch.nn.functional.logsigmoid
    return -(p * logsig(margin) + (1 - p) * logsig(-margin)).mean()


__all__ = ["BatchLoss", "ClassifierLoss", "bradley_terry", "soft_cross_entropy"]
