"""`elicit self-improve`: LMSI (Huang et al. 2022, arXiv 2210.11610) end to end.

    elicit self-improve --task arithmetic --n 16 --test-n 16 --paths 4 --max-new-tokens 48
    elicit self-improve --task gsm8k        # paper settings: 32 paths at T = 0.7

1. Draw `--shots` worked exemplars from the task's train split and `--n` other train questions
   as the *unlabeled* pool (their gold answers are never used to select anything).
2. Sample `--paths` chain-of-thought paths per pool question at `--temperature`, extract each
   answer, take the majority and its agreement (the paper's confidence). Keep every path that
   reaches the majority, for questions whose agreement is at least `--min-agreement` (off by
   default, as in the paper's main runs).
3. Write four (prompt, completion) training examples per kept path (`prompts.FORMATS`).
4. Evaluate the base model on `--test-n` held-out test questions: greedy and self-consistency
   over `--eval-paths` paths. Fine-tune on the training examples (`finetune`; the training
   flags `--epochs`, `--lr`, `--lora`, ... are those of `elicit train`), or evaluate the model
   given with `--finetuned DIR`, and evaluate it the same way.

The run directory holds config.json, exemplars.jsonl, paths.jsonl (pool: every path, answers,
majority, agreement, gold for analysis), train.jsonl (the training examples), predictions.jsonl
(held-out paths and answers, before and after), tidy results.jsonl, metrics.json,
before_after.png and agreement.png; sft/ holds the LoRA adapter (and the merged model with
--save-model). With --backend llamacpp the "after" model runs there too: sft/adapter.gguf is
the adapter written for llama.cpp and applied to the base GGUF (`training.gguf_adapter`), so
before and after are measured on one backend, at its speed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from elicit.backends.base import LM
from elicit.config import config_to_dict, help_field, required_field
from elicit.errors import ConfigError
from elicit.evaluation.results import ResultRow, build, known_fields, pct
from elicit.options import LMOptions, RunOptions
from elicit.runs import atomic_write_json, atomic_write_jsonl, staged_run_dir
from elicit.selfimprove.evaluate import AFTER_PREFIX, Evaluation, evaluate_model, gain_rows
from elicit.selfimprove.plots import plot_agreement, plot_before_after
from elicit.selfimprove.prompts import TrainingExample, training_examples
from elicit.selfimprove.questions import (
    QUESTION_SETS,
    Exemplar,
    QuestionSet,
    load_exemplars,
    load_questions,
    sample_questions,
)
from elicit.selfimprove.sampling import Sampled, accuracy, sample_paths
from elicit.selfimprove.vote import passes
from elicit.training.config import FitOptions

log = logging.getLogger("elicit")

MAJORITY = "majority-vote"  # method name of the pool's self-generated labels in the rows


@dataclass(frozen=True)
class SelfImproveConfig(FitOptions, RunOptions, LMOptions):
    """Options of `elicit self-improve` (model, run and fine-tuning options are shared)."""

    task: str = required_field(
        "question set: " + ", ".join(sorted(QUESTION_SETS)) + "; required",
        missing=f"no task given: pass --task NAME, one of {', '.join(sorted(QUESTION_SETS))}",
        choices=sorted(QUESTION_SETS),
    )
    n: int | None = help_field(100, "unlabeled training questions, sampled with --seed")
    test_n: int | None = help_field(100, "held-out test questions, sampled with --seed")
    seed: int = help_field(0, "random seed (exemplars, questions, sampling, training)")
    shots: int = help_field(8, "worked chain-of-thought exemplars in every prompt")
    paths: int = help_field(32, "reasoning paths sampled per unlabeled question (paper: 32)")
    temperature: float = help_field(0.7, "sampling temperature of the paths (paper: 0.7)")
    max_new_tokens: int = help_field(256, "longest reasoning path, in tokens")
    min_agreement: float | None = help_field(
        None, "keep only questions whose majority has at least this agreement (none = all)"
    )
    eval_paths: int = help_field(
        32, "paths per held-out question for self-consistency accuracy (1 = greedy only)"
    )
    finetune: bool = help_field(
        True, "fine-tune on the self-generated examples and evaluate again (--no-finetune)"
    )
    finetuned: str | None = help_field(
        None, "evaluate this already fine-tuned model as 'after' instead of training one"
    )
    save_model: bool = help_field(False, "also save the merged fine-tuned model under sft/model")

    def __post_init__(self) -> None:
        super().__post_init__()  # --task's choice, the fine-tuning, run and LM groups
        for name in ("n", "test_n"):
            value = getattr(self, name)
            if value is not None and value < 1:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} must be at least 1 (or none for all), got {value}")
        if self.paths < 1 or self.eval_paths < 1:
            raise ConfigError(
                f"--paths and --eval-paths must be at least 1, got {self.paths}, {self.eval_paths}"
            )
        if self.temperature <= 0 and (self.paths > 1 or self.eval_paths > 1):
            raise ConfigError(
                f"--temperature {self.temperature} gives every sampled path the same text; "
                "use a positive temperature (the paper's 0.7) or --paths 1 --eval-paths 1"
            )
        if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
            raise ConfigError(f"--min-agreement must be in [0, 1], got {self.min_agreement}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        n = "all" if self.n is None else str(self.n)
        return Path("runs/self-improve") / f"{self.task}-{self.model_short_name}-n{n}-s{self.seed}"

    def fit_options(self) -> FitOptions:
        from dataclasses import fields

        return FitOptions(**{f.name: getattr(self, f.name) for f in fields(FitOptions)})

    def questions_per_call(self) -> int:
        # ~256 sequences per generate call. Few calls, because every call pays a fixed cost: the
        # hf backend's stop strings make transformers rebuild a table over the whole vocabulary
        # (seconds for Gemma's 262k tokens; its cache misses because the vocabulary dict comes
        # back in a different order each time). Not one call either, so progress shows.
        return max(1, 256 // max(self.paths, self.eval_paths))


@dataclass(frozen=True)
class AfterRecord:
    """Where the "after" model came from: fine-tuned here (steps, loss, adapter), given with
    --finetuned (after_model), or none (finetuned False; skipped says why, if not asked)."""

    finetuned: bool
    after_model: str | None = None
    train_steps: int | None = None
    final_loss: float | None = None
    adapter: str | None = None  # relative to the run directory
    #: The adapter as llama.cpp loads it (relative), when "after" ran on the llamacpp backend.
    llamacpp_adapter: str | None = None
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # The fields of how it came about; a fine-tuning run records its loss and adapter
        # even when there is none (null), as metrics.json always did.
        trained = self.train_steps is not None
        return {
            k: v
            for k, v in asdict(self).items()
            if k == "finetuned" or v is not None or (trained and k in ("final_loss", "adapter"))
        }


@dataclass(frozen=True)
class SelfImproveMetrics:
    """metrics.json of a self-improve run, typed. The JSON layout is flat, as every version
    wrote it: the after record's fields and one "method/metric" key per tidy row (null for
    NaN) sit at top level."""

    task: str
    model: str
    n_pool: int
    n_test: int
    n_kept: int
    n_train_examples: int
    after: AfterRecord
    results: Mapping[str, float | None]
    seconds: float
    plots: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "model": self.model,
            "n_pool": self.n_pool,
            "n_test": self.n_test,
            "n_kept": self.n_kept,
            "n_train_examples": self.n_train_examples,
            **self.after.to_dict(),
            **self.results,
            "seconds": self.seconds,
            "plots": list(self.plots),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], what: str = "metrics.json") -> SelfImproveMetrics:
        """Read what `to_dict` (or an older version) wrote; `what` names it in errors."""
        values = known_fields(cls, d)
        values["after"] = build(AfterRecord, known_fields(AfterRecord, d), what)
        values["results"] = {k: v for k, v in d.items() if "/" in k}
        values["plots"] = tuple(d.get("plots", ()))
        return build(cls, values, what)


@dataclass(frozen=True)
class SelfImproveSummary:
    """What `run_self_improve` returns: the run directory, its tidy rows and metrics."""

    out: Path
    rows: tuple[ResultRow, ...]
    metrics: SelfImproveMetrics

    def value(self, method: str, metric: str) -> float | None:
        for r in self.rows:
            if r.method == method and r.metric == metric:
                return r.value
        return None

    def accuracy(self, method: str) -> float | None:
        return self.value(method, "accuracy")

    def _gain(self, method: str) -> str:
        """ "(gain +8.0 points, 95% CI -1.4 to +17.2, McNemar p 0.12)", or nothing."""
        row = next((r for r in self.rows if r.method == method and r.metric == "gain"), None)
        p = self.value(method, "mcnemar_p")
        if row is None or row.ci_low is None or row.ci_high is None or p is None:
            return ""
        return (
            f" (gain {100 * row.value:+.1f} points, 95% CI {100 * row.ci_low:+.1f} to "
            f"{100 * row.ci_high:+.1f}, McNemar p {p:.2g})"
        )

    def describe(self) -> list[str]:
        """The command's result lines: what the pool kept, and accuracy before and after."""
        m = self.metrics
        lines = [
            f"{m.task}: kept {m.n_kept} of {m.n_pool} questions (majority right "
            f"{pct(self.value(MAJORITY, 'label_accuracy'))}), {m.n_train_examples} training "
            "examples"
        ]
        for method in ("greedy", "self-consistency"):
            before, after = self.accuracy(method), self.accuracy(AFTER_PREFIX + method)
            if before is not None:
                then = f" -> {pct(after)} after LMSI" if after is not None else ""
                lines.append(
                    f"  {method} accuracy on {m.n_test} test questions: {pct(before)}{then}"
                    + self._gain(AFTER_PREFIX + method)
                )
        lines.append(f"results written to {self.out}/")
        return lines


