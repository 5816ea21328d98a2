"""`elicit train`: fine-tune on labels from a source and score the result on held-out claims.

    elicit train --task sst2 --label-source golden --n 200          # finetune-golden
    elicit train --task sst2 --labels runs/label/sst2-...            # finetune-icm
    elicit train --task alpaca-comparison --objective reward --labels runs/label/alpaca-...
    elicit train --task sst2 --label-source random --resume          # continue an interrupted run

Training claims: --split (train) of --task. With --label-source golden or random, --n claims are
sampled with --seed keeping consistency groups whole (the same sample `elicit label` draws, so
ICM, golden and random runs with the same --n and --seed train on the same claims); with a
labels file, the claims it labels (at most --n, sampled with --seed). Test claims: --eval-split
(test), --eval-n sampled with --seed; every one needs gold.

Objectives: word (the label word after the prompt; the fine-tuned model is scored by the same
zero-shot code as `elicit eval`, and model/ is a causal LM directory that `elicit eval --model`
loads), linear (a linear head on the last token; model/ is a sequence-classification model),
reward (a Bradley-Terry reward model on the comparison pairs; reward_model/ is a standard
`AutoModelForSequenceClassification` directory with num_labels=1, scored by pairwise accuracy
on held-out pairs; --best-of-n N adds a best-of-N demonstration).

The run directory (written in place so it can checkpoint; metrics.json last marks it done):
config.json, checkpoints/ (checkpoint.json + safetensors), adapter/ (LoRA), model/ or
reward_model/, train_log.jsonl (loss per step), predictions.jsonl, results.jsonl (tidy
`ResultRow`s: zero-shot and finetune-<source> / reward-<source>), best_of_n.jsonl, metrics.json.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from elicit.config import config_to_dict, help_field
from elicit.errors import ConfigError, DataError
from elicit.evaluation import baselines as bl
from elicit.evaluation.metrics import wilson_interval
from elicit.evaluation.results import ResultRow, build, known_fields, num, pct
from elicit.options import DataOptions, LMOptions, RunOptions, Split
from elicit.runs import (
    DONE_FILE,
    atomic_write_json,
    atomic_write_jsonl,
    prepare_resumable,
    run_lock,
)
from elicit.tasks.base import Consistency, TaskData
from elicit.training.config import FitOptions
from elicit.training.data import LabelSource, Targets, label_targets

log = logging.getLogger("elicit")

RUN_FILES = (
    "config.json",
    "train_log.jsonl",
    "predictions.jsonl",
    "results.jsonl",
    "best_of_n.jsonl",
    DONE_FILE,
)
RUN_DIRS = ("checkpoints", "adapter", "model", "reward_model")
_RESUME_FREE = {"resume", "force", "progress", "out", "checkpoint_every", "cache", "save_model"}


@dataclass(frozen=True)
class TrainConfig(FitOptions, RunOptions, LMOptions, DataOptions):
    """Options of `elicit train`: data, model and run groups, FitOptions, and these."""

    split: Split = help_field("train", "split to train on")
    objective: Literal["word", "linear", "reward"] = help_field(
        "word",
        "word: the label word after the prompt; linear: a linear head on the last token; "
        "reward: a Bradley-Terry reward model on comparison pairs",
    )
    label_source: Literal["auto", "golden", "random", "file"] = help_field(
        "auto",
        "where training labels come from: golden, random, file (--labels); auto = file when "
        "--labels is given",
    )
    labels: str | None = help_field(
        None, "labels.jsonl, an `elicit label` run directory, or a .jsonl/.csv of uid,label"
    )
    method: str | None = help_field(
        None,
        "method name in results (default: finetune-<source>, finetune-linear-<source> or "
        "reward-<source>)",
    )
    eval_split: Split = help_field("test", "split the test claims come from")
    eval_n: int | None = help_field(200, "test claims sampled with --seed (none = all)")
    eval_before: bool = help_field(True, "also score the base model zero-shot on the test claims")
    save_model: bool = help_field(
        True, "export the merged model (model/ or reward_model/; ~1 GB for gemma-3-270m in fp32)"
    )
    resume: bool = help_field(False, "continue the interrupted run in --out")
    best_of_n: int = help_field(0, "reward objective: best-of-N samples for a few test prompts")
    best_of_n_prompts: int = help_field(4, "test prompts for the best-of-N demonstration")
    best_of_n_tokens: int = help_field(48, "max new tokens per best-of-N sample")

    def __post_init__(self) -> None:
        super().__post_init__()  # FitOptions, then the run, LM and data groups
        if self.eval_n is not None and self.eval_n < 1:
            raise ConfigError(f"--eval-n must be at least 1 (or none), got {self.eval_n}")
        if self.best_of_n < 0 or self.best_of_n_prompts < 1:
            raise ConfigError("--best-of-n must be >= 0 and --best-of-n-prompts >= 1")
        if self.best_of_n and self.objective != "reward":
            raise ConfigError(
                "--best-of-n needs --objective reward (it reranks with a reward model)"
            )
        if self.label_source in ("golden", "random") and self.labels:
            raise ConfigError(
                f"--labels is only read with --label-source file (got {self.label_source}); "
                "drop one of them"
            )
        if self.label_source == "file" and not self.labels:
            raise ConfigError("--label-source file needs --labels PATH")
        if self.label_source == "auto" and not self.labels:
            raise ConfigError(
                "no training labels: pass --labels PATH (e.g. an `elicit label` run) or "
                "--label-source golden|random"
            )

    @property
    def source(self) -> LabelSource:
        if self.label_source == "auto":
            return "file"
        return self.label_source

    def source_name(self) -> str:
        if self.source != "file":
            return self.source
        return bl.parse_label_specs(self.labels)[0].name

    def method_name(self) -> str:
        prefix = {"reward": "reward", "linear": "finetune-linear"}.get(self.objective, "finetune")
        return self.method or f"{prefix}-{self.source_name()}"

    def fit_options(self) -> FitOptions:
        return FitOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(FitOptions)})

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        n = "all" if self.n is None else str(self.n)
        name = f"{self.task}-{self.model_short_name}-{self.method_name()}-n{n}-s{self.seed}"
        return Path("runs") / "train" / name


@dataclass(frozen=True)
class FitRecord:
    """How the training loop went (`loop.FitResult`, as metrics.json records it)."""

    steps: int
    resumed_from: int | None
    first_loss: float | None
    final_loss: float | None
    train_seconds: float
    steps_per_second: float


@dataclass(frozen=True)
class BestOfN:
    """The best-of-N demonstration of a reward model (`--best-of-n`)."""

    n: int
    mean_best_reward: float
    mean_first_sample_reward: float


@dataclass(frozen=True)
class RewardRecord:
    """What a reward run adds: the training pairs and the held-out pairs it was scored on."""

    n_pairs: int
    n_pairs_dropped: int
    pair_label_agreement: float | None
    n_test_pairs: int
    best_of_n: BestOfN | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.best_of_n is None:
            del d["best_of_n"]
        return d


@dataclass(frozen=True)
class TrainMetrics:
    """metrics.json of a train run, typed. The JSON layout is flat, as every version wrote it:
    the fit record's and a reward run's fields sit at top level, and `results` maps
    "method/metric" to the value of each tidy row."""

    task: str
    model: str
    method: str
    objective: str
    label_source: str
    labels: str | None
    n_train: int
    n_unknown_labels: int
    frac_true: float | None
    train_label_agreement: float | None
    seed: int
    seconds: float
    fit: FitRecord
    results: Mapping[str, float | None]
    reward: RewardRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del d["fit"], d["reward"], d["results"]
        d.update(dataclasses.asdict(self.fit))
        if self.reward is not None:
            d.update(self.reward.to_dict())
        d["results"] = dict(self.results)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], what: str = "metrics.json") -> TrainMetrics:
        """Read what `to_dict` (or an older version) wrote; `what` names it in errors."""
        values = known_fields(cls, d)
        values["fit"] = build(FitRecord, known_fields(FitRecord, d), what)
        if "n_pairs" in d:
            record = known_fields(RewardRecord, d)
            if isinstance(d.get("best_of_n"), Mapping):
                record["best_of_n"] = build(BestOfN, known_fields(BestOfN, d["best_of_n"]), what)
            values["reward"] = build(RewardRecord, record, what)
        return build(cls, values, what)


@dataclass(frozen=True)
class TrainSummary:
    """What `run_train` returns: the run directory, its tidy rows and metrics."""

    out: Path
    method: str
    rows: list[ResultRow]
    metrics: TrainMetrics

    def value(self, method: str, metric: str) -> float | None:
        for r in self.rows:
            if r.method == method and r.metric == metric:
                return r.value
        return None

    def describe(self) -> list[str]:
        """The command's result lines: what was trained, and the test score before and after."""
        m = self.metrics
        metric = "pairwise_accuracy" if m.objective == "reward" else "accuracy"
        before = self.value(bl.ZERO_SHOT, metric)
        after = self.value(self.method, metric)
        zero_shot = f" (zero-shot {pct(before)})" if before is not None else ""
        return [
            f"{m.task}: {self.method} trained on {m.n_train} claims ({m.fit.steps} steps, "
            f"final loss {num(m.fit.final_loss)}); test {metric.replace('_', ' ')} "
            f"{pct(after)}{zero_shot}",
            f"results written to {self.out}/",
        ]


