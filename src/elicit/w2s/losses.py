"""Weak-to-strong training losses, as small callables `loss(logits, targets, step_frac)`.

logits: (B, 2) scores of the [False, True] classes (for elicit's label-word classifier these
    are the label words' logits, i.e. a 2-way head initialised from the unembedding rows of the
    label tokens, which is the paper's App. A.4 initialisation).
targets: (B,) the supervisor's probability that each example is True (soft weak labels).
step_frac: progress through training in [0, 1], for warm-ups.

    from elicit.w2s.losses import make_loss
    loss_fn = make_loss("confidence")          # the paper's auxiliary confidence loss
    loss = loss_fn(logits, weak_probs, step / total_steps)

Cross-entropy against a target distribution is linear in the target, so the confidence loss

    L = (1 - a) CE(f, f_w) + a CE(f, hard_t(f))

is computed as one CE against the mixed target (1 - a) f_w + a hard_t(f). hard_t(f) hardens the
student's own predictions with a threshold t chosen over the optimizer's batch so that the share
predicted True matches the label prior (the weak labels' mean in the batch, or one half): this
lets the student overrule its supervisor where it is confident, without collapsing onto one
class. The threshold needs the whole batch (`BatchLoss`): a loss call sees one micro-batch, so
with gradient accumulation the trainer asks `step_targets` for the mixed targets of the whole
optimizer step first (`training.classifier`), and the probe trainer makes its batches of an
epoch equal in size instead of leaving a short last one (`probe.train_probe`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from elicit.errors import ConfigError
from elicit.training.losses import ClassifierLoss, soft_cross_entropy
from elicit.w2s import LOSSES

#: The training code's loss protocol: loss(logits (B, 2), targets (B,), step_frac) -> scalar.
LossFn = ClassifierLoss


def _as_distribution(targets: torch.Tensor) -> torch.Tensor:
    """(B,) P(True) -> (B, 2) [P(False), P(True)]."""
    p = targets.float().clamp(0.0, 1.0)
    return torch.stack([1.0 - p, p], dim=-1)


def _check(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.ndim != 2 or logits.shape[-1] != 2:
        raise ValueError(f"logits must have shape (batch, 2), got {tuple(logits.shape)}")
    if targets.shape != logits.shape[:1]:
        raise ValueError(
            f"targets must have shape ({logits.shape[0]},), got {tuple(targets.shape)}"
        )


def xent_loss(logits: torch.Tensor, targets: torch.Tensor, step_frac: float) -> torch.Tensor:
    """Naive weak-to-strong: imitate the supervisor's soft labels (cross-entropy)."""
    _check(logits, targets)
    return soft_cross_entropy(logits, targets, step_frac)


def harden_by_prior(p_true: torch.Tensor, prior: float) -> torch.Tensor:
    """1.0 for the round(prior * B) examples with the highest P(True), else 0.0.

    Ranking instead of a quantile threshold keeps the share exact on small batches and makes
    ties deterministic (earlier examples first).
    """
    b = p_true.shape[0]
    k = min(b, max(0, round(prior * b)))
    hard = torch.zeros_like(p_true, dtype=torch.float32)
    if k:
        # Stable descending order: equal probabilities keep their batch order.
        order = torch.sort(-p_true.detach().float(), stable=True).indices
        hard[order[:k]] = 1.0
    return hard


