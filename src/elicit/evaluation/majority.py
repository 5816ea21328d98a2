"""Majority-vote labelling: each claim labelled independently by the model's consensus.

The baseline that shows what ICM's *joint* search adds over asking the model about each claim
on its own (issue 8, part 4; the claim-level analogue of self-consistency). No gold is used:

1. Score every claim zero-shot and label the top half by score True (the median threshold of
   `metrics.median_predictions`). These labels only fill the few-shot contexts below; the
   median removes the constant bias of small base models toward one label word, so the
   contexts are balanced.
2. Ask the model `votes` times. Each time, draw `shots` claims (a seeded random subset in a
   seeded random order) as demonstrations with their step-1 labels, and score every *other*
   claim after them (one shared context per vote, so a prefix cache computes it once). A vote
   is the model's own decision, True when log P(True) - log P(False) > 0.
3. A claim's label is the majority of its votes; a tie goes to the sign of its summed scores
   (ties at exactly 0 go True), and a claim that drew no vote (it sat in every context, only
   possible for tiny sets) keeps its step-1 label.

Cost: `votes` many-shot contexts over the claims, i.e. votes x n prompts of (shots + 1) claims,
against ICM's thousands of leave-one-out evaluations. `elicit eval` runs it as the label
source "majority-vote" on the same demonstrations the other many-shot methods use, and reports
its agreement with gold next to ICM's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from elicit.backends.base import LM, Demo, LabelSet
from elicit.errors import ConfigError
from elicit.evaluation.metrics import median_predictions
from elicit.tasks.base import Example

#: The method / label-source name `elicit eval` reports.
MAJORITY = "majority-vote"


def majority_labels(
    lm: LM,
    examples: Sequence[Example],
    label_set: LabelSet,
    *,
    votes: int,
    shots: int,
    seed: int,
) -> dict[str, int]:
    """uid -> majority label of each example (see the module docstring for the procedure)."""
    if votes < 1:
        raise ConfigError(f"--majority-votes must be at least 1, got {votes}")
    if shots < 0:
        raise ConfigError(f"--majority-shots must be >= 0, got {shots}")
    n = len(examples)
    if n == 0:
        return {}
    prompts = [ex.prompt for ex in examples]
    seed_labels = median_predictions(lm.score(prompts, label_set))
    true_votes = np.zeros(n)
    cast = np.zeros(n)
    score_sum = np.zeros(n)
    rng = random.Random(f"elicit-majority-vote-{seed}")
    k = min(shots, n - 1)  # leave at least one claim to ask about
    for _ in range(votes):
        context = rng.sample(range(n), k)  # a random subset, in a random order
        in_context = set(context)
        queries = [i for i in range(n) if i not in in_context]
        demos = [Demo(prompts[i], int(seed_labels[i])) for i in context]
        scores = lm.context_scores(demos, [prompts[i] for i in queries], label_set)
        for i, s in zip(queries, scores, strict=True):
            true_votes[i] += float(s > 0)
            cast[i] += 1
            score_sum[i] += float(s)
    out: dict[str, int] = {}
    for i, ex in enumerate(examples):
        if cast[i] == 0:
            out[ex.uid] = int(seed_labels[i])
        elif 2 * true_votes[i] != cast[i]:
            out[ex.uid] = int(2 * true_votes[i] > cast[i])
        else:
            out[ex.uid] = int(score_sum[i] >= 0)
    return out
