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
from elicit.config import config_to_dict, help_field
from elicit.errors import ConfigError
from elicit.evaluation.metrics import (
    accuracy,
    auroc,
    calibrated_accuracy,
    median_predictions,
    wilson_interval,
)
from elicit.evaluation.results import ResultRow
from elicit.models import DEFAULT_MODEL
from elicit.runs import atomic_write_json, atomic_write_jsonl, staged_run_dir
from elicit.tasks.base import LoadOptions, TaskData


@dataclass(frozen=True)
class ScoreConfig:
    task: str | None = help_field(None, "task name (see `elicit tasks`); required")
    data: str | None = help_field(
        None, "data file or directory overriding the task's default, or hf:<dataset id>"
    )
    split: str = help_field("test", "which split to score", choices=["train", "test"])
    model: str = help_field(
        DEFAULT_MODEL, "registered model name (see `elicit models`), HF model id or local path"
    )
    backend: str = help_field("auto", "model backend (auto picks hf)")
    n: int | None = help_field(100, "number of examples, sampled with --seed (none = all)")
    seed: int = help_field(0, "random seed for sampling examples")
    out: str | None = help_field(
        None, "run directory for results (default runs/score/<task>-<model>-<split>-n<N>-s<seed>)"
    )
    batch_size: int = help_field(8, "prompts per forward pass")
    device: str = help_field("auto", "auto, cpu, cuda or cuda:N")
    dtype: str = help_field("auto", "auto (fp32 on CPU, bf16 on CUDA), float32, bfloat16, float16")
    max_length: int | None = help_field(None, "context length limit (default: the model's)")
    force: bool = help_field(False, "redo the run even if --out holds a finished one")
    progress: bool = help_field(True, "show progress bars")
    uid_column: str = help_field("uid", "claims task: column with a unique id per row")
    text_column: str = help_field("text", "claims task: column with the claim text")
    label_column: str = help_field("label", "claims task: column with the gold label (optional)")
    group_column: str = help_field("group", "claims task: consistency group column (optional)")
    key_column: str = help_field("key", "claims task: consistency key column (optional)")

    def __post_init__(self) -> None:
        if not self.task:
            raise ConfigError("no task given: pass --task NAME (`elicit tasks` lists them)")
        if self.n is not None and self.n < 1:
            raise ConfigError(f"--n must be at least 1 (or none for all), got {self.n}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")

    def load_options(self) -> LoadOptions:
        return LoadOptions(
            data=self.data,
            split=self.split,
            uid_column=self.uid_column,
            text_column=self.text_column,
            label_column=self.label_column,
            group_column=self.group_column,
            key_column=self.key_column,
        )

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        model = Path(self.model).name if "/" in self.model else self.model
        n = "all" if self.n is None else str(self.n)
        return Path("runs") / "score" / f"{self.task}-{model}-{self.split}-n{n}-s{self.seed}"


@dataclass(frozen=True)
class ScoreSummary:
    out: Path
    n: int
    metrics: dict[str, float | None]


def score_examples(lm: LM, data: TaskData) -> np.ndarray:
    labels = LabelSet(words=data.label_words)
    return lm.score([ex.prompt for ex in data.examples], labels)


def summarize(scores: np.ndarray, gold: list[int]) -> dict[str, float | None]:
    n = len(gold)
    correct = int(((scores > 0).astype(int) == np.asarray(gold)).sum())
    ci = wilson_interval(correct, n)
    return {
        "accuracy": accuracy(scores, gold),
        "accuracy_ci_low": ci.low,
        "accuracy_ci_high": ci.high,
        "calibrated_accuracy": calibrated_accuracy(scores, gold),
        "auroc": auroc(scores, gold),
        "frac_predicted_true": float((scores > 0).mean()),
        "frac_gold_true": float(np.mean(gold)),
        "mean_score": float(scores.mean()),
    }


def run_score(config: ScoreConfig, lm: LM | None = None) -> ScoreSummary:
    """Score `config.task` zero-shot and write the run directory. `lm` overrides the model."""
    from elicit.tasks import load_task, sample

    assert config.task is not None  # checked in __post_init__
    out = config.out_dir()
    data = load_task(config.task, config.load_options())
    data = sample(data, config.n, config.seed)
    if len(data) == 0:
        raise ConfigError(f"task {config.task!r} ({config.split} split) has no examples")
    if not data.has_gold:
        raise ConfigError(
            f"task {config.task!r} data has examples without gold labels; `elicit score` needs "
            "a label for every example (add a label column, or pass --label-column)"
        )
    gold = data.gold_of(data.examples)
    # The run directory is checked (finished? foreign?) before the model loads: fail fast.
    with staged_run_dir(out, force=config.force) as stage:
        if lm is None:
            from elicit.backends import load_lm

            lm = load_lm(config.model, config.backend, **backend_options(config))
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


def backend_options(config: ScoreConfig) -> dict[str, Any]:
    return {
        "device": config.device,
        "dtype": config.dtype,
        "batch_size": config.batch_size,
        "max_length": config.max_length,
        "progress": config.progress,
    }
