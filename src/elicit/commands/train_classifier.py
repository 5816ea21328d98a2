"""The classifier half of `elicit train` (`--objective word` or `linear`); see `commands.train`.

The base model is scored zero-shot on the test claims (--eval-before), fine-tuned on the
targets, its LoRA merged, and scored again: for the label-word objective by
`baselines.zero_shot_scores` on the trained `HFBackend`, the same call `elicit eval` makes, so
the "finetune-<source>" row is the fine-tuned model's zero-shot accuracy; for the linear head
by the head's log-odds. The merged model goes to model/.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from elicit.backends.base import LM, LabelSet
from elicit.evaluation import baselines as bl
from elicit.evaluation.metrics import summarize
from elicit.evaluation.results import ResultRow
from elicit.runs import atomic_write_jsonl
from elicit.tasks.base import TaskData
from elicit.training.data import Targets

if TYPE_CHECKING:
    from elicit.commands.train import FitRecord, TrainConfig


def run_classifier(
    config: TrainConfig, out: Path, test: TaskData, targets: Targets, resuming: bool
) -> tuple[list[ResultRow], FitRecord]:
    from elicit.commands.train import fit_record, result_rows, uid_hash, write_train_log
    from elicit.training.classifier import make_classifier, train_classifier
    from elicit.training.export import export_model
    from elicit.training.model import load_causal_lm

    label_set = LabelSet(words=test.label_words)
    queries = [ex.prompt for ex in test.examples]
    gold = test.gold_of(test.examples)
    method = config.method_name()
    rows: list[ResultRow] = []
    predictions: list[dict[str, Any]] = []
    lm: LM | None = None
    if config.objective == "word":
        backend = load_causal_lm(
            config.model,
            device=config.device,
            dtype=config.dtype,
            max_length=config.max_length,
            batch_size=config.lm_batch_size,
            progress=config.progress,
        )
        lm = backend
        model_name = backend.name
        clf = make_classifier(backend, "word", label_words=test.label_words)
    else:
        clf = make_classifier(
            config.model,
            "linear",
            seed=config.seed,
            device=config.device,
            max_length=config.max_length,
        )
        model_name = config.model
    if config.eval_before:
        # The base model's zero-shot score, by the code `elicit eval` runs (linear: no head yet,
        # so the zero-shot row always comes from the label words).
        base = lm if lm is not None else config.load_lm(progress=False)
        scores0 = bl.zero_shot_scores(base, queries, label_set)
        rows += result_rows(
            config, model_name, bl.ZERO_SHOT, len(gold), _eval_metrics(scores0, gold)
        )
        predictions += _predictions(bl.ZERO_SHOT, test, scores0, gold)
        if base is not lm:
            base.close()
    result = train_classifier(
        clf,
        targets.examples,
        targets.targets,
        config.fit_options(),
        out,
        seed=config.seed,
        objective=clf.objective,
        label_words=test.label_words,
        resume=resuming,
        progress=config.progress,
        fingerprint={"uids": uid_hash(targets)},
    )
    write_train_log(out, result.losses)
    clf.merge()
    if lm is not None:
        scores = bl.zero_shot_scores(lm, queries, label_set)  # exactly `elicit eval`'s zero-shot
    else:
        scores = clf.scores(queries, config.lm_batch_size)
    rows += result_rows(config, model_name, method, len(gold), _eval_metrics(scores, gold))
    predictions += _predictions(method, test, scores, gold)
    atomic_write_jsonl(out / "predictions.jsonl", predictions)
    if config.save_model:
        if clf.lm is not None:
            export_model(clf.lm.model, clf.lm.hf_tokenizer, out / "model")
        elif clf.seq is not None:
            export_model(clf.seq.model, clf.seq.tokenizer, out / "model")
    return rows, fit_record(result)


def _eval_metrics(scores: np.ndarray, gold: list[int]) -> dict[str, float | None]:
    m = summarize(scores, gold)
    keep = ("accuracy", "calibrated_accuracy", "auroc", "frac_predicted_true")
    return {k: m[k] for k in keep}


def _predictions(
    method: str, test: TaskData, scores: np.ndarray, gold: list[int]
) -> list[dict[str, Any]]:
    return [
        {"uid": ex.uid, "method": method, "score": float(s), "prediction": int(s > 0), "gold": g}
        for ex, s, g in zip(test.examples, scores, gold, strict=True)
    ]


__all__ = ["run_classifier"]