def pool_rows(
    sampled: Sequence[Sampled], pool: QuestionSet, kept: Sequence[Sampled], config: Any, model: str
) -> list[ResultRow]:
    """How good the self-generated labels are (gold used only to report it)."""

    def row(metric: str, value: float, n: int) -> ResultRow:
        return ResultRow(pool.task, model, MAJORITY, "train", n, config.seed, metric, value)

    n = len(sampled)
    agreement = sum(s.vote.agreement for s in sampled) / n if n else float("nan")
    return [
        row("label_accuracy", accuracy(sampled, pool.gold), n),
        row("kept_label_accuracy", accuracy(kept, pool.gold), len(kept)),
        row("kept_fraction", len(kept) / n if n else float("nan"), n),
        row("mean_agreement", agreement, n),
    ]


def build_training_set(
    kept: Sequence[Sampled], pool: QuestionSet, exemplars: Sequence[Exemplar]
) -> list[TrainingExample]:
    """Four examples (`prompts.FORMATS`) per path that reaches its question's majority."""
    out: list[TrainingExample] = []
    for s in kept:
        assert s.vote.answer is not None  # passes() keeps only answered questions
        for i, (text, answer) in enumerate(zip(s.paths, s.answers, strict=True)):
            if s.vote.keeps(answer):
                out += training_examples(
                    s.uid, s.question, i, text, s.vote.answer, exemplars, pool.kind
                )
    return out


