"""`elicit w2s`: one weak-to-strong experiment (Burns et al. 2023), written as a run directory.

    elicit w2s --task sst2 --weak tfidf --strong gemma-3-270m --n 200 --test-n 200
    elicit w2s --task sst2 --weak smollm2-135m-instruct --losses xent,confidence --seed 1

Protocol. The train split is sampled (`--n`, whole groups) and split into halves by group
(`splits`). The weak supervisor learns from gold on half 1 and predicts P(True) on half 2 (the
weak labels) and on the test set. A fresh copy of the strong model is fine-tuned on half 2's
weak labels once per `--losses` entry (xent: imitate; confidence: the paper's auxiliary
confidence loss; see `losses`), and once on half 2's gold labels (the ceiling). Everything is
scored on a class-balanced sample of the test split, and the strong model before any training
is scored too (its zero-shot accuracy, a reference the issue's readers ask for).

Weak supervisors (`--weak`): "tfidf" (TF-IDF + logistic regression, `tfidf`), or any model
name/path, fine-tuned on half 1 like the student. Any label file can stand in for a supervisor
with `--weak labels:PATH` (e.g. an ICM run's labels.jsonl over the train split: unsupervised
weak-to-strong): its labels are the weak labels of the half-2 examples it covers; it has no
test predictions, so its "weak" accuracy is its agreement with gold on half 2.

Bootstrapping (`--chain m1,m2`): the weak labels first train m1 (with the first of `--losses`),
m1's predictions on half 2 train m2, and so on; the last model's labels train the strong
students. Each link's test accuracy is reported as `chain-<i>-<model>`. Every link learns on
half 2 and relabels it, as in the paper's chain of increasing model sizes.

The run directory holds config.json, predictions.jsonl (per test claim: gold, the weak and
every student's P(True)), results.jsonl (tidy rows: accuracy and AUROC per method, PGR and
student-supervisor agreement per loss), metrics.json (marks the run finished) and w2s.png.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from elicit.config import config_to_dict, help_field
from elicit.errors import ConfigError
from elicit.evaluation.metrics import auroc
from elicit.evaluation.results import ResultRow
from elicit.models import DEFAULT_MODEL
from elicit.options import DataOptions, RunOptions
from elicit.runs import atomic_write_json, atomic_write_jsonl, staged_run_dir
from elicit.tasks.base import Example, TaskData
from elicit.training.config import FitOptions
from elicit.w2s import LOSSES
from elicit.w2s.pgr import agreement, pgr
from elicit.w2s.splits import W2SData, balance, split_halves

WEAK = "weak"
CEILING = "ceiling"
STRONG_ZERO_SHOT = "strong-zero-shot"


@dataclass(frozen=True)
class W2SConfig(RunOptions, FitOptions, DataOptions):
    """Options of `elicit w2s`: data, the two models, the losses, and the fine-tuning settings."""

    split: str = help_field("train", "split the two training halves come from", choices=["train"])
    n: int | None = help_field(200, "training examples in all (both halves), whole groups")
    test_n: int = help_field(200, "test claims sampled before balancing the classes")
    weak: str = help_field(
        "tfidf", "weak supervisor: tfidf, a model name/path (fine-tuned on half 1), or labels:PATH"
    )
    strong: str = help_field(DEFAULT_MODEL, "strong student: a model name or path")
    losses: str = help_field(
        "xent,confidence",
        f"students to train, comma-separated: {', '.join(LOSSES)}",
    )
    a_max: float = help_field(
        0.5, "confidence loss: final weight of the student's own hardened predictions"
    )
    objective: str = help_field(
        "word",
        "how the models learn: word (fine-tune the label-word logits), linear (fine-tune with a "
        "new head) or probe (train a linear probe on frozen features, from the label words' "
        "unembeddings: seconds instead of minutes on a CPU)",
        choices=["word", "linear", "probe"],
    )
    chain: str = help_field(
        "",
        "bootstrapping: comma-separated intermediate models between the weak supervisor and "
        "the strong student, weakest first",
    )
    probe_epochs: int = help_field(30, "probe: passes over half 2")
    probe_lr: float = help_field(1e-3, "probe: Adam learning rate")

    def __post_init__(self) -> None:
        self.check_data()
        FitOptions.__post_init__(self)
        if self.test_n < 2:
            raise ConfigError(f"--test-n must be at least 2, got {self.test_n}")
        unknown = [name for name in self.loss_list() if name not in LOSSES]
        if unknown:
            raise ConfigError(
                f"unknown weak-to-strong loss {unknown[0]!r} in --losses; choose from "
                f"{', '.join(LOSSES)}"
            )
        if not 0.0 <= self.a_max <= 1.0:
            raise ConfigError(f"--a-max must be in [0, 1], got {self.a_max}")

    def loss_list(self) -> list[str]:
        names = [s.strip() for s in self.losses.split(",") if s.strip()]
        if not names:
            raise ConfigError(f"--losses must name at least one of {', '.join(LOSSES)}")
        return names

    def fit_options(self) -> FitOptions:
        return FitOptions(**FitOptions.fit_dict(self))  # type: ignore[arg-type]

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        weak = Path(self.weak).name if "/" in self.weak else self.weak.replace(":", "-")
        strong = Path(self.strong).name if "/" in self.strong else self.strong
        return Path("runs") / "w2s" / f"{self.task}-{weak}-to-{strong}-n{self.n}-s{self.seed}"


@dataclass(frozen=True)
class W2SSummary:
    out: Path
    rows: list[ResultRow]
    metrics: dict[str, Any]


def load_data(config: W2SConfig) -> W2SData:
    from elicit.tasks import load_task, sample

    assert config.task is not None
    train = sample(
        load_task(config.task, config.load_options("train")),
        config.n,
        config.seed,
        keep_groups=True,
    )
    test = sample(load_task(config.task, config.load_options("test")), config.test_n, config.seed)
    for name, part in (("train", train), ("test", test)):
        if not part.has_gold:
            raise ConfigError(
                f"task {config.task!r}: the {name} split needs gold labels for weak-to-strong "
                "(the weak supervisor and the ceiling learn from them, and the test scores them)"
            )
    half1, half2 = split_halves(train, config.seed)
    return W2SData(half1=half1, half2=half2, test=balance(test, config.seed))


def _prompts(examples: TaskData | Sequence[Example]) -> list[str]:
    return [ex.prompt for ex in examples]


def _gold(data: TaskData) -> np.ndarray:
    return np.asarray(data.gold_of(data.examples), dtype=np.int64)


class Learner:
    """Trains copies of one model on (examples, P(True) targets) and predicts P(True).

    objective "word" / "linear": each `fit` fine-tunes a freshly loaded copy (`elicit train`'s
    code); "probe": the model is loaded once, frozen, and each `fit` trains a linear probe on
    its cached features, starting from the label words' unembeddings (`probe`).
    """

    def __init__(self, config: W2SConfig, model: str, out: Path) -> None:
        self.config = config
        self.model = model
        self.out = out
        self.histories: dict[str, list[float]] = {}
        self._features: Any = None
        if config.objective == "probe":
            from elicit.w2s.probe import FrozenFeatures

            self._features = FrozenFeatures(model)

    def zero_shot(self, prompts: list[str]) -> np.ndarray:
        """P(True) of the untrained model (the probe's initial head: the label-word logits)."""
        if self._features is not None:
            head = self._features.label_word_head()
            return np.asarray(head.predict_proba(self._features.features(prompts)))
        from elicit.training.classifier import make_classifier

        clf = make_classifier(self.model, self.config.objective, seed=self.config.seed)  # type: ignore[arg-type]
        return clf.predict_proba(prompts)

    def fit_predict(
        self,
        name: str,
        examples: list[Example],
        targets: np.ndarray,
        loss_name: str,
        predict: list[list[str]],
    ) -> list[np.ndarray]:
        """Train on (examples, targets) with loss `loss_name`; P(True) for each prompt list."""
        from elicit.w2s.losses import make_loss

        config = self.config
        loss = make_loss(loss_name, a_max=config.a_max)
        if self._features is not None:
            from elicit.w2s.probe import train_probe

            x = self._features.features([ex.prompt for ex in examples])
            head = train_probe(
                x, targets, self._features.label_word_head(), loss=loss,
                epochs=config.probe_epochs, lr=config.probe_lr, seed=config.seed,
            )  # fmt: skip
            return [head.predict_proba(self._features.features(p)) for p in predict]
        from elicit.training.classifier import train_classifier

        result = train_classifier(
            self.model, examples, targets.tolist(), config.fit_options(), self.out / name,
            seed=config.seed, objective=config.objective,  # type: ignore[arg-type]
            loss=loss, progress=config.progress,
        )  # fmt: skip
        self.histories[name] = list(result.losses)
        return [result.classifier.predict_proba(p) for p in predict]


def weak_predictions(
    config: W2SConfig, data: W2SData, out: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    """P(True) of the weak supervisor on half 2 and on the test set (None for a labels file)."""
    if config.weak == "tfidf":
        from elicit.w2s.tfidf import TfidfSupervisor

        sup = TfidfSupervisor(seed=config.seed).fit(_prompts(data.half1), _gold(data.half1))
        return sup.predict_proba(_prompts(data.half2)), sup.predict_proba(_prompts(data.test))
    if config.weak.startswith("labels:"):
        from elicit.training.data import read_targets

        path = config.weak.removeprefix("labels:")
        labels = read_targets(path)
        covered = [ex for ex in data.half2.examples if ex.uid in labels]
        if not covered:
            raise ConfigError(
                f"--weak labels:{path} labels none of the {len(data.half2)} half-2 examples; "
                "label the same task's train split (elicit label --split train) with --n none or "
                "a larger --n"
            )
        return np.asarray([labels.get(ex.uid, math.nan) for ex in data.half2.examples]), None
    weak = Learner(config, config.weak, out)
    half2, test = weak.fit_predict(
        "weak",
        list(data.half1.examples),
        _gold(data.half1).astype(float),
        "xent",
        [_prompts(data.half2), _prompts(data.test)],
    )
    return half2, test


def run_w2s(config: W2SConfig) -> W2SSummary:
    """Run the protocol (see the module docs) and write the run directory."""
    out = config.out_dir()
    start = time.perf_counter()
    data = load_data(config)
    gold_test = _gold(data.test)
    test_prompts = _prompts(data.test)
    with staged_run_dir(out, force=config.force) as stage:
        atomic_write_json(stage / "config.json", config_to_dict(config))
        weak_half2, weak_test = weak_predictions(config, data, stage)
        keep = ~np.isnan(weak_half2)
        half2 = [ex for ex, k in zip(data.half2.examples, keep, strict=True) if k]
        probs: dict[str, np.ndarray] = {}
        if weak_test is not None:
            probs[WEAK] = weak_test
        strong = Learner(config, config.strong, stage)
        probs[STRONG_ZERO_SHOT] = strong.zero_shot(test_prompts)
        labels_half2 = weak_half2[keep]
        for i, model in enumerate(m.strip() for m in config.chain.split(",") if m.strip()):
            link = Learner(config, model, stage)
            name = f"chain-{i + 1}-{Path(model).name}"
            labels_half2, probs[name] = link.fit_predict(
                name, half2, labels_half2, config.loss_list()[0], [_prompts(half2), test_prompts]
            )
        runs = [(f"w2s-{name}", name, labels_half2) for name in config.loss_list()]
        runs.append((CEILING, "xent", _gold(data.half2)[keep].astype(float)))
        for method, loss_name, targets in runs:
            (probs[method],) = strong.fit_predict(method, half2, targets, loss_name, [test_prompts])
        rows, metrics = _score(config, data, probs, weak_half2, gold_test)
        metrics["seconds"] = time.perf_counter() - start
        metrics["losses"] = strong.histories
        atomic_write_jsonl(
            stage / "predictions.jsonl",
            (
                {"uid": ex.uid, "gold": int(g), **{m: float(p[i]) for m, p in probs.items()}}
                for i, (ex, g) in enumerate(zip(data.test.examples, gold_test, strict=True))
            ),
        )
        atomic_write_jsonl(stage / "results.jsonl", (r.to_dict() for r in rows))
        from elicit.w2s.plots import plot_run

        plot_run(rows, stage / "w2s.png", title=f"{config.task}: {config.weak} -> {config.strong}")
        atomic_write_json(stage / "metrics.json", metrics)
    return W2SSummary(out=out, rows=rows, metrics=metrics)


def _score(
    config: W2SConfig,
    data: W2SData,
    probs: dict[str, np.ndarray],
    weak_half2: np.ndarray,
    gold_test: np.ndarray,
) -> tuple[list[ResultRow], dict[str, Any]]:
    assert config.task is not None
    n = len(gold_test)

    def row(method: str, metric: str, value: float) -> ResultRow:
        return ResultRow(
            task=config.task or "",
            model=config.strong,
            method=method,
            split="test",
            n=n,
            seed=config.seed,
            metric=metric,
            value=value,
        )

    accuracy = {
        m: float(((p > 0.5).astype(np.int64) == gold_test).mean()) for m, p in probs.items()
    }
    rows = [row(m, "accuracy", a) for m, a in accuracy.items()]
    rows += [
        row(m, "auroc", auroc(np.log(p + 1e-12) - np.log1p(-p + 1e-12), gold_test))
        for m, p in probs.items()
    ]
    gold_half2 = _gold(data.half2)
    keep = ~np.isnan(weak_half2)
    weak_label_acc = float(((weak_half2[keep] > 0.5).astype(np.int64) == gold_half2[keep]).mean())
    rows.append(row(WEAK, "label_accuracy_half2", weak_label_acc))
    weak_acc = accuracy.get(WEAK, weak_label_acc)
    metrics: dict[str, Any] = {
        "task": config.task,
        "weak": config.weak,
        "strong": config.strong,
        "seed": config.seed,
        "n_half1": len(data.half1),
        "n_half2": int(keep.sum()),
        "n_test": n,
        "accuracy": accuracy,
        "weak_accuracy": weak_acc,
        "weak_label_accuracy_half2": weak_label_acc,
    }
    aurocs = {r.method: r.value for r in rows if r.metric == "auroc"}
    ceiling = accuracy[CEILING]
    for name in config.loss_list():
        method = f"w2s-{name}"
        value = pgr(weak_acc, accuracy[method], ceiling)
        rows.append(row(method, "pgr", value))
        metrics.setdefault("pgr", {})[method] = None if math.isnan(value) else value
        if WEAK in aurocs:  # PGR on AUROC, as EleutherAI's w2s reports it
            value_auroc = pgr(aurocs[WEAK], aurocs[method], aurocs[CEILING])
            rows.append(row(method, "pgr_auroc", value_auroc))
            metrics.setdefault("pgr_auroc", {})[method] = (
                None if math.isnan(value_auroc) else value_auroc
            )
        if WEAK in probs:
            a = agreement(probs[method] > 0.5, probs[WEAK] > 0.5, gold_test)
            rows += [
                row(method, "agreement", a.overall),
                row(method, "agreement_supervisor_right", a.supervisor_right),
                row(method, "agreement_supervisor_wrong", a.supervisor_wrong),
            ]
            metrics.setdefault("agreement", {})[method] = {
                "overall": a.overall,
                "supervisor_right": a.supervisor_right,
                "supervisor_wrong": a.supervisor_wrong,
            }
    return rows, metrics


__all__ = ["W2SConfig", "W2SSummary", "load_data", "run_w2s", "weak_predictions"]