# ---------------------------------------------------------------------- run directory


def prepare_out(out: Path, config: TrainConfig) -> bool:
    """Check --out, clear it for --force; whether a previous run will be resumed."""
    return prepare_resumable(
        out, config, command="train", run_files=RUN_FILES, run_dirs=RUN_DIRS,
        resume_free=_RESUME_FREE,
    )  # fmt: skip


# ---------------------------------------------------------------------- data


def _train_data(config: TrainConfig) -> TaskData:
    from elicit.tasks import load_task, sample

    data = load_task(config.task, config.load_options())
    if len(data) == 0:
        raise DataError(f"task {config.task!r} ({config.split} split) has no examples")
    if config.source == "file":
        return data  # the labelled claims are chosen in _targets
    return sample(data, config.n, config.seed, keep_groups=True)


def _targets(config: TrainConfig, data: TaskData) -> Targets:
    from elicit.tasks import sample

    targets = label_targets(data, config.source, path=config.labels, seed=config.seed)
    if config.source == "file" and config.n is not None and len(targets) > config.n:
        labelled = TaskData(data.task, targets.examples, {}, data.consistency, data.label_words)
        keep = {ex.uid for ex in sample(labelled, config.n, config.seed, keep_groups=True)}
        picked = [
            (ex, t)
            for ex, t in zip(targets.examples, targets.targets, strict=True)
            if ex.uid in keep
        ]
        targets = Targets(
            tuple(ex for ex, _ in picked),
            tuple(t for _, t in picked),
            targets.source,
            targets.n_unknown,
        )
    return targets