def _predictions(ev: Evaluation, test: QuestionSet, stage: str) -> list[dict[str, Any]]:
    rows = []
    for decoding, items in (("greedy", ev.greedy), ("self-consistency", ev.self_consistency)):
        for s in items:
            record: dict[str, Any] = {"stage": stage, "decoding": decoding}
            rows.append({**record, **s.to_dict(), "gold": test.gold.get(s.uid)})
    return rows


def run_self_improve(config: SelfImproveConfig, lm: LM | None = None) -> SelfImproveSummary:
    """Run LMSI as configured and write the run directory. `lm` overrides the model (tests).

    Under a multi-process launcher every process samples and fine-tunes (data-parallel) and
    only the main one writes the run directory (`training.distributed`)."""
    from elicit.training.distributed import process_config

    config = process_config(config)
    start = time.perf_counter()
    exemplars = load_exemplars(config.task, config.shots, config.seed)
    taken = frozenset(e.question for e in exemplars)
    pool = sample_questions(load_questions(config.task, "train"), config.n, config.seed, taken)
    test = sample_questions(load_questions(config.task, "test"), config.test_n, config.seed)
    out = config.out_dir()
    owned = lm is None  # a model loaded here is closed here
    with staged_run_dir(out, force=config.force) as stage:
        lm = lm or config.load_lm(config.progress)
        try:
            summary = _run(config, lm, exemplars, pool, test, stage, out)
        finally:
            if owned:
                lm.close()
    log.info("self-improve finished in %.0f s", time.perf_counter() - start)
    return summary


def _run(
    config: SelfImproveConfig,
    lm: LM,
    exemplars: Sequence[Exemplar],
    pool: QuestionSet,
    test: QuestionSet,
    stage: Path,
    out: Path,
) -> SelfImproveSummary:
    """The body of `run_self_improve`, writing into the staging directory `stage`."""
    start = time.perf_counter()
    model = lm.name
    atomic_write_json(stage / "config.json", config_to_dict(config))
    atomic_write_jsonl(stage / "exemplars.jsonl", (asdict(e) for e in exemplars))

    sampled = sample_paths(
        lm,
        pool,
        exemplars,
        paths=config.paths,
        temperature=config.temperature,
        max_new_tokens=config.max_new_tokens,
        seed=config.seed,
        questions_per_call=config.questions_per_call(),
        progress=config.progress,
        desc="sampling paths",
    )
    atomic_write_jsonl(
        stage / "paths.jsonl", ({**s.to_dict(), "gold": pool.gold.get(s.uid)} for s in sampled)
    )
    kept = [s for s in sampled if passes(s.vote, config.min_agreement)]
    train = build_training_set(kept, pool, exemplars)
    atomic_write_jsonl(stage / "train.jsonl", (t.to_dict() for t in train))
    rows = pool_rows(sampled, pool, kept, config, model)
    log.info("kept %d of %d questions, %d training examples", len(kept), len(sampled), len(train))

    before = _evaluate(config, lm, test, exemplars, model, "")
    rows += before.rows
    predictions = _predictions(before, test, "before")
    after_lm, after_record = _after_model(config, lm, train, stage)
    if after_lm is not None:
        after = _evaluate(config, after_lm, test, exemplars, model, AFTER_PREFIX)
        rows += after.rows
        rows += gain_rows(before, after, test, model=model, seed=config.seed)
        predictions += _predictions(after, test, "after")
        if after_lm is not lm:
            after_lm.close()

    atomic_write_jsonl(stage / "predictions.jsonl", predictions)
    atomic_write_jsonl(stage / "results.jsonl", (r.to_dict() for r in rows))
    plot_before_after([r.to_dict() for r in rows], stage / "before_after.png")
    plot_agreement(
        [s.vote.agreement for s in sampled],
        [s.vote.answer == pool.gold[s.uid] if s.uid in pool.gold else None for s in sampled],
        stage / "agreement.png",
        title=f"{config.task}: agreement of {config.paths} sampled paths ({model})",
    )
    metrics = SelfImproveMetrics(
        task=config.task or "",
        model=model,
        n_pool=len(pool),
        n_test=len(test),
        n_kept=len(kept),
        n_train_examples=len(train),
        after=after_record,
        results={f"{r.method}/{r.metric}": r.to_dict()["value"] for r in rows},
        seconds=time.perf_counter() - start,
        plots=("before_after.png", "agreement.png"),
    )
    atomic_write_json(stage / "metrics.json", metrics.to_dict())
    return SelfImproveSummary(out, tuple(rows), metrics)


