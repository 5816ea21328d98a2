"""Reward models (Bradley-Terry, export that transformers loads back with equal rewards,
pairwise accuracy, best-of-N) and completion SFT on tiny random models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from elicit.backends.base import GenerationConfig
from elicit.backends.fake import ScriptedLM
from elicit.errors import ConfigError
from elicit.training.best_of_n import best_of_n
from elicit.training.config import FitOptions
from elicit.training.data import Comparison, reward_text
from elicit.training.model import load_causal_lm
from elicit.training.reward import RewardModel, pairwise_accuracy, train_reward_model
from elicit.training.sft import Completion, completion_loss, encode_completion, train_completions

PAIRS = [
    Comparison(
        f"p{i}", f"Human: What is 2+{i}?", f"the answer is True {i}", f"is False {i}", float(i % 2)
    )
    for i in range(8)
]


def test_reward_model_learns_and_exports(tiny_model_dir: Path, tmp_path: Path) -> None:
    options = FitOptions(max_steps=15, train_batch_size=4, lr=1e-2)
    result = train_reward_model(
        str(tiny_model_dir), PAIRS, options, tmp_path, seed=0, progress=False
    )
    losses = result.fit.losses
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    rm = result.reward_model
    assert pairwise_accuracy(rm, PAIRS) >= 0.75
    texts = [reward_text(p.context, p.response_a) for p in PAIRS]
    expect = rm.rewards(texts)
    rm.save(tmp_path / "reward_model")

    # Loads back as a plain transformers reward model (TRL's consumers do the same).
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = tmp_path / "reward_model"
    model = AutoModelForSequenceClassification.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.num_labels == 1 and model.config.pad_token_id == tok.pad_token_id
    with torch.inference_mode():
        raw = [model(**tok(t, return_tensors="pt")).logits[0, 0].item() for t in texts]
    np.testing.assert_allclose(raw, expect, atol=1e-4)
    np.testing.assert_allclose(RewardModel.load(str(path)).rewards(texts), expect, atol=1e-4)


def test_best_of_n_picks_the_highest_reward(tiny_model_dir: Path) -> None:
    rm = RewardModel.load(str(tiny_model_dir), seed=0)
    replies = {0: "True", 1: "False", 2: "the claim"}

    def generate(prompt: str, config: GenerationConfig) -> str:
        return " " + replies[config.seed % 3] + "\n\nHuman: more"

    policy = ScriptedLM(generate=generate)
    picks = best_of_n(
        policy,
        rm,
        ["Human: hi", "Human: 2+2?"],
        3,
        GenerationConfig(temperature=0.8, stop=("\n\nHuman:",)),
    )
    assert policy.n_generate_calls == 3
    for b in picks:
        assert b.responses == ("True", "False", "the claim")  # cut at the next turn
        assert b.rewards[b.best_index] == max(b.rewards)
        assert b.rewards[0] == pytest.approx(
            rm.rewards([reward_text(b.context, "True")])[0], abs=1e-4
        )
    with pytest.raises(ConfigError, match="temperature 0"):
        best_of_n(policy, rm, ["x"], 2, GenerationConfig(temperature=0.0))


def test_completion_loss_counts_only_completion_tokens(tiny_model_dir: Path) -> None:
    lm = load_causal_lm(str(tiny_model_dir))
    item = Completion("Question: What is 2+2?", " The answer is 4.")
    ids, n = encode_completion(lm, item)
    assert ids[-1] == lm.eos_ids and ids[:-n] == lm.encoder.encode(item.prompt)
    # By hand: log-softmax over the whole sequence, completion positions only.
    with torch.no_grad():
        logits = lm.model(torch.tensor([ids])).logits[0]
        logp = torch.log_softmax(logits, -1)
        hand = -torch.stack([logp[t - 1, ids[t]] for t in range(len(ids) - n, len(ids))]).mean()
        other = encode_completion(lm, Completion("Hi", " True"))
        got = completion_loss(lm.model, lm, [(ids, n)])
        # Batched with a shorter row: the loss is the token mean over both rows' completions.
        both = completion_loss(lm.model, lm, [(ids, n), other])
    assert got.item() == pytest.approx(hand.item(), abs=1e-4)
    assert torch.isfinite(both)


def test_sft_lowers_the_completion_loss(tiny_model_dir: Path) -> None:
    items = [Completion(f"Question: What is 2+{i}?", f" The answer is {i + 2}.") for i in range(6)]
    result = train_completions(
        str(tiny_model_dir),
        items,
        FitOptions(max_steps=10, train_batch_size=3, lr=1e-2),
        seed=0,
        progress=False,
    )
    assert np.mean(result.fit.losses[-2:]) < np.mean(result.fit.losses[:2])
    result.merge()
    out = result.lm.generate([items[0].prompt], GenerationConfig(max_new_tokens=4))
    assert isinstance(out[0], str)
