"""`elicit score`: zero-shot accuracy of a model on a task, the first real measurement.

Each example's prompt ends with "I think this claim is"; the model's log-odds
log P(" True") - log P(" False") at the next token is its zero-shot score. The run directory
holds `config.json`, `predictions.jsonl` (uid, score, prediction, gold), `metrics.json` and
tidy `results.jsonl` rows.

    elicit score --task sst2 --n 100
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from elicit.backends.base import LM, LabelSet
from elicit.config import config_to_dict
from elicit.evaluation.metrics import median_predictions, summarize
from elicit.evaluation.results import ResultRow
from elicit.options import DataOptions, LMOptions, RunOptions, run_dir
from elicit.runs import atomic_write_json, atomic_write_jsonl, staged_run_dir
from elicit.tasks.base import TaskData


@dataclass(frozen=True)
class ScoreConfig(RunOptions, LMOptions, DataOptions):
    """Options of `elicit score` (all shared with other commands)."""

    def out_dir(self) -> Path:
        return run_dir(self, "score", split=True)


@dataclass(frozen=True)
class ScoreSummary:
    out: Path
    n: int
    metrics: dict[str, float | None]


def score_examples(lm: LM, data: TaskData) -> np.ndarray:
    label_set = LabelSet(words=data.label_words)
    return lm.score([ex.prompt for ex in data.examples], label_set)


def run_score(config: ScoreConfig, lm: LM | None = None) -> ScoreSummary:
    """Score `config.task` zero-shot and write the run directory. `lm` overrides the model."""
    out = config.out_dir()
    data = config.load_gold_sample("score")
    gold = data.gold_of(data.examples)
    # The run directory is checked (finished? foreign?) before the model loads: fail fast.
    with staged_run_dir(out, force=config.force) as stage:
        if lm is None:
            lm = config.load_lm(config.progress)
        atomic_write_json(stage / "config.json", config_to_dict(config))
        start = time.perf_counter()
        scores = score_examples(lm, data)
        seconds = time.perf_counter() - start
        metrics = summarize(scores, gold)
        calibrated = median_predictions(scores)
        atomic_write_jsonl(
            stage / "predictions.jsonl",
            (
                {
                    "uid": ex.uid,
                    "score": float(s),
                    "prediction": int(s > 0),
                    "calibrated_prediction": int(c),
                    "gold": g,
                }
                for ex, s, c, g in zip(data.examples, scores, calibrated, gold, strict=True)
            ),
        )
        rows = [
            ResultRow(
                task=config.task,
                model=lm.name,
                method="zero-shot",
                split=config.split,
                n=len(data),
                seed=config.seed,
                metric=name,
                value=float(value) if value is not None else float("nan"),
                ci_low=metrics["accuracy_ci_low"] if name == "accuracy" else None,
                ci_high=metrics["accuracy_ci_high"] if name == "accuracy" else None,
            )
            for name, value in metrics.items()
            if not name.startswith("accuracy_ci")
        ]
        atomic_write_jsonl(stage / "results.jsonl", (r.to_dict() for r in rows))
        record: dict[str, Any] = {
            "task": config.task,
            "model": lm.name,
            "split": config.split,
            "n": len(data),
            "seed": config.seed,
            "seconds": seconds,
            **metrics,
        }
        atomic_write_json(stage / "metrics.json", record)
    return ScoreSummary(out=out, n=len(data), metrics=metrics)