def _test_data(config: TrainConfig) -> TaskData:
    from elicit.tasks import load_task, sample

    data = load_task(config.task, config.load_options(config.eval_split))
    data = sample(data, config.eval_n, config.seed, keep_groups=config.objective == "reward")
    if len(data) == 0 or not data.has_gold:
        raise DataError(
            f"task {config.task!r} ({config.eval_split} split) has no test claims with gold "
            "labels; pass --eval-split with a labelled split"
        )
    return data


def result_rows(
    config: TrainConfig, model: str, method: str, n: int, metrics: dict[str, float | None]
) -> list[ResultRow]:
    rows = []
    for name, value in metrics.items():
        if name.startswith("accuracy_ci"):
            continue
        ci = name in ("accuracy", "pairwise_accuracy") and value is not None
        interval = wilson_interval(round(value * n), n) if ci and value is not None else None
        rows.append(
            ResultRow(
                task=config.task,
                model=model,
                method=method,
                split=config.eval_split,
                n=n,
                seed=config.seed,
                metric=name,
                value=float("nan") if value is None else float(value),
                ci_low=interval.low if interval else None,
                ci_high=interval.high if interval else None,
            )
        )
    return rows


def _agreement(targets: Targets, gold: dict[str, int] | Any) -> float | None:
    known = [
        (round(t), gold[ex.uid])
        for ex, t in zip(targets.examples, targets.targets, strict=True)
        if ex.uid in gold
    ]
    return sum(a == b for a, b in known) / len(known) if known else None


