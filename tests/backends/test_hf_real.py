"""The real default model, gemma-3-270m (slow: converts once into the user cache, ~1 min).

A 270M base model is a weak judge of truth: zero-shot it ranks "2+2 = 4" above "2+2 = 5" only
by ~0.02 nats, and gets some obvious pairs wrong. The assertions below stick to what held with
margin when checked: token ids, batch invariance, most of the probability mass on True/False,
and the direction of the few-shot scores over a handful of obvious pairs.
"""

from __future__ import annotations

import numpy as np
import pytest

from elicit.backends.base import Demo, GenerationConfig, LabelSet
from elicit.backends.hf import HFBackend
from elicit.backends.prompting import render_context
from elicit.models import model_status

pytestmark = pytest.mark.slow


def claim(question: str, answer: str) -> str:
    return f"Question: {question}\nClaim: {answer}\nI think this claim is"


DEMOS = [
    Demo(claim("What is 1+1?", "2"), 1),
    Demo(claim("What is 3+3?", "7"), 0),
    Demo(claim("What is the capital of Italy?", "Rome"), 1),
    Demo(claim("What is the capital of Spain?", "Berlin"), 0),
    Demo(claim("What is 5+5?", "10"), 1),
    Demo(claim("How many days are in a week?", "3"), 0),
]
PAIRS = [  # question, true answer, false answer
    ("What is 2+2?", "4", "5"),
    ("What is the capital of France?", "Paris", "London"),
    ("How many legs does a spider have?", "8", "3"),
    ("What color is the sky on a clear day?", "blue", "green"),
    ("What is 10 times 10?", "100", "20"),
    ("What is 2+2?", "4", "9"),
]


def test_converted_and_tokens(gemma_lm: HFBackend) -> None:
    assert model_status("gemma-3-270m").startswith("cached at ")
    assert gemma_lm.tokenizer.bos_id == 2
    assert gemma_lm.tokenizer.encode(" True") == [6288]
    assert gemma_lm.tokenizer.encode(" False") == [8450]
    false_ids, true_ids = gemma_lm.encoder.label_variants(LabelSet())
    assert false_ids[0] == (8450,) and true_ids[0] == (6288,)
    assert (4339,) in true_ids and (1847,) in true_ids  # "True", " true"
    assert gemma_lm.max_length == 8192  # 32k positions, capped


def test_batch_equals_single(gemma_lm: HFBackend) -> None:
    prompts = [claim(q, a) for q, a, _ in PAIRS[:3]] + [
        render_context(DEMOS, claim("Hi?", "no"), LabelSet())
    ]
    batched = gemma_lm.label_logprobs(prompts)
    single = np.concatenate([gemma_lm.label_logprobs([p]) for p in prompts])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    # After "I think this claim is" the label words hold much of the next-token mass
    # (0.3-0.55 zero-shot when checked), and nearly all of it after a few demos (0.98).
    mass = np.exp(batched).sum(1)
    assert (mass[:3] > 0.2).all() and mass[3] > 0.9


def test_obvious_claims_go_the_right_way(gemma_lm: HFBackend) -> None:
    zero_shot = gemma_lm.score(
        [claim("What is the capital of France?", a) for a in ("Paris", "London")]
    )
    assert zero_shot[0] - zero_shot[1] > 0.2
    prompts = [render_context(DEMOS, claim(q, a), LabelSet()) for q, t, f in PAIRS for a in (t, f)]
    margins = gemma_lm.score(prompts).reshape(-1, 2) @ np.array([1.0, -1.0])
    assert (margins > 0).sum() >= len(PAIRS) - 1 and margins.mean() > 0


def test_greedy_answer(gemma_lm: HFBackend) -> None:
    out = gemma_lm.generate(
        ["Question: What is 2+2?\nAnswer:"], GenerationConfig(max_new_tokens=10, stop=("\n",))
    )
    assert "4" in out[0] and "\n" not in out[0]
