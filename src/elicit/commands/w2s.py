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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from elicit.config import config_to_dict, redact_passwords
from elicit.errors import ConfigError
from elicit.evaluation.metrics import auroc
from elicit.evaluation.results import ResultRow, build, known_fields, pct
from elicit.runs import atomic_write_json, atomic_write_jsonl, staged_run_dir
from elicit.tasks.base import Example
from elicit.w2s.config import W2SConfig
from elicit.w2s.curve import Monitor
from elicit.w2s.easy_hard import EasyHardRecord, EasyHardSplit
from elicit.w2s.generative import GenerativeRecord
from elicit.w2s.learner import Learner, gold_of, prompts_of, weak_predictions
from elicit.w2s.pgr import MIN_GAP, agreement, pgr
from elicit.w2s.splits import W2SData, balance, split_halves
from elicit.w2s.students import CEILING, StudentData, plan_students, train_students

WEAK = "weak"
STRONG_ZERO_SHOT = "strong-zero-shot"
STRONG_GEN_ZERO_SHOT = "strong-gen-zero-shot"  # after the generative fine-tuning pass
PROBE_GOLD = "probe-gold"  # lp(gold): a probe on the untrained strong model, gold labels
PROBE_WEAK = "probe-weak"  # lp(weak): the same with the weak labels


@dataclass(frozen=True)
class StudentAgreement:
    """How often a w2s student agrees with its supervisor on the test claims (`pgr.agreement`)."""

    overall: float
    supervisor_right: float
    supervisor_wrong: float


@dataclass(frozen=True)
class W2SScores:
    """What the test claims say: accuracy per method (supervisor, students, references), the
    supervisor's accuracy (on the test set, or for a labels file its labels' accuracy on half
    2), PGR per w2s student (None where the ceiling does not beat the supervisor), PGR on AUROC
    and agreement with the supervisor (both only for a supervisor with test predictions)."""

    accuracy: Mapping[str, float]
    weak_accuracy: float
    weak_label_accuracy_half2: float
    pgr: Mapping[str, float | None]
    pgr_auroc: Mapping[str, float | None] = field(default_factory=dict)
    agreement: Mapping[str, StudentAgreement] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """How far the ceiling beats the supervisor: PGR's denominator."""
        return self.accuracy[CEILING] - self.weak_accuracy


@dataclass(frozen=True)
class W2SMetrics:
    """metrics.json of a w2s run, typed. The JSON layout is flat, as every version wrote it:
    the scores' fields sit at top level, and the optional records (pgr_auroc, agreement,
    generative, easy_to_hard, early_stop_step) only where the run has them.

    generative: what the language-modelling pass did; easy_to_hard: the split and accuracy
    per method on each test subset; early_stop_step: the step each early-stopped student kept; losses: each fine-tuned
    student's loss per step. n_train / n_val: None for a run older than the validation slice."""

    task: str
    weak: str
    strong: str
    seed: int
    n_half1: int
    n_half2: int
    n_test: int
    scores: W2SScores
    seconds: float
    losses: Mapping[str, list[float]]
    n_train: int | None = None
    n_val: int | None = None
    generative: GenerativeRecord | None = None
    easy_to_hard: EasyHardRecord | None = None
    early_stop_step: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        sc = self.scores
        d: dict[str, Any] = {
            "task": self.task,
            "weak": self.weak,
            "strong": self.strong,
            "seed": self.seed,
            "n_half1": self.n_half1,
            "n_half2": self.n_half2,
            "n_test": self.n_test,
            "accuracy": dict(sc.accuracy),
            "weak_accuracy": sc.weak_accuracy,
            "weak_label_accuracy_half2": sc.weak_label_accuracy_half2,
            "pgr": dict(sc.pgr),
        }
        if sc.pgr_auroc:
            d["pgr_auroc"] = dict(sc.pgr_auroc)
        if sc.agreement:
            d["agreement"] = {m: asdict(a) for m, a in sc.agreement.items()}
        if self.generative is not None:
            d["generative"] = asdict(self.generative)
        if self.easy_to_hard is not None:
            d["easy_to_hard"] = self.easy_to_hard.to_dict()
        d["n_train"], d["n_val"] = self.n_train, self.n_val
        if self.early_stop_step:
            d["early_stop_step"] = dict(self.early_stop_step)
        d["seconds"] = self.seconds
        d["losses"] = {m: list(v) for m, v in self.losses.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], what: str = "metrics.json") -> W2SMetrics:
        """Read what `to_dict` (or an older version) wrote; `what` names it in errors."""
        scores = known_fields(W2SScores, d)
        scores["agreement"] = {
            m: build(StudentAgreement, known_fields(StudentAgreement, a), what)
            for m, a in (d.get("agreement") or {}).items()
        }
        values = known_fields(cls, d)
        values["scores"] = build(W2SScores, scores, what)
        values.setdefault("losses", {})
        if isinstance(d.get("generative"), Mapping):
            record = known_fields(GenerativeRecord, d["generative"])
            values["generative"] = build(GenerativeRecord, record, what)
        if isinstance(d.get("easy_to_hard"), Mapping):
            values["easy_to_hard"] = EasyHardRecord.from_dict(d["easy_to_hard"], what)
        return build(cls, values, what)


