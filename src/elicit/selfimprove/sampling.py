"""Sampling reasoning paths through the LM protocol, and scoring them against gold.

Every question's few-shot chain-of-thought prompt is sent `paths` times in one `LM.generate`
call per chunk of questions, so a backend batches the copies together (and a prefix-caching
server shares their prompt). Temperature 0 means one greedy path. Each chunk gets its own seed
derived from `seed`, so a run is reproducible for a given seed, chunking and backend batch size.

    from elicit.selfimprove.sampling import sample_paths
    sampled = sample_paths(lm, questions, exemplars, paths=32, temperature=0.7,
                           max_new_tokens=256, seed=0)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tqdm import tqdm

from elicit.backends.base import LM, GenerationConfig
from elicit.errors import ConfigError
from elicit.selfimprove.extract import extract_answer
from elicit.selfimprove.prompts import STOP, cot_prompt
from elicit.selfimprove.questions import Exemplar, QuestionSet
from elicit.selfimprove.vote import Vote, majority_vote


@dataclass(frozen=True)
class Sampled:
    """The sampled paths of one question, their extracted answers, and the vote over them."""

    uid: str
    question: str
    paths: tuple[str, ...]
    answers: tuple[str | None, ...]
    vote: Vote

    def to_dict(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "paths": list(self.paths),
            "answers": list(self.answers),
            "majority": self.vote.answer,
            "agreement": self.vote.agreement,
            "n_answered": self.vote.n_answered,
            "counts": dict(self.vote.counts),
        }


def sample_paths(
    lm: LM,
    questions: QuestionSet,
    exemplars: Sequence[Exemplar],
    *,
    paths: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    questions_per_call: int = 8,
    progress: bool = True,
    desc: str = "sampling",
) -> list[Sampled]:
    """`paths` continuations of each question's CoT prompt, answers extracted and voted on."""
    if paths < 1:
        raise ConfigError(f"--paths must be at least 1, got {paths}")
    if temperature == 0 and paths > 1:
        raise ConfigError(
            f"{paths} paths at temperature 0 would all be the same greedy path; "
            "pass --temperature > 0 (the paper uses 0.7) or --paths 1"
        )
    qs = questions.questions
    chunks = [qs[i : i + questions_per_call] for i in range(0, len(qs), questions_per_call)]
    out: list[Sampled] = []
    show = progress and sys.stderr.isatty()
    for c, chunk in enumerate(tqdm(chunks, desc=desc, unit="chunk", disable=not show)):
        config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            stop=STOP,
            seed=seed * 100_003 + c,
        )
        prompts = [
            cot_prompt(exemplars, q.text, questions.kind) for q in chunk for _ in range(paths)
        ]
        texts = lm.generate(prompts, config)
        for j, q in enumerate(chunk):
            ps = tuple(texts[j * paths : (j + 1) * paths])
            answers = tuple(extract_answer(t, questions.kind, questions.n_choices) for t in ps)
            out.append(Sampled(q.uid, q.text, ps, answers, majority_vote(answers)))
    return out


def is_right(sampled: Sampled, gold: Mapping[str, str]) -> bool:
    """Whether the question's majority answer (the only one, for one path) is its gold one."""
    return sampled.vote.answer == gold.get(sampled.uid)


def accuracy(sampled: Sequence[Sampled], gold: Mapping[str, str]) -> float:
    """Share of questions whose majority answer (the only one, for one path) equals gold."""
    if not sampled:
        return float("nan")
    return sum(is_right(s, gold) for s in sampled) / len(sampled)
