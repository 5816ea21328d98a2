"""The weak-to-strong losses against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from elicit.errors import ConfigError
from elicit.w2s.losses import (
    ConfidenceLoss,
    ProductLoss,
    harden_by_prior,
    make_loss,
    xent_loss,
)


def logits_for(p_true: list[float]) -> torch.Tensor:
    """Two-class logits whose softmax gives exactly these P(True)."""
    p = torch.tensor(p_true, dtype=torch.float64)
    return torch.stack([torch.zeros_like(p), torch.log(p / (1 - p))], dim=-1)


def hand_ce(p_true: list[float], targets: list[float]) -> float:
    terms = [
        -(t * math.log(p) + (1 - t) * math.log(1 - p)) for p, t in zip(p_true, targets, strict=True)
    ]
    return sum(terms) / len(terms)


P = [0.9, 0.8, 0.3, 0.1]
WEAK = [1.0, 0.0, 1.0, 0.0]


def test_soft_cross_entropy_matches_hand_computation() -> None:
    got = xent_loss(logits_for(P), torch.tensor([0.7, 0.2, 1.0, 0.5]), 0.0)
    assert float(got) == pytest.approx(hand_ce(P, [0.7, 0.2, 1.0, 0.5]), rel=1e-6)
    assert float(xent_loss(logits_for(P), torch.tensor(WEAK), 0.9)) == pytest.approx(
        hand_ce(P, WEAK), rel=1e-6
    )


def test_hardening_matches_the_prior_share() -> None:
    p = torch.tensor([0.2, 0.9, 0.5, 0.4, 0.95])
    assert harden_by_prior(p, 0.4).tolist() == [0, 1, 0, 0, 1]
    assert harden_by_prior(p, 0.0).tolist() == [0, 0, 0, 0, 0]
    assert harden_by_prior(p, 1.0).tolist() == [1, 1, 1, 1, 1]
    # Ties keep batch order, so the result is deterministic.
    assert harden_by_prior(torch.tensor([0.5, 0.5, 0.5]), 1 / 3).tolist() == [1, 0, 0]


def test_confidence_loss_mixes_weak_and_hardened_targets_by_hand() -> None:
    loss = ConfidenceLoss(a_max=0.5, warmup="linear", warmup_frac=0.2, prior="weak")
    # Halfway through the warm-up a = 0.25; the prior is the weak labels' share, 1/2, so the
    # hardened predictions are the two most confident: [1, 1, 0, 0].
    mixed = [0.75 * w + 0.25 * h for w, h in zip(WEAK, [1, 1, 0, 0], strict=True)]
    got = loss(logits_for(P), torch.tensor(WEAK), 0.1)
    assert float(got) == pytest.approx(hand_ce(P, mixed), rel=1e-6)


def test_confidence_weight_schedules() -> None:
    linear = ConfidenceLoss(a_max=0.5, warmup="linear", warmup_frac=0.2)
    assert [linear.weight(f) for f in (0.0, 0.1, 0.2, 0.9)] == pytest.approx([0, 0.25, 0.5, 0.5])
    assert make_loss("confidence").weight(0.1) == pytest.approx(0.25)  # type: ignore[attr-defined]
    assert make_loss("confidence-code", a_max=0.75).weight(0.5) == 0.75  # type: ignore[attr-defined]


def test_confidence_code_warmup_is_the_released_codes() -> None:
    # openai/weak-to-strong `logconf_loss_fn`: coef = 1 if step_frac > warmup_frac (0.1) else
    # step_frac, times aux_coef (0.5). So the weight creeps to 0.05 over the first 10% of
    # training and then jumps to 0.5; it is not 0 before the jump.
    code = make_loss("confidence-code")
    fracs = (0.0, 0.05, 0.1, 0.1001, 0.5)
    assert [code.weight(f) for f in fracs] == pytest.approx([0, 0.025, 0.05, 0.5, 0.5])  # type: ignore[attr-defined]
    # ... and the loss uses it: at step_frac 0.05 the hardened term has weight 0.025.
    mixed = [0.975 * w + 0.025 * h for w, h in zip(WEAK, [1, 1, 0, 0], strict=True)]
    assert float(code(logits_for(P), torch.tensor(WEAK), 0.05)) == pytest.approx(
        hand_ce(P, mixed), rel=1e-6
    )


def test_confidence_loss_before_warmup_is_plain_cross_entropy() -> None:
    loss = ConfidenceLoss(warmup="linear", warmup_frac=0.2)
    assert float(loss(logits_for(P), torch.tensor(WEAK), 0.0)) == pytest.approx(
        hand_ce(P, WEAK), rel=1e-6
    )


def test_step_targets_are_the_mixed_targets_of_the_whole_batch() -> None:
    loss = ConfidenceLoss(a_max=0.5, warmup_frac=0.0)
    p = torch.tensor(P)
    got = loss.step_targets(p, torch.tensor(WEAK), 1.0)
    assert got.tolist() == pytest.approx(
        [0.5 * w + 0.5 * h for w, h in zip(WEAK, [1, 1, 0, 0], strict=True)]
    )
    # The same targets as the loss of the whole batch: CE against them is that loss.
    assert float(xent_loss(logits_for(P), got, 1.0)) == pytest.approx(
        float(loss(logits_for(P), torch.tensor(WEAK), 1.0)), rel=1e-6
    )


def test_confidence_loss_half_prior_and_gradient_flows() -> None:
    logits = logits_for([0.6, 0.55, 0.52, 0.51]).float().requires_grad_(True)
    weak = torch.tensor([1.0, 1.0, 1.0, 0.0])  # weak prior 3/4, "half" prior 1/2
    ConfidenceLoss(a_max=1.0, warmup_frac=0.0, prior="half")(logits, weak, 1.0).backward()
    assert logits.grad is not None
    # With a = 1 the target is the hardened prediction [1, 1, 0, 0]: the third example is
    # pushed towards False although the supervisor says True.
    assert float(logits.grad[2, 1]) > 0


def test_product_loss_target_is_normalised_product() -> None:
    p, w = [0.8, 0.4], [0.5, 0.9]
    target = [(a * b) / (a * b + (1 - a) * (1 - b)) for a, b in zip(p, w, strict=True)]
    got = ProductLoss()(logits_for(p), torch.tensor(w), 0.5)
    assert float(got) == pytest.approx(hand_ce(p, target), rel=1e-5)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown weak-to-strong loss"):
        make_loss("nope")
    with pytest.raises(ConfigError):
        ConfidenceLoss(a_max=1.5)
    with pytest.raises(ValueError, match="shape"):
        xent_loss(torch.zeros(3, 3), torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="targets"):
        xent_loss(torch.zeros(3, 2), torch.zeros(2), 0.0)