@dataclass(frozen=True)
class W2SSummary:
    """What `run_w2s` returns: the run directory, its tidy rows (curves included), metrics."""

    out: Path
    rows: list[ResultRow]
    metrics: W2SMetrics

    def describe(self) -> list[str]:
        """The command's result lines: the setting, accuracy and PGR per method."""
        m, sc = self.metrics, self.metrics.scores
        lines = [
            f"{m.task}: weak {redact_passwords(m.weak)} -> strong {redact_passwords(m.strong)} "
            f"(half 1: {m.n_half1}, half 2: {m.n_half2}, balanced test: {m.n_test})"
        ]
        if sc.gap < MIN_GAP:
            lines.append(
                f"  note: the ceiling beats the weak supervisor by {100 * sc.gap:.1f} points "
                "only, so PGR is not meaningful here (use more data, a weaker supervisor or "
                "several seeds)"
            )
        for method, acc in sc.accuracy.items():
            value = sc.pgr.get(method)
            lines.append(
                f"  {method:<22} accuracy {pct(acc)}"
                + (f"  PGR {pct(value)}" if value is not None else "")
            )
        lines.append(f"results written to {self.out}/")
        return lines


def load_data(config: W2SConfig) -> W2SData:
    from elicit.tasks import load_task, sample

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


def run_w2s(config: W2SConfig) -> W2SSummary:
    """Run the protocol (see the module docs) and write the run directory.

    Under a multi-process launcher the fine-tuned students train data-parallel and only the
    main process writes the run directory (`training.distributed`)."""
    from elicit.training.distributed import process_config

    config = process_config(config)
    out = config.out_dir()
    start = time.perf_counter()
    data = load_data(config)
    with staged_run_dir(out, force=config.force) as stage:
        atomic_write_json(stage / "config.json", config_to_dict(config))
        rows, metrics = _run(config, data, stage, start)
    return W2SSummary(out=out, rows=rows, metrics=metrics)


@dataclass(frozen=True)
class _Trained:
    """What the models of one run predicted: P(True) on the test claims per method, and what
    the scores and metrics need besides (the students' data, the easy-to-hard split, the
    strong learner's loss histories and early-stopping steps, the curves)."""

    probs: dict[str, np.ndarray]
    weak_half2: np.ndarray  # the supervisor's P(True) on half 2 (NaN: not labelled)
    students: StudentData
    strong: Learner
    monitors: dict[str, Monitor]
    generative: GenerativeRecord | None
    easy_hard: EasyHardSplit | None


def _run(
    config: W2SConfig, data: W2SData, stage: Path, start: float
) -> tuple[list[ResultRow], W2SMetrics]:
    """The body of `run_w2s`, writing into the staging directory `stage`."""
    trained = _train(config, data, stage)
    rows, curve_rows, metrics = _measure(config, data, trained, start)
    _write(config, stage, data, trained.probs, rows, curve_rows)
    if trained.generative is not None:  # 1 GB of weights; the adapter stays
        shutil.rmtree(Path(trained.strong.model), ignore_errors=True)
    atomic_write_json(stage / "metrics.json", metrics.to_dict())
    return [*rows, *curve_rows], metrics


