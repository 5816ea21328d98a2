"""Generative fine-tuning: an unsupervised language-modelling pass on the task's texts.

    elicit w2s --task sst2 --generative-finetune --gen-steps 20

Burns et al. (2023) raised weak-to-strong PGR on reward modelling by first fine-tuning the
strong model to predict the task's texts, without any labels, so that the task's concepts are
more salient in its features before it meets the weak labels. `elicit w2s
--generative-finetune` does the same before every strong student: the claim texts of half 2
(the students' own training texts; the labels are never read, the closing "I think this claim
is" is dropped) train the strong model for `--gen-steps` optimizer steps of next-token loss
over every token (`training.sft`, LoRA or full like the students, no end-of-text token: a
label word, not the end, follows a claim). The adapters are merged and the model is written
to the run's generative/model directory, which every student (and the ceiling) then loads in
place of --strong; it is deleted when the run finishes (the adapter stays in
generative/adapter).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elicit.errors import ConfigError
from elicit.tasks.base import CLAIM_SUFFIX
from elicit.training.config import FitOptions


@dataclass(frozen=True)
class GenerativeRecord:
    """What the generative pass did, as a w2s run's metrics.json records it."""

    n_texts: int
    steps: int
    loss_first: float | None
    loss_last: float | None
    seconds: float


@dataclass(frozen=True)
class GenerativeResult:
    model_dir: Path  # the merged model the students start from
    n_texts: int
    steps: int
    losses: tuple[float, ...]  # mean token cross-entropy per optimizer step
    seconds: float

    def describe(self) -> GenerativeRecord:
        return GenerativeRecord(
            n_texts=self.n_texts,
            steps=self.steps,
            loss_first=self.losses[0] if self.losses else None,
            loss_last=self.losses[-1] if self.losses else None,
            seconds=self.seconds,
        )


def claim_texts(prompts: Sequence[str]) -> list[str]:
    """The task's texts: the claim prompts without the closing "I think this claim is"."""
    out = []
    for p in prompts:
        body = p.removesuffix(CLAIM_SUFFIX).rstrip()
        if body:
            out.append(body)
    return out


def generative_finetune(
    model: str,
    texts: Sequence[str],
    options: FitOptions,
    out: Path,
    *,
    seed: int,
    progress: bool = True,
) -> GenerativeResult:
    """Train `model` on next-token prediction of `texts`; return the merged model's directory."""
    from elicit.training.model import load_causal_lm
    from elicit.training.sft import Completion, train_completions

    if not texts:
        raise ConfigError("generative fine-tuning: no texts to train on")
    start = time.perf_counter()
    lm = load_causal_lm(model)
    if lm.encoder.encode(""):
        # The sequence starts with BOS, which predicts the first token: every token has loss.
        items = [Completion("", t) for t in texts]
    else:
        # No BOS: the first word is the context the rest is predicted from.
        items = []
        for t in texts:
            head, sep, tail = t.partition(" ")
            if tail:
                items.append(Completion(head, sep + tail))
    if not items:
        raise ConfigError("generative fine-tuning: every text is a single word")
    result = train_completions(lm, items, options, out, seed=seed, add_eos=False, progress=progress)
    result.merge()
    model_dir = result.export(out / "model")
    return GenerativeResult(
        model_dir=model_dir,
        n_texts=len(items),
        steps=result.fit.steps,
        losses=result.fit.losses,
        seconds=time.perf_counter() - start,
    )


__all__ = ["GenerativeRecord", "GenerativeResult", "claim_texts", "generative_finetune"]
