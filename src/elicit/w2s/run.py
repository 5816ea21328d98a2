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

Diagnostics and variants of the paper, each optional (fine-tuned students: --objective word
or linear, unless noted):

- `--eval-every N`: the training curve of every strong student (test accuracy, and accuracy on
  a held-out validation slice of half 2 with the labels it learns from, `--val-frac`), in
  results.jsonl (metric curve_*, with a step) and curve.png. `--early-stop` keeps the weights
  of the step with the best validation accuracy on weak labels (`curve`).
- `--probe-gold`: after each w2s student is fine-tuned, a linear probe on its frozen features
  with half 2's gold labels (`w2s-<loss>+probe-gold`), next to probes on the untrained strong
  model with gold and with weak labels (`probe-gold`, `probe-weak`): the paper's saliency
  section (`probe`).
- `--easy-to-hard`: students trained on the easiest claims with gold labels, scored on the
  hardest test claims (`easy_hard`; also with --objective probe).
- `--generative-finetune`: an unsupervised language-modelling pass on half 2's texts before
  any strong student trains (`generative`; also with --objective probe).

The run directory holds config.json, predictions.jsonl (per test claim: gold, the weak and
every student's P(True)), results.jsonl (tidy rows: accuracy and AUROC per method, PGR and
student-supervisor agreement per loss, curves, easy/hard splits), metrics.json (marks the run
finished), w2s.png and (with a curve) curve.png.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
from elicit.w2s.curve import Monitor
from elicit.w2s.pgr import agreement, pgr
from elicit.w2s.splits import W2SData, balance, hold_out, split_halves

WEAK = "weak"
CEILING = "ceiling"
STRONG_ZERO_SHOT = "strong-zero-shot"
STRONG_GEN_ZERO_SHOT = "strong-gen-zero-shot"  # after the generative fine-tuning pass
PROBE_GOLD = "probe-gold"  # lp(gold): a probe on the untrained strong model, gold labels
PROBE_WEAK = "probe-weak"  # lp(weak): the same with the weak labels


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
    val_frac: float | None = help_field(
        None,
        "share of half 2 (whole groups) held out from the strong students' training as a "
        "validation slice with the labels each learns from (weak for w2s students, gold for "
        "the ceiling), scored by the training curve (default: 0.2 with --early-stop, else 0)",
    )
    early_stop: bool = help_field(
        False,
        "fine-tuned students: keep the weights of the --eval-every step with the best accuracy "
        "on the validation slice's labels (weak labels for w2s students: no gold needed)",
    )
    probe_gold: bool = help_field(
        False,
        "fine-tuned students: also train a linear probe with half 2's gold labels on each w2s "
        "student's frozen features (ft(weak)+lp(gold)), and on the untrained strong model's "
        "with gold and with weak labels (lp(gold), lp(weak)): the paper's saliency section",
    )
    easy_to_hard: bool = help_field(
        False,
        "also train the strong model on the easiest --easy-frac of half 2 with gold labels "
        "(and on a random subset of that size) and report accuracy on the hardest test claims",
    )
    difficulty: str = help_field(
        "auto",
        "easy-to-hard: field (the task's difficulty, e.g. gsm8k-verification's), weak (the "
        "weak supervisor's uncertainty 0.5 - |P(True) - 0.5|), or auto (field if any, else weak)",
        choices=["auto", "field", "weak"],
    )
    easy_frac: float = help_field(0.5, "easy-to-hard: share of half 2 that counts as easy")
    generative_finetune: bool = help_field(
        False,
        "before training the strong students, fine-tune the strong model on next-token "
        "prediction of half 2's claim texts (no labels) for --gen-steps steps",
    )
    gen_steps: int = help_field(20, "generative fine-tuning: optimizer steps")

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
        fine_tuned = self.objective != "probe"
        checks: list[tuple[bool, str]] = [
            (
                self.val_frac is not None and not 0.0 <= self.val_frac < 1.0,
                f"--val-frac must be in [0, 1), got {self.val_frac}",
            ),
            (
                self.early_stop and not fine_tuned,
                "--early-stop selects a step of fine-tuning; probes have none: use --objective "
                "word or linear",
            ),
            (
                self.early_stop and self.eval_every is None,
                "--early-stop needs checkpoints to choose from: pass --eval-every N (steps)",
            ),
            (
                self.early_stop and self.val_frac == 0.0,
                "--early-stop selects on a validation slice of half 2: pass --val-frac > 0 "
                "(e.g. 0.2) or leave it unset",
            ),
            (
                self.probe_gold and not fine_tuned,
                "--probe-gold probes fine-tuned students; with --objective probe the ceiling "
                "already is the probe with gold labels: use --objective word or linear",
            ),
            (
                not 0.0 < self.easy_frac < 1.0,
                f"--easy-frac must be in (0, 1), got {self.easy_frac}",
            ),
            (
                self.easy_to_hard and self.difficulty == "weak" and self.weak.startswith("labels:"),
                "--difficulty weak needs the weak supervisor's test predictions, which a labels "
                "file has not: use --difficulty field (where the task has one) or a tfidf or "
                "model supervisor",
            ),
            (self.gen_steps < 1, f"--gen-steps must be at least 1, got {self.gen_steps}"),
            (
                fine_tuned
                and any(name.startswith("confidence") for name in self.loss_list())
                and self.train_batch_size * self.grad_accum < 2,
                "the confidence loss hardens predictions by a threshold over each optimizer "
                "batch, which one example cannot split (its hardened label is the rounded weak "
                "label): raise --train-batch-size or --grad-accum so that their product is "
                "at least 2 (the released code uses 32)",
            ),
        ]
        for failed, message in checks:
            if failed:
                raise ConfigError(message)

    def loss_list(self) -> list[str]:
        names = [s.strip() for s in self.losses.split(",") if s.strip()]
        if not names:
            raise ConfigError(f"--losses must name at least one of {', '.join(LOSSES)}")
        return names

    def fit_options(self) -> FitOptions:
        return FitOptions(**FitOptions.fit_dict(self))  # type: ignore[arg-type]

    def validation_frac(self) -> float:
        if self.val_frac is not None:
            return self.val_frac
        return 0.2 if self.early_stop else 0.0

    def tracks_curve(self) -> bool:
        """Whether fine-tuned strong students are scored during training."""
        return self.objective != "probe" and (self.eval_every is not None or self.early_stop)

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
        self.best_steps: dict[str, int] = {}  # early stopping: the step each student kept
        self.trained: Any = None  # the last fine-tuned Classifier, when `fit_predict(keep=True)`
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
        *,
        monitor: Monitor | None = None,
        keep: bool = False,
    ) -> list[np.ndarray]:
        """Train on (examples, targets) with loss `loss_name`; P(True) for each prompt list.

        monitor: scores the fine-tuned student during training (and restores its best step
        with early stopping); keep: hold the fine-tuned classifier in `self.trained`.
        """
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
            loss=loss, eval_fn=monitor, progress=config.progress,
        )  # fmt: skip
        self.histories[name] = list(result.losses)
        if monitor is not None:
            step = monitor.restore(result.classifier)
            if step is not None:
                self.best_steps[name] = step
        self.trained = result.classifier if keep else None
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
        from elicit.labels import check_prompts
        from elicit.training.data import read_targets

        path = config.weak.removeprefix("labels:")
        labels = read_targets(path)
        prompts = {ex.uid: ex.prompt for ex in (*data.half1.examples, *data.half2.examples)}
        check_prompts(path, prompts, f"--weak labels:{path}")  # no labels of edited claims
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


