"""Greedy and self-consistency accuracy of a model on held-out questions, as tidy rows.

Both use the same few-shot chain-of-thought prompt as sampling. Greedy: one path at
temperature 0. Self-consistency: `paths` sampled paths at `temperature`, majority answer. The
LMSI paper reports both before and after self-training; `evaluate_model` is called once per
model with a method prefix ("" before, "lmsi-" after) so the rows of both sit in one table.
`gain_rows` compares the two on the same questions: the gain with its paired interval and the
McNemar p-value (metrics "gain" and "mcnemar_p" of the "lmsi-" methods).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elicit.backends.base import LM
from elicit.evaluation.metrics import paired_gain, wilson_interval
from elicit.evaluation.results import ResultRow
from elicit.selfimprove.questions import Exemplar, QuestionSet
from elicit.selfimprove.sampling import Sampled, is_right, sample_paths

GREEDY = "greedy"
SELF_CONSISTENCY = "self-consistency"
AFTER_PREFIX = "lmsi-"


@dataclass(frozen=True)
class Evaluation:
    """Held-out results of one model: the rows, and every path for predictions files."""

    rows: tuple[ResultRow, ...]
    greedy: tuple[Sampled, ...]
    self_consistency: tuple[Sampled, ...]


def accuracy_row(
    sampled: Sequence[Sampled], test: QuestionSet, *, model: str, method: str, seed: int
) -> ResultRow:
    correct = sum(is_right(s, test.gold) for s in sampled)
    n = len(sampled)
    ci = wilson_interval(correct, n)
    return ResultRow(
        task=test.task,
        model=model,
        method=method,
        split="test",
        n=n,
        seed=seed,
        metric="accuracy",
        value=correct / n if n else float("nan"),
        ci_low=ci.low,
        ci_high=ci.high,
    )


def evaluate_model(
    lm: LM,
    test: QuestionSet,
    exemplars: Sequence[Exemplar],
    *,
    model: str,
    prefix: str,
    paths: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    questions_per_call: int = 8,
    progress: bool = True,
) -> Evaluation:
    """Greedy accuracy, and self-consistency accuracy over `paths` paths (skipped if < 2).

    model: the name written into the rows (the base model's, also after fine-tuning, so
        before/after rows share it and differ in method).
    """
    greedy = sample_paths(
        lm,
        test,
        exemplars,
        paths=1,
        temperature=0.0,
        max_new_tokens=max_new_tokens,
        seed=seed,
        questions_per_call=questions_per_call,
        progress=progress,
        desc=f"{prefix}greedy eval",
    )
    rows = [accuracy_row(greedy, test, model=model, method=prefix + GREEDY, seed=seed)]
    sc: list[Sampled] = []
    if paths > 1:
        sc = sample_paths(
            lm,
            test,
            exemplars,
            paths=paths,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            seed=seed + 1,  # not the training-pool sampling stream
            questions_per_call=questions_per_call,
            progress=progress,
            desc=f"{prefix}self-consistency eval",
        )
        rows.append(
            accuracy_row(sc, test, model=model, method=prefix + SELF_CONSISTENCY, seed=seed)
        )
    return Evaluation(tuple(rows), tuple(greedy), tuple(sc))


def gain_rows(
    before: Evaluation, after: Evaluation, test: QuestionSet, *, model: str, seed: int
) -> list[ResultRow]:
    """Per decoding, after minus before accuracy on the same test questions (`paired_gain`)."""
    rows = []
    for decoding, old, new in (
        (GREEDY, before.greedy, after.greedy),
        (SELF_CONSISTENCY, before.self_consistency, after.self_consistency),
    ):
        right_after = {s.uid: is_right(s, test.gold) for s in new}
        uids = [s.uid for s in old if s.uid in right_after]
        if not uids:
            continue
        right_before = {s.uid: is_right(s, test.gold) for s in old}
        gain = paired_gain([right_before[u] for u in uids], [right_after[u] for u in uids])
        for metric, value, low, high in (
            ("gain", gain.gain, gain.ci.low, gain.ci.high),
            ("mcnemar_p", gain.p_value, None, None),
        ):
            rows.append(
                ResultRow(
                    task=test.task,
                    model=model,
                    method=AFTER_PREFIX + decoding,
                    split="test",
                    n=gain.n,
                    seed=seed,
                    metric=metric,
                    value=value,
                    ci_low=low,
                    ci_high=high,
                )
            )
    return rows
