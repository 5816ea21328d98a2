"""The real default model (gemma-3-270m) through a tiny fine-tuning: 8 SST-2 claims, 2 steps."""

from __future__ import annotations

import numpy as np
import pytest

from elicit.tasks import LoadOptions, load_task, sample
from elicit.training.classifier import train_classifier
from elicit.training.config import FitOptions
from elicit.training.model import load_causal_lm


@pytest.mark.slow
def test_two_steps_on_gemma_lower_the_loss_and_score_like_the_backend() -> None:
    data = sample(load_task("ethics-justice", LoadOptions(split="train")), 8, seed=0)
    prompts = [ex.prompt for ex in data.examples]
    targets = [float(data.gold[ex.uid]) for ex in data.examples]
    lm = load_causal_lm("gemma-3-270m")
    before = lm.score(prompts)
    result = train_classifier(
        lm, prompts, targets, FitOptions(max_steps=2, train_batch_size=8), seed=0, progress=False
    )
    assert len(result.losses) == 2 and result.losses[1] < result.losses[0]
    trained = result.classifier.scores(prompts)
    result.classifier.merge()
    after = lm.score(prompts)
    assert not np.allclose(before, after, atol=1e-3)
    np.testing.assert_allclose(after, trained, atol=2e-3)