@dataclass
class _Student:
    """One strong student to train: its examples and targets, and its validation labels."""

    method: str
    loss: str
    examples: list[Example]
    targets: np.ndarray
    val_targets: np.ndarray


def run_w2s(config: W2SConfig) -> W2SSummary:
    """Run the protocol (see the module docs) and write the run directory.

    Under a multi-process launcher the fine-tuned students train data-parallel and only the
    main process writes the run directory (`training.distributed`)."""
    from elicit.training.distributed import process_config

    config = process_config(config)
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
        gold_half2 = _gold(data.half2)[keep].astype(float)
        probs: dict[str, np.ndarray] = {}
        extra: dict[str, Any] = {}
        if weak_test is not None:
            probs[WEAK] = weak_test
        strong = Learner(config, config.strong, stage)
        probs[STRONG_ZERO_SHOT] = strong.zero_shot(test_prompts)
        strong_model = config.strong
        if config.generative_finetune:
            from elicit.w2s.generative import claim_texts, generative_finetune

            gen = generative_finetune(
                config.strong, claim_texts(_prompts(half2)),
                replace(config.fit_options(), max_steps=config.gen_steps, eval_every=None),
                stage / "generative", seed=config.seed, progress=config.progress,
            )  # fmt: skip
            extra["generative"] = gen.describe()
            strong_model = str(gen.model_dir)
            strong = Learner(config, strong_model, stage)
            probs[STRONG_GEN_ZERO_SHOT] = strong.zero_shot(test_prompts)
        labels_half2 = weak_half2[keep]
        for i, model in enumerate(m.strip() for m in config.chain.split(",") if m.strip()):
            link = Learner(config, model, stage)
            name = f"chain-{i + 1}-{Path(model).name}"
            labels_half2, probs[name] = link.fit_predict(
                name, half2, labels_half2, config.loss_list()[0], [_prompts(half2), test_prompts]
            )
        train_idx, val_idx = hold_out(half2, config.validation_frac(), config.seed)
        train = [half2[i] for i in train_idx]
        val_prompts = [half2[i].prompt for i in val_idx]
        students = [
            _Student(f"w2s-{name}", name, train, labels_half2[train_idx], labels_half2[val_idx])
            for name in config.loss_list()
        ]
        students.append(
            _Student(CEILING, "xent", train, gold_half2[train_idx], gold_half2[val_idx])
        )
        split = None
        if config.easy_to_hard:
            from elicit.w2s.easy_hard import choose_split

            split = choose_split(
                config.task or "", config.difficulty, config.easy_frac, config.seed,
                (config.load_options("train"), train), (config.load_options("test"), data.test),
                weak_half2[keep][train_idx], weak_test, config.weak,
            )  # fmt: skip
            extra["easy_to_hard"] = split.describe()
            for method, mask in (("e2h-easy-gold", split.easy_train),
                                 ("e2h-random-gold", split.random_train)):  # fmt: skip
                chosen = [ex for ex, m in zip(train, mask, strict=True) if m]
                students.append(
                    _Student(method, "xent", chosen, gold_half2[train_idx][mask],
                             gold_half2[val_idx])
                )  # fmt: skip
        monitors: dict[str, Monitor] = {}
        probes = None
        if config.probe_gold:
            from elicit.w2s.probe import GoldProbes

            probes = GoldProbes(
                strong_model, _prompts(train), gold_half2[train_idx], labels_half2[train_idx],
                test_prompts, epochs=config.probe_epochs, lr=config.probe_lr, seed=config.seed,
            )  # fmt: skip
        for st in students:
            monitor = None
            if config.tracks_curve():
                monitor = Monitor(
                    test_prompts, gold_test, val_prompts, st.val_targets,
                    gold_half2[val_idx], early_stop=config.early_stop,
                )  # fmt: skip
                monitors[st.method] = monitor
            is_w2s = st.method.startswith("w2s-")
            (probs[st.method],) = strong.fit_predict(
                st.method, st.examples, st.targets, st.loss, [test_prompts],
                monitor=monitor, keep=probes is not None and is_w2s,
            )  # fmt: skip
            if probes is not None and is_w2s:
                probs[f"{st.method}+probe-gold"] = probes.fine_tuned(strong.trained)
                strong.trained = None
        if probes is not None:
            probs[PROBE_GOLD], probs[PROBE_WEAK] = probes.base()
        rows, metrics = _score(config, data, probs, weak_half2, gold_test)
        if split is not None:
            from elicit.w2s.easy_hard import subset_scores

            for where, method, metric, n, value in subset_scores(probs, gold_test, split.hard_test):
                rows.append(_row(config, n, method, metric, value, split=where))
                if metric == "accuracy":
                    extra["easy_to_hard"].setdefault(where, {})[method] = value
        metrics.update(extra)
        metrics["n_train"], metrics["n_val"] = len(train), len(val_idx)
        curve_rows = [
            r for method, m in monitors.items()
            for r in m.rows(task=config.task or "", model=config.strong, method=method,
                            seed=config.seed)
        ]  # fmt: skip
        if strong.best_steps:
            metrics["early_stop_step"] = strong.best_steps
            rows += [_row(config, len(gold_test), m, "early_stop_step", float(s))
                     for m, s in strong.best_steps.items()]  # fmt: skip
        metrics["seconds"] = time.perf_counter() - start
        metrics["losses"] = strong.histories
        atomic_write_jsonl(
            stage / "predictions.jsonl",
            (
                {"uid": ex.uid, "gold": int(g), **{m: float(p[i]) for m, p in probs.items()}}
                for i, (ex, g) in enumerate(zip(data.test.examples, gold_test, strict=True))
            ),
        )
        atomic_write_jsonl(stage / "results.jsonl", (r.to_dict() for r in [*rows, *curve_rows]))
        from elicit.w2s.plots import plot_curve, plot_run

        title = f"{config.task}: {config.weak} -> {config.strong}"
        plot_run(rows, stage / "w2s.png", title=title)
        if curve_rows:
            plot_curve([*rows, *curve_rows], stage / "curve.png", title=title)
        if config.generative_finetune:  # 1 GB of weights; the adapter stays
            shutil.rmtree(Path(strong_model), ignore_errors=True)
        atomic_write_json(stage / "metrics.json", metrics)
    return W2SSummary(out=out, rows=[*rows, *curve_rows], metrics=metrics)


def _row(config: W2SConfig, n: int, method: str, metric: str, value: float,
         split: str = "test") -> ResultRow:  # fmt: skip
    return ResultRow(
        task=config.task or "", model=config.strong, method=method, split=split, n=n,
        seed=config.seed, metric=metric, value=value,
    )  # fmt: skip


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
        return _row(config, n, method, metric, value)

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