@dataclass(frozen=True)
class ConfidenceLoss:
    """The auxiliary confidence loss (Burns et al. 2023, App. A.4).

    a_max: final weight of the self-certainty term (paper: 0.5; 0.75 for the largest students).
    warmup: "linear" (paper): a rises linearly from 0 to a_max over the first `warmup_frac`
        (0.2) of training; "code" (released code, `logconf_loss_fn`): a = step_frac * a_max up
        to `warmup_frac` (0.1), so it reaches only 0.1 * a_max, then a_max.
    prior: "weak" sets the threshold so the hardened predictions match the weak labels'
        share of True in the batch; "half" uses 0.5 (balanced tasks).

    The released code hardens with `torch.quantile` of P(False) at the weak share; elicit ranks
    (`harden_by_prior`), which gives the same share up to rounding and breaks ties by order.
    """

    a_max: float = 0.5
    warmup: Literal["linear", "code"] = "linear"
    warmup_frac: float = 0.2
    prior: Literal["weak", "half"] = "weak"

    def __post_init__(self) -> None:
        if not 0.0 <= self.a_max <= 1.0:
            raise ConfigError(f"confidence loss a_max must be in [0, 1], got {self.a_max}")
        if not 0.0 <= self.warmup_frac <= 1.0:
            raise ConfigError(f"warmup_frac must be in [0, 1], got {self.warmup_frac}")
        if self.warmup not in ("linear", "code"):
            raise ConfigError(f"unknown warm-up {self.warmup!r}; use linear or code")

    def weight(self, step_frac: float) -> float:
        """The weight a of the hardened-prediction term at this point of training."""
        if self.warmup == "code":  # `coef = 1.0 if step_frac > warmup_frac else step_frac`
            return self.a_max * (1.0 if step_frac > self.warmup_frac else step_frac)
        if self.warmup_frac == 0.0:
            return self.a_max
        return self.a_max * min(1.0, max(0.0, step_frac / self.warmup_frac))

    def step_targets(
        self, p_true: torch.Tensor, targets: torch.Tensor, step_frac: float
    ) -> torch.Tensor:
        """(B,) mixed targets (1 - a) f_w + a hard_t(f) of one whole optimizer batch, from the
        student's P(True) and the weak targets of every example in it."""
        a = self.weight(step_frac)
        weak = targets.float().clamp(0.0, 1.0)
        if a == 0.0:
            return weak
        prior = float(targets.float().mean()) if self.prior == "weak" else 0.5
        hard = harden_by_prior(p_true.to(weak.device), prior)  # no gradient: a fixed target
        return (1.0 - a) * weak + a * hard

    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float
    ) -> torch.Tensor:
        """The loss of a whole optimizer batch (the threshold is taken over these logits)."""
        _check(logits, targets)
        p_true = torch.softmax(logits.detach().float(), dim=-1)[:, 1]
        return soft_cross_entropy(logits, self.step_targets(p_true, targets, step_frac), step_frac)


@dataclass(frozen=True)
class ProductLoss:
    """Train towards the normalised product of the supervisor's and the student's beliefs,
    f_w^alpha * f^beta (the released code's "product" loss); the student's side is detached."""

    alpha: float = 1.0
    beta: float = 1.0

    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float
    ) -> torch.Tensor:
        del step_frac
        _check(logits, targets)
        weak = _as_distribution(targets).clamp_min(1e-12)
        student = torch.softmax(logits.detach().float(), dim=-1).clamp_min(1e-12)
        log_target = self.alpha * weak.log() + self.beta * student.log()
        target = torch.softmax(log_target, dim=-1)
        return soft_cross_entropy(logits, target[:, 1], 0.0)


def make_loss(name: str, *, a_max: float = 0.5) -> LossFn:
    """A loss by name. "confidence" follows the paper; "confidence-code" the released code."""
    if name == "xent":
        return xent_loss
    if name == "confidence":
        return ConfidenceLoss(a_max=a_max, warmup="linear", warmup_frac=0.2)
    if name == "confidence-code":
        return ConfidenceLoss(a_max=a_max, warmup="code", warmup_frac=0.1)
    if name == "product":
        return ProductLoss()
    raise ConfigError(f"unknown weak-to-strong loss {name!r}; choose one of {', '.join(LOSSES)}")


def entropy_bits(targets: torch.Tensor) -> float:
    """Mean binary entropy of soft labels, in bits (a diagnostic for how soft the labels are)."""
    p = targets.double().clamp(1e-12, 1 - 1e-12)
    h = -(p * p.log() + (1 - p) * (1 - p).log()) / math.log(2)
    return float(h.mean())