def _train(config: W2SConfig, data: W2SData, stage: Path) -> _Trained:
    """The supervisor's labels, the strong model (after the generative pass), the chain, then
    every student plan, trained by one loop."""
    test_prompts = prompts_of(data.test)
    weak_half2, weak_test = weak_predictions(config, data, stage)
    keep = ~np.isnan(weak_half2)  # a labels file need not cover every half-2 claim
    half2 = [ex for ex, k in zip(data.half2.examples, keep, strict=True) if k]
    probs: dict[str, np.ndarray] = {} if weak_test is None else {WEAK: weak_test}
    strong = Learner(config, config.strong, stage)
    probs[STRONG_ZERO_SHOT] = strong.zero_shot(test_prompts)
    generative = None
    if config.generative_finetune:
        strong, generative = _generative(config, half2, stage)
        probs[STRONG_GEN_ZERO_SHOT] = strong.zero_shot(test_prompts)
    labels = _chain(config, half2, weak_half2[keep], test_prompts, stage, probs)
    students = StudentData.split(
        half2,
        labels,
        gold_of(data.half2)[keep].astype(float),
        weak_half2[keep],
        frac=config.validation_frac(),
        seed=config.seed,
    )
    easy_hard = _easy_hard(config, data, students, weak_test) if config.easy_to_hard else None
    probes = _gold_probes(config, strong.model, students, test_prompts)
    plans = plan_students(
        config.loss_list(), students, easy_hard=easy_hard, probe_gold=probes is not None
    )
    student_probs, monitors = train_students(
        plans,
        strong,
        test_prompts,
        gold_of(data.test),
        students,
        curve=config.tracks_curve(),
        early_stop=config.early_stop,
        probes=probes,
    )
    probs.update(student_probs)
    if probes is not None:
        probs[PROBE_GOLD], probs[PROBE_WEAK] = probes.base()
    return _Trained(probs, weak_half2, students, strong, monitors, generative, easy_hard)


def _measure(
    config: W2SConfig, data: W2SData, trained: _Trained, start: float
) -> tuple[list[ResultRow], list[ResultRow], W2SMetrics]:
    """Tidy rows (scores, easy/hard subsets, early-stopping steps), curve rows, metrics."""
    gold_test = gold_of(data.test)
    rows, scores = _score(config, trained.probs, trained.weak_half2, gold_of(data.half2), gold_test)
    e2h = None
    if trained.easy_hard is not None:
        from elicit.w2s.easy_hard import subset_scores

        subsets: dict[str, dict[str, float]] = {}
        hard = trained.easy_hard.hard_test
        for where, method, metric, n, value in subset_scores(trained.probs, gold_test, hard):
            rows.append(_row(config, n, method, metric, value, split=where))
            if metric == "accuracy":
                subsets.setdefault(where, {})[method] = value
        e2h = replace(trained.easy_hard.describe(), accuracy=subsets)
    best_steps = trained.strong.best_steps
    rows += [
        _row(config, len(gold_test), method, "early_stop_step", float(step))
        for method, step in best_steps.items()
    ]
    curve_rows: list[ResultRow] = [
        row
        for method, monitor in trained.monitors.items()
        for row in monitor.rows(
            task=config.task or "", model=config.strong, method=method, seed=config.seed
        )
    ]
    metrics = W2SMetrics(
        task=config.task or "",
        weak=config.weak,
        strong=config.strong,
        seed=config.seed,
        n_half1=len(data.half1),
        n_half2=int((~np.isnan(trained.weak_half2)).sum()),
        n_test=len(gold_test),
        scores=scores,
        n_train=len(trained.students.train),
        n_val=len(trained.students.val),
        generative=trained.generative,
        easy_to_hard=e2h,
        early_stop_step=dict(best_steps),
        seconds=time.perf_counter() - start,
        losses=trained.strong.histories,
    )
    return rows, curve_rows, metrics


def _easy_hard(
    config: W2SConfig, data: W2SData, students: StudentData, weak_test: np.ndarray | None
) -> EasyHardSplit:
    """The easy-to-hard split of the students' training claims and the test claims."""
    from elicit.w2s.easy_hard import choose_split

    return choose_split(
        config.task or "",
        config.difficulty,
        config.easy_frac,
        config.seed,
        (config.load_options("train"), students.train),
        (config.load_options("test"), data.test),
        students.weak,
        weak_test,
        config.weak,
    )


def _generative(
    config: W2SConfig, half2: list[Example], stage: Path
) -> tuple[Learner, GenerativeRecord]:
    """The strong model after a next-token pass on half 2's claim texts, and its record."""
    from elicit.w2s.generative import claim_texts, generative_finetune

    gen = generative_finetune(
        config.strong,
        claim_texts(prompts_of(half2)),
        replace(config.fit_options(), max_steps=config.gen_steps, eval_every=None),
        stage / "generative",
        seed=config.seed,
        progress=config.progress,
    )
    return Learner(config, str(gen.model_dir), stage), gen.describe()


def _chain(
    config: W2SConfig,
    half2: list[Example],
    labels: np.ndarray,
    test_prompts: list[str],
    stage: Path,
    probs: dict[str, np.ndarray],
) -> np.ndarray:
    """Bootstrapping (`--chain`): each link learns half 2's current labels and relabels it; its
    test predictions join `probs`. Returns the labels the strong students learn from."""
    for i, model in enumerate(m.strip() for m in config.chain.split(",") if m.strip()):
        name = f"chain-{i + 1}-{Path(model).name}"
        labels, probs[name] = Learner(config, model, stage).fit_predict(
            name, half2, labels, config.loss_list()[0], [prompts_of(half2), test_prompts]
        )
    return labels


