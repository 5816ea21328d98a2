"""Generative fine-tuning: the language-modelling pass learns the task's texts, writes the model
the students start from, and `elicit w2s --generative-finetune` trains them from it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from test_w2s_run import config

from elicit.commands.w2s import W2SMetrics, run_w2s
from elicit.tasks.base import CLAIM_SUFFIX
from elicit.training.config import FitOptions
from elicit.training.model import load_causal_lm
from elicit.w2s.generative import claim_texts, generative_finetune

TEXTS = ["The movie was good and the actors were great."] * 4 + ["The claim is true."] * 4


def _text_loss(model: str | Path, texts: list[str]) -> float:
    """Mean next-token cross-entropy of `texts` (after BOS) under the model in `model`."""
    lm = load_causal_lm(str(model))
    losses = []
    with torch.no_grad():
        for t in texts:
            ids = torch.tensor([lm.encoder.encode(t)])
            logits = lm.model(input_ids=ids).logits[0, :-1]
            losses.append(torch.nn.functional.cross_entropy(logits, ids[0, 1:]).item())
    return sum(losses) / len(losses)


def test_claim_texts_drop_the_claim_suffix() -> None:
    prompts = [f"Review: fine\nClaim: it is good.\n{CLAIM_SUFFIX}", CLAIM_SUFFIX]
    assert claim_texts(prompts) == ["Review: fine\nClaim: it is good."]


def test_language_modelling_pass_learns_the_texts(tmp_path: Path, tiny_model_dir: Path) -> None:
    before = _text_loss(tiny_model_dir, TEXTS)
    result = generative_finetune(
        str(tiny_model_dir), TEXTS, FitOptions(max_steps=8, lr=1e-2, train_batch_size=4),
        tmp_path / "gen", seed=0, progress=False,
    )  # fmt: skip
    assert result.steps == 8 and len(result.losses) == 8
    assert result.losses[-1] < result.losses[0]
    # The exported directory holds the trained (merged) weights: the texts got likelier.
    assert _text_loss(result.model_dir, TEXTS) < before - 0.5
    assert (tmp_path / "gen" / "adapter").is_dir()


def test_w2s_students_start_from_the_generative_model(tmp_path: Path, tiny_model_dir: Path) -> None:
    summary = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            objective="probe",
            probe_epochs=2,
            losses="xent",
            generative_finetune=True,
            gen_steps=3,
            lr=1e-2,
            out=str(tmp_path / "gen"),
        )
    )
    gen = summary.metrics.generative
    assert gen is not None
    assert gen.steps == 3 and gen.n_texts == summary.metrics.n_half2
    written = json.loads((summary.out / "metrics.json").read_text())
    assert written["generative"]["steps"] == 3
    assert W2SMetrics.from_dict(written) == summary.metrics
    accuracy = summary.metrics.scores.accuracy
    assert {"strong-zero-shot", "strong-gen-zero-shot", "w2s-xent", "ceiling"} <= set(accuracy)
    preds = [json.loads(line) for line in (summary.out / "predictions.jsonl").open()]
    # The LM pass moved the model: its zero-shot P(True) differs from the untrained model's.
    assert any(abs(p["strong-zero-shot"] - p["strong-gen-zero-shot"]) > 1e-4 for p in preds)
    assert not (summary.out / "generative" / "model").exists()  # deleted; the adapter stays
    assert (summary.out / "generative" / "adapter").is_dir()
    # The students learned on the new model's features: the same run without the LM pass
    # gives other predictions.
    plain = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            objective="probe",
            probe_epochs=2,
            losses="xent",
            out=str(tmp_path / "plain"),
        )
    )
    before = [json.loads(line) for line in (plain.out / "predictions.jsonl").open()]
    assert [p["strong-zero-shot"] for p in before] == [p["strong-zero-shot"] for p in preds]
    assert any(abs(a["ceiling"] - b["ceiling"]) > 1e-4 for a, b in zip(before, preds, strict=True))
