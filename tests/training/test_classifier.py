"""Classifier fine-tuning on a tiny random Llama: weights move and the loss falls, the trained
label-word scores are what HFBackend scores, adapters round-trip, resume is exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import PROMPTS, TARGETS

from elicit.backends.hf import HFBackend
from elicit.errors import ConfigError
from elicit.training.classifier import make_classifier, train_classifier
from elicit.training.config import FitOptions
from elicit.training.export import export_model, load_adapter
from elicit.training.loop import micro_batches
from elicit.training.model import load_causal_lm

FAST = FitOptions(max_steps=20, train_batch_size=4, lr=1e-2)


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


@pytest.mark.parametrize("lora", [True, False])
def test_a_few_steps_change_weights_and_lower_the_loss(tiny_model_dir: Path, lora: bool) -> None:
    lm = load_causal_lm(str(tiny_model_dir))
    before = weights(lm.model)
    options = FitOptions(max_steps=12, train_batch_size=4, lr=1e-2 if lora else 3e-3, lora=lora)
    result = train_classifier(lm, PROMPTS, TARGETS, options, seed=0, progress=False)
    assert len(result.losses) == 12
    assert np.mean(result.losses[-3:]) < 0.5 * np.mean(result.losses[:3])
    result.classifier.merge()
    after = weights(lm.model)
    assert after.keys() == before.keys()  # merged: a plain model again
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    if lora:  # only the adapted linear layers move
        assert changed and all("proj" in n for n in changed)
    else:
        assert len(changed) == len(before)


def test_trained_scores_are_the_backends_scores(tiny_model_dir: Path, tmp_path: Path) -> None:
    lm = load_causal_lm(str(tiny_model_dir))
    result = train_classifier(lm, PROMPTS, TARGETS, FAST, tmp_path, seed=0, progress=False)
    clf = result.classifier
    unmerged = clf.scores(PROMPTS)
    clf.merge()
    # The label-word logits are the log-odds `elicit eval` reads (HFBackend.score).
    np.testing.assert_allclose(lm.score(PROMPTS), unmerged, atol=1e-4)
    acc = np.mean((clf.scores(PROMPTS) > 0) == np.array(TARGETS, dtype=bool))
    assert acc >= 0.75  # learnt most of the 8 claims (chance: 0.5)
    proba = clf.predict_proba(PROMPTS)
    assert proba.shape == (8,) and ((proba > 0) & (proba < 1)).all()
    # The exported directory is a model the hf backend loads, with the same scores.
    export_model(lm.model, lm.hf_tokenizer, tmp_path / "model")
    again = HFBackend(str(tmp_path / "model"), progress=False)
    np.testing.assert_allclose(again.score(PROMPTS), lm.score(PROMPTS), atol=1e-4)


def test_adapter_round_trip(tiny_model_dir: Path, tmp_path: Path) -> None:
    lm = load_causal_lm(str(tiny_model_dir))
    result = train_classifier(lm, PROMPTS, TARGETS, FAST, tmp_path, seed=0, progress=False)
    expect = result.classifier.scores(PROMPTS)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    fresh = load_causal_lm(str(tiny_model_dir))
    fresh.model = load_adapter(fresh.model, tmp_path / "adapter")
    np.testing.assert_allclose(make_classifier(fresh).scores(PROMPTS), expect, atol=1e-5)


def test_soft_targets_custom_loss_and_eval_callback(tiny_model_dir: Path) -> None:
    seen: list[float] = []

    def loss(logits: torch.Tensor, targets: torch.Tensor, step_frac: float) -> torch.Tensor:
        seen.append(step_frac)
        assert logits.shape == (targets.shape[0], 2)
        return torch.nn.functional.mse_loss(torch.softmax(logits, -1)[:, 1], targets)

    soft = [0.8 if t else 0.3 for t in TARGETS]
    calls: list[int] = []

    def eval_fn(clf: object, step: int) -> dict[str, float]:
        calls.append(step)
        return {"mean_p": float(np.mean(make_classifier(clf).predict_proba(PROMPTS)))}  # type: ignore[arg-type]

    options = FitOptions(max_steps=4, train_batch_size=8, lr=1e-2, eval_every=2)
    result = train_classifier(
        str(tiny_model_dir),
        PROMPTS,
        soft,
        options,
        seed=0,
        loss=loss,
        eval_fn=eval_fn,
        progress=False,
    )
    assert seen == [0.0, 0.25, 0.5, 0.75]
    assert calls == [2, 4] and [h["step"] for h in result.fit.history] == [2.0, 4.0]
    with pytest.raises(ConfigError, match="probabilities"):
        train_classifier(str(tiny_model_dir), PROMPTS, [2.0] * 8, options, progress=False)


def test_linear_head(tiny_model_dir: Path) -> None:
    options = FitOptions(max_steps=10, train_batch_size=8, lr=1e-2)
    result = train_classifier(
        str(tiny_model_dir), PROMPTS, TARGETS, options, seed=0, objective="linear", progress=False
    )
    assert result.losses[-1] < result.losses[0]
    assert result.classifier.predict_logits(PROMPTS).shape == (8, 2)


def test_resume_matches_an_uninterrupted_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    options = FitOptions(max_steps=6, train_batch_size=4, lr=1e-2, checkpoint_every=3)
    full = train_classifier(
        str(tiny_model_dir), PROMPTS, TARGETS, options, tmp_path / "a", seed=3, progress=False
    )
    # A run stopped after its step-3 checkpoint, then resumed.
    short = FitOptions(max_steps=6, train_batch_size=4, lr=1e-2, checkpoint_every=3)

    class Stop(Exception):
        pass

    def stop_at_4(clf: object, step: int) -> dict[str, float]:
        raise Stop

    with pytest.raises(Stop):
        train_classifier(
            str(tiny_model_dir),
            PROMPTS,
            TARGETS,
            FitOptions(**{**short.fit_dict(), "eval_every": 4}),
            tmp_path / "b",
            seed=3,
            eval_fn=stop_at_4,
            progress=False,
        )
    # The checkpoint from step 3 is there; resuming with other settings is refused.
    with pytest.raises(ConfigError, match="other settings"):
        train_classifier(
            str(tiny_model_dir),
            PROMPTS,
            TARGETS,
            options,
            tmp_path / "b",
            seed=4,
            resume=True,
            progress=False,
        )
    resumed = train_classifier(
        str(tiny_model_dir),
        PROMPTS,
        TARGETS,
        FitOptions(**{**short.fit_dict(), "eval_every": 4}),
        tmp_path / "b",
        seed=3,
        resume=True,
        progress=False,
    )
    assert resumed.fit.resumed_from == 3
    np.testing.assert_allclose(resumed.losses, full.losses, rtol=1e-4)
    np.testing.assert_allclose(
        resumed.classifier.scores(PROMPTS), full.classifier.scores(PROMPTS), atol=1e-4
    )


def test_library_leaves_the_global_rng_alone(tiny_model_dir: Path) -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    train_classifier(
        str(tiny_model_dir), PROMPTS, TARGETS, FitOptions(max_steps=1), seed=0, progress=False
    )
    assert torch.equal(torch.get_rng_state(), state)


def test_micro_batches_cover_each_epoch() -> None:
    it = micro_batches(5, 2, seed=0)
    epoch = [next(it) for _ in range(3)]
    assert sorted(i for b in epoch for i in b) == list(range(5)) and len(epoch[-1]) == 1
    again = micro_batches(5, 2, seed=0, start=2)
    assert next(again) == epoch[2]