def _evaluate(
    config: SelfImproveConfig,
    lm: LM,
    test: QuestionSet,
    exemplars: Sequence[Exemplar],
    model: str,
    prefix: str,
) -> Evaluation:
    return evaluate_model(
        lm,
        test,
        exemplars,
        model=model,
        prefix=prefix,
        paths=config.eval_paths,
        temperature=config.temperature,
        max_new_tokens=config.max_new_tokens,
        seed=config.seed,
        questions_per_call=config.questions_per_call(),
        progress=config.progress,
    )


def _after_model(
    config: SelfImproveConfig, lm: LM, train: Sequence[TrainingExample], stage: Path
) -> tuple[LM | None, AfterRecord]:
    """The model to evaluate as "after" (a given one, a freshly fine-tuned one, or none) and
    the record of where it came from."""
    if config.finetuned:
        from elicit.backends import load_lm

        after = load_lm(config.finetuned, config.backend, **config.backend_options(config.progress))
        return after, AfterRecord(finetuned=True, after_model=config.finetuned)
    if not config.finetune:
        return None, AfterRecord(finetuned=False)
    if not train:
        log.warning("no question kept: nothing to fine-tune on; skipping the 'after' evaluation")
        return None, AfterRecord(finetuned=False, skipped="no training examples")
    from elicit.backends import resolve_backend
    from elicit.selfimprove.finetune import finetune

    result = finetune(
        config.model,
        train,
        config.fit_options(),
        stage / "sft",
        seed=config.seed,
        device=config.device,
        save_model=config.save_model,
        progress=config.progress,
    )
    after_lm: LM = result.lm
    on_llamacpp: Path | None = None
    if result.adapter_dir is not None and resolve_backend(config.model, config.backend) == (
        "llamacpp"
    ):
        after_lm, on_llamacpp = _on_llamacpp(config, result.lm, result.adapter_dir)

    def relative(path: Path | None) -> str | None:
        # Relative to the run directory: the staging directory is renamed when the run ends.
        return str(path.relative_to(stage)) if path is not None else None

    record = AfterRecord(
        finetuned=True,
        train_steps=result.steps,
        final_loss=result.final_loss,
        adapter=relative(result.adapter_dir),
        llamacpp_adapter=relative(on_llamacpp),
    )
    return after_lm, record


def _on_llamacpp(config: SelfImproveConfig, tuned: LM, adapter_dir: Path) -> tuple[LM, Path | None]:
    """The fine-tuned model on the llama.cpp backend that sampled and evaluated "before": the
    base GGUF with the LoRA adapter written for llama.cpp (2-6x faster generation on a CPU
    than the merged fp32 model in transformers). The merged model, and a warning, where that
    architecture's adapter cannot be written."""
    from elicit.backends import load_lm
    from elicit.models import gguf_file
    from elicit.training.gguf_adapter import export_gguf_adapter

    try:
        base = gguf_file(config.model, progress=config.progress)
        path = export_gguf_adapter(adapter_dir, base, adapter_dir.parent / "adapter.gguf")
    except ConfigError as e:
        log.warning("evaluating the fine-tuned model in transformers instead of llama.cpp: %s", e)
        return tuned, None
    tuned.close()
    options = config.backend_options(config.progress)
    return load_lm(config.model, "llamacpp", lora=path, **options), path