def _gold_probes(
    config: W2SConfig, model: str, students: StudentData, test_prompts: list[str]
) -> Any:
    """`probe.GoldProbes` on the students' training claims with --probe-gold, else None."""
    if not config.probe_gold:
        return None
    from elicit.w2s.probe import GoldProbes

    return GoldProbes(
        model,
        prompts_of(students.train),
        students.gold,
        students.labels,
        test_prompts,
        epochs=config.probe_epochs,
        lr=config.probe_lr,
        seed=config.seed,
    )


def _write(
    config: W2SConfig,
    stage: Path,
    data: W2SData,
    probs: dict[str, np.ndarray],
    rows: list[ResultRow],
    curve_rows: Sequence[ResultRow],
) -> None:
    """predictions.jsonl, results.jsonl and the plots (metrics.json, which marks the run
    finished, is the caller's to write last)."""
    atomic_write_jsonl(
        stage / "predictions.jsonl",
        (
            {"uid": ex.uid, "gold": int(g), **{m: float(p[i]) for m, p in probs.items()}}
            for i, (ex, g) in enumerate(zip(data.test.examples, gold_of(data.test), strict=True))
        ),
    )
    atomic_write_jsonl(stage / "results.jsonl", (r.to_dict() for r in [*rows, *curve_rows]))
    from elicit.w2s.plots import plot_curve, plot_run

    title = f"{config.task}: {config.weak} -> {config.strong}"
    plot_run(rows, stage / "w2s.png", title=title)
    if curve_rows:
        plot_curve([*rows, *curve_rows], stage / "curve.png", title=title)


def _row(
    config: W2SConfig, n: int, method: str, metric: str, value: float, split: str = "test"
) -> ResultRow:
    return ResultRow(
        task=config.task or "",
        model=config.strong,
        method=method,
        split=split,
        n=n,
        seed=config.seed,
        metric=metric,
        value=value,
    )


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else x


def _score(
    config: W2SConfig,
    probs: dict[str, np.ndarray],
    weak_half2: np.ndarray,
    gold_half2: np.ndarray,
    gold_test: np.ndarray,
) -> tuple[list[ResultRow], W2SScores]:
    """Tidy rows (accuracy and AUROC per method, PGR and agreement per w2s student) and the
    scores they come to."""
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
    keep = ~np.isnan(weak_half2)
    weak_label_acc = float(((weak_half2[keep] > 0.5).astype(np.int64) == gold_half2[keep]).mean())
    rows.append(row(WEAK, "label_accuracy_half2", weak_label_acc))
    weak_acc = accuracy.get(WEAK, weak_label_acc)
    aurocs = {r.method: r.value for r in rows if r.metric == "auroc"}
    ceiling = accuracy[CEILING]
    gaps: dict[str, float | None] = {}
    gaps_auroc: dict[str, float | None] = {}
    agreements: dict[str, StudentAgreement] = {}
    for name in config.loss_list():
        method = f"w2s-{name}"
        value = pgr(weak_acc, accuracy[method], ceiling)
        rows.append(row(method, "pgr", value))
        gaps[method] = _none_if_nan(value)
        if WEAK in aurocs:  # PGR on AUROC, as EleutherAI's w2s reports it
            value_auroc = pgr(aurocs[WEAK], aurocs[method], aurocs[CEILING])
            rows.append(row(method, "pgr_auroc", value_auroc))
            gaps_auroc[method] = _none_if_nan(value_auroc)
        if WEAK in probs:
            a = agreement(probs[method] > 0.5, probs[WEAK] > 0.5, gold_test)
            rows += [
                row(method, "agreement", a.overall),
                row(method, "agreement_supervisor_right", a.supervisor_right),
                row(method, "agreement_supervisor_wrong", a.supervisor_wrong),
            ]
            agreements[method] = StudentAgreement(a.overall, a.supervisor_right, a.supervisor_wrong)
    scores = W2SScores(
        accuracy=accuracy,
        weak_accuracy=weak_acc,
        weak_label_accuracy_half2=weak_label_acc,
        pgr=gaps,
        pgr_auroc=gaps_auroc,
        agreement=agreements,
    )
    return rows, scores


__all__ = [
    "StudentAgreement",
    "W2SConfig",
    "W2SMetrics",
    "W2SScores",
    "W2SSummary",
    "load_data",
    "run_w2s",
    "weak_predictions",
]
