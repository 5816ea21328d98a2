"""Linear probes on frozen features: the initial head is the LM's label-word head, training
learns, and `elicit w2s --objective probe` runs the whole protocol."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_w2s_run import config

from elicit.commands.w2s import run_w2s
from elicit.errors import ConfigError
from elicit.training.classifier import train_classifier
from elicit.training.config import FitOptions
from elicit.training.model import is_peft
from elicit.w2s.losses import make_loss
from elicit.w2s.probe import FrozenFeatures, ProbeHead, train_probe

PROMPTS = [f"Claim {i}: the sky is {w}.\nI think this claim is" for i, w in
           enumerate(["blue", "green", "red", "clear", "dark", "wet"])]  # fmt: skip


def test_initial_head_reproduces_the_label_word_logits(tiny_model_dir: Path) -> None:
    feats = FrozenFeatures(str(tiny_model_dir))
    x = feats.features(PROMPTS)
    assert x.shape == (len(PROMPTS), feats.hidden_size)
    head = feats.label_word_head()
    lm = feats.clf.lm
    assert lm is not None
    rows = [ids[0] for ids in feats.clf.label_ids]
    with torch.no_grad():
        for i, prompt in enumerate(PROMPTS):
            ids = torch.tensor([feats.clf.encode(prompt)])
            logits = lm.model(input_ids=ids).logits[0, -1, rows]
            torch.testing.assert_close(head.logits(x[i : i + 1])[0], logits, atol=1e-4, rtol=1e-4)
    # Cached: the same rows come back without another forward pass.
    assert torch.equal(feats.features(PROMPTS[:2]), x[:2])


def test_probe_training_fits_separable_targets() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=gen)
    y = (x[:, 0] > 0).float().numpy()
    init = ProbeHead(torch.zeros(2, 8), torch.zeros(2))
    head = train_probe(x, y, init, epochs=60, lr=0.05, seed=0)
    acc = ((head.predict_proba(x) > 0.5) == (y > 0.5)).mean()
    assert acc > 0.95
    assert torch.equal(init.weight, torch.zeros(2, 8))  # the initial head is not modified
    again = train_probe(x, y, init, epochs=60, lr=0.05, seed=0)
    assert torch.equal(again.weight, head.weight)  # seeded
    conf = train_probe(x, y, init, loss=make_loss("confidence"), epochs=5, lr=0.05, seed=0)
    assert conf.weight.shape == (2, 8)
    with pytest.raises(ConfigError):
        train_probe(x, y[:3], init)


def test_w2s_with_probes(tmp_path: Path, tiny_model_dir: Path) -> None:
    summary = run_w2s(
        config(tmp_path, tiny_model_dir, objective="probe", probe_epochs=3, out=str(tmp_path / "p"))
    )
    acc = summary.metrics.scores.accuracy
    assert set(acc) == {"weak", "strong-zero-shot", "w2s-xent", "w2s-confidence", "ceiling"}
    assert all(0.0 <= a <= 1.0 for a in acc.values())
    assert np.isfinite(summary.metrics.scores.weak_accuracy)


def test_bootstrapping_chain_adds_a_link(tmp_path: Path, tiny_model_dir: Path) -> None:
    summary = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            objective="probe",
            probe_epochs=2,
            losses="xent",
            chain=str(tiny_model_dir),
            out=str(tmp_path / "chain"),
        )
    )
    link = f"chain-1-{tiny_model_dir.name}"
    assert link in summary.metrics.scores.accuracy
    assert "w2s-xent" in summary.metrics.scores.pgr


def test_features_of_a_fine_tuned_word_classifier(tiny_model_dir: Path) -> None:
    targets = [1.0, 0.0] * 3
    result = train_classifier(
        str(tiny_model_dir), PROMPTS, targets, FitOptions(max_steps=3, lr=1e-2), seed=0,
        progress=False,
    )  # fmt: skip
    clf = result.classifier
    assert is_peft(clf.module)
    feats = FrozenFeatures(clf)
    assert not is_peft(feats.clf.module)  # merged, so the decoder stack is reachable
    x = feats.features(PROMPTS)
    head = feats.own_head()
    lm = feats.clf.lm
    assert lm is not None
    rows = [ids[0] for ids in feats.clf.label_ids]
    with torch.no_grad():
        ids = torch.tensor([feats.clf.encode(PROMPTS[0])])
        logits = lm.model(input_ids=ids).logits[0, -1, rows]
    torch.testing.assert_close(head.logits(x[:1])[0], logits, atol=1e-4, rtol=1e-4)
    # The fine-tuned head is not the untrained model's.
    base = FrozenFeatures(str(tiny_model_dir))
    assert not torch.allclose(base.features(PROMPTS[:1]), x[:1])


def test_features_of_a_linear_classifier_reproduce_its_logits(tiny_model_dir: Path) -> None:
    result = train_classifier(
        str(tiny_model_dir), PROMPTS, [1.0, 0.0] * 3, FitOptions(max_steps=2, lr=1e-2),
        seed=0, objective="linear", progress=False,
    )  # fmt: skip
    expected = result.classifier.predict_logits(PROMPTS)
    feats = FrozenFeatures(result.classifier)
    got = feats.own_head().logits(feats.features(PROMPTS)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(ConfigError, match="label-word head"):
        feats.label_word_head()


def test_fine_tune_on_weak_then_probe_on_gold(tmp_path: Path, tiny_model_dir: Path) -> None:
    summary = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            objective="word",
            losses="xent",
            probe_gold=True,
            probe_epochs=3,
            out=str(tmp_path / "ft"),
        )
    )
    acc = summary.metrics.scores.accuracy
    assert {"w2s-xent+probe-gold", "probe-gold", "probe-weak", "w2s-xent", "ceiling"} <= set(acc)
    # lp(gold) on the untrained model is the probe-objective protocol's ceiling, exactly.
    probed = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            objective="probe",
            losses="xent",
            probe_epochs=3,
            out=str(tmp_path / "lp"),
        )
    )
    ft = [json.loads(line) for line in (summary.out / "predictions.jsonl").open()]
    lp = [json.loads(line) for line in (probed.out / "predictions.jsonl").open()]
    np.testing.assert_allclose([p["probe-gold"] for p in ft], [p["ceiling"] for p in lp],
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose([p["probe-weak"] for p in ft], [p["w2s-xent"] for p in lp],
                               atol=1e-6)  # fmt: skip
    with pytest.raises(ConfigError, match="--probe-gold"):
        config(tmp_path, tiny_model_dir, objective="probe", probe_gold=True)