# ---------------------------------------------------------------------- the run


def run_train(config: TrainConfig) -> TrainSummary:
    """Train on `config`'s labels, score on test claims, write the run directory (locked while
    it is written: `runs.run_lock`). Under a multi-process launcher every process trains
    (data-parallel) and only the main one writes the run directory (`training.distributed`)."""
    from elicit.training.distributed import process_config

    config = process_config(config)
    with run_lock(config.out_dir()):
        return _run_train(config)


def _run_train(config: TrainConfig) -> TrainSummary:
    out = config.out_dir()
    resuming = prepare_out(out, config)  # fail fast, before data and model load
    train = _train_data(config)
    test = _test_data(config)
    overlap = {ex.uid for ex in train.examples} & {ex.uid for ex in test.examples}
    if overlap:
        log.warning(
            "%d test claims are also training claims (--split %s, --eval-split %s)",
            len(overlap),
            config.split,
            config.eval_split,
        )
    targets = _targets(config, train)
    out.mkdir(parents=True, exist_ok=True)
    if not resuming:
        atomic_write_json(out / "config.json", config_to_dict(config))
    start = time.perf_counter()
    reward: RewardRecord | None = None
    if config.objective == "reward":
        from elicit.commands.train_reward import run_reward

        rows, fit, reward = run_reward(config, out, train, test, targets, resuming)
    else:
        from elicit.commands.train_classifier import run_classifier

        rows, fit = run_classifier(config, out, test, targets, resuming)
    atomic_write_jsonl(out / "results.jsonl", (r.to_dict() for r in rows))
    metrics = TrainMetrics(
        task=config.task,
        model=config.model,
        method=config.method_name(),
        objective=config.objective,
        label_source=config.source,
        labels=config.labels,
        n_train=len(targets),
        n_unknown_labels=targets.n_unknown,
        frac_true=targets.frac_true,
        train_label_agreement=_agreement(targets, train.gold),
        seed=config.seed,
        seconds=time.perf_counter() - start,
        fit=fit,
        reward=reward,
        results={f"{r.method}/{r.metric}": r.value for r in rows},
    )
    atomic_write_json(out / DONE_FILE, metrics.to_dict())
    return TrainSummary(out=out, method=config.method_name(), rows=rows, metrics=metrics)


def fit_record(result: Any) -> FitRecord:
    fit = result.fit
    return FitRecord(
        steps=fit.steps,
        resumed_from=fit.resumed_from,
        first_loss=fit.losses[0] if fit.losses else None,
        final_loss=fit.losses[-1] if fit.losses else None,
        train_seconds=fit.seconds,
        steps_per_second=fit.steps_per_second,
    )


def write_train_log(out: Path, losses: tuple[float, ...]) -> None:
    atomic_write_jsonl(
        out / "train_log.jsonl", ({"step": i + 1, "loss": v} for i, v in enumerate(losses))
    )


def uid_hash(targets: Targets) -> str:
    import hashlib

    text = json.dumps(
        [[ex.uid, t] for ex, t in zip(targets.examples, targets.targets, strict=True)]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_comparison(data: TaskData) -> None:
    if data.consistency is not Consistency.COMPARISON:
        raise ConfigError(
            f"--objective reward needs a comparison task (alpaca-comparison, hh-comparison, "
            f"truthfulqa-preference); {data.task!r} is not one"
        )


__all__ = [
    "BestOfN",
    "FitRecord",
    "RewardRecord",
    "TrainConfig",
    "TrainMetrics",
    "TrainSummary",
    "check_comparison",
    "prepare_out",
    "run_train",
]
