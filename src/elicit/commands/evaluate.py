"""`elicit eval`: baselines and labels from a source, scored on the same held-out claims.

    elicit eval --task sst2 --n 100                              # the four built-in methods
    elicit eval --task truthfulqa --labels runs/label/truthfulqa-...   # adds "icm"
    elicit eval --task alpaca-comparison --labels human=human.jsonl,weak=weak.jsonl

Test claims: `--split` (test) of the task, `--n` sampled with `--seed`. Methods (one entry
each in the registry of `evaluation.methods`; the scoring itself is in `evaluation.baselines`):
zero-shot, zero-shot-chat (`--chat-model`), and many-shot in context with labels from golden, random,
majority-vote (`majority`: each demo labelled by the model's independent consensus; added by
default next to an ICM run), or each `--labels` source. Demos come from `--pool-split` (train),
never share a consistency group with a test claim, and are identical across many-shot methods
except for their labels. For every label source the run also reports its agreement with gold
on the pool examples it labels (for an ICM run: its label accuracy).

The run directory holds config.json, demos.jsonl (the context order and every source's label
per demo), predictions.jsonl (uid, method, score, prediction, gold), results.json (one row per
method: task, model, method, accuracy, n, seed, ...), tidy results.jsonl (`ResultRow`s),
metrics.json and accuracy.png (our bars beside the paper's Figure 1 numbers where it has them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicit.backends.base import LM, FloatArray, LabelSet
from elicit.config import config_to_dict, help_field
from elicit.errors import ConfigError
from elicit.evaluation import baselines as bl
from elicit.evaluation.majority import MAJORITY
from elicit.evaluation.methods import (
    METHODS,
    EvalMethod,
    LabelSource,
    Scoring,
    check_pool_gold,
    default_methods,
    label_order,
    resolve_methods,
)
from elicit.evaluation.metrics import median_predictions, summarize
from elicit.evaluation.paper import paper_result
from elicit.evaluation.summary import (
    EvalSummary,
    MethodResult,
    format_table,
    metrics_record,
    tidy_rows,
)
from elicit.options import DataOptions, LMOptions, RunOptions, Split, run_dir
from elicit.runs import atomic_write_json, atomic_write_jsonl, staged_run_dir
from elicit.tasks.base import Example, TaskData

log = logging.getLogger("elicit")

__all__ = ["EvalConfig", "EvalSummary", "MethodResult", "format_table", "run_eval"]

#: The --methods default: the registered methods marked default (see `methods`).
DEFAULT_METHODS = default_methods()
PLOT_FILE = "accuracy.png"


@dataclass(frozen=True)
class EvalConfig(RunOptions, LMOptions, DataOptions):
    """Options of `elicit eval` (data, model and run options are shared with other commands)."""

    methods: str = help_field(
        DEFAULT_METHODS,
        f"comma-separated methods: {', '.join(METHODS)}; every --labels source is added, "
        f"and {MAJORITY} next to an ICM run by default",
    )
    labels: str | None = help_field(
        None,
        "labels for many-shot prompts: comma-separated labels.jsonl files or run directories, "
        "each PATH or NAME=PATH (an ICM run is called 'icm')",
    )
    chat_model: str = help_field(
        "smollm2-135m-instruct", "chat model for zero-shot-chat (skipped if it cannot load)"
    )
    pool_split: Split = help_field("train", "split the demonstrations come from")
    pool_n: int | None = help_field(
        None, "pool examples sampled with --seed (none = the whole split, so every labelled one)"
    )
    max_demos: int | None = help_field(None, "at most this many demonstrations (none = no cap)")
    context_tokens: int = help_field(
        2048, "token budget of a many-shot prompt (demos + claim); raise it on a GPU"
    )
    majority_votes: int = help_field(
        5, "majority-vote: times each demo claim is asked, each with other few-shot demos"
    )
    majority_shots: int = help_field(4, "majority-vote: few-shot demos per question")
    min_confidence: float | None = help_field(
        None,
        "keep only --labels whose confidence (the 'margin' field `elicit label "
        "--confidence` writes) is at least this; every method then uses the remaining demos. "
        "Label agreement by coverage is reported for any source with confidences",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pool_n is not None and self.pool_n < 1:
            raise ConfigError(f"--pool-n must be at least 1 (or none for all), got {self.pool_n}")
        if self.max_demos is not None and self.max_demos < 0:
            raise ConfigError(f"--max-demos must be >= 0 (or none), got {self.max_demos}")
        if self.context_tokens < 16:
            raise ConfigError(f"--context-tokens must be at least 16, got {self.context_tokens}")
        if self.majority_votes < 1 or self.majority_shots < 0:
            raise ConfigError(
                f"--majority-votes must be >= 1 and --majority-shots >= 0, got "
                f"{self.majority_votes} and {self.majority_shots}"
            )
        self.method_list()  # validates names

    def label_specs(self) -> list[bl.LabelSpec]:
        return bl.parse_label_specs(self.labels, reserved=METHODS)

    def method_list(self) -> list[str]:
        """Requested methods in order, then every --labels source not already listed."""
        sources = [s.name for s in self.label_specs()]
        known = [*METHODS, *sources]
        names = [m.strip() for m in self.methods.split(",") if m.strip()]
        for m in names:
            if m not in known:
                raise ConfigError(
                    f"unknown method {m!r} in --methods; choose from {', '.join(known)} "
                    "(label files join with --labels PATH or NAME=PATH)"
                )
        out = list(dict.fromkeys(names))
        out += [s for s in sources if s not in out]
        # Beside an ICM run, the default methods add independent majority-vote labels, so the
        # table shows what ICM's joint search adds over per-claim consensus.
        icm = [s.name for s in self.label_specs() if bl.is_icm_run(s.path)]
        if icm and self.methods == DEFAULT_METHODS and MAJORITY not in out:
            out.insert(out.index(icm[0]) + 1, MAJORITY)
        if not out:
            raise ConfigError("no methods to run: pass --methods zero-shot,golden,... or --labels")
        return out

    def eval_methods(self) -> list[EvalMethod]:
        """The methods of `method_list`, registered ones and one per --labels source."""
        return resolve_methods(self.method_list(), self.label_specs())

    def out_dir(self) -> Path:
        return run_dir(self, "eval")

    def chat_options(self) -> LMOptions:
        # The same backend settings as the base model, except the model. max_length is left to
        # the chat model: its prompts are single claims, and its context may be shorter.
        return LMOptions(
            model=self.chat_model,
            backend=self.backend,
            lm_batch_size=self.lm_batch_size,
            device=self.device,
            dtype=self.dtype,
            cache=self.cache,  # entries are keyed by model identity: one file serves both
        )


# ---------------------------------------------------------------------- the run


def run_eval(config: EvalConfig, lm: LM | None = None, chat_lm: LM | None = None) -> EvalSummary:
    """Run every method of `config` and write the run directory.

    lm overrides the base model, chat_lm the chat model (e.g. scripted LMs in tests).
    """
    from elicit.evaluation.plots import plot_accuracy

    start = time.perf_counter()
    methods = config.eval_methods()
    out = config.out_dir()
    test = config.load_gold_sample("eval")
    gold = test.gold_of(test.examples)
    queries = [ex.prompt for ex in test.examples]
    label_set = LabelSet(words=test.label_words)
    pool = _load_pool(config) if any(m.uses_demos for m in methods) else None
    # Labels known from the pool alone are read before the model loads: a bad file fails fast.
    sources = _pool_sources(config, methods, pool) if pool is not None else {}
    ordered = _demo_pool(config, pool, test, sources) if pool is not None else ()

    # The run directory is checked (finished? foreign?) before the model loads: fail fast.
    with staged_run_dir(out, force=config.force) as stage:
        if lm is None:
            lm = config.load_lm(config.progress)
        atomic_write_json(stage / "config.json", config_to_dict(config))
        fit = bl.fit_demos(
            lm,
            ordered,
            queries,
            label_set,
            context_tokens=config.context_tokens,
            max_demos=config.max_demos,
        )
        scoring = Scoring(config, lm, chat_lm, queries, label_set, fit.examples)
        for method in label_order(methods):
            if method.demo_labels is not None:
                sources[method.name] = LabelSource(method.demo_labels(scoring))
        pool_gold = pool.gold if pool is not None else {}
        results: list[MethodResult] = []
        predictions: list[dict[str, Any]] = []
        for method in methods:
            source = sources.get(method.name)
            result, scores = _run_method(method, scoring, source, pool_gold, gold)
            results.append(result)
            if scores is not None:
                predictions += _predictions(method.name, test.examples, scores, gold)

        summary = EvalSummary(
            out=out,
            task=config.task,
            model=lm.name,
            split=config.split,
            n=len(gold),
            seed=config.seed,
            results=tuple(results),
            n_pool=len(ordered),
            n_demos=len(fit.examples),
            prompt_tokens=fit.prompt_tokens,
            context_limit=fit.limit,
            demos_stopped_by=fit.stopped_by,
            pool_split=config.pool_split,
            chat_model=config.chat_model,
            paper=paper_result(config.task),
            seconds=time.perf_counter() - start,
        )
        demo_rows = (
            {
                "position": i,
                "uid": ex.uid,
                "gold": pool_gold.get(ex.uid),
                "labels": {name: src.labels.get(ex.uid) for name, src in sources.items()},
            }
            for i, ex in enumerate(fit.examples)
        )
        atomic_write_jsonl(stage / "demos.jsonl", demo_rows)
        atomic_write_jsonl(stage / "predictions.jsonl", predictions)
        atomic_write_json(stage / "results.json", summary.rows())
        atomic_write_jsonl(stage / "results.jsonl", (r.to_dict() for r in tidy_rows(summary)))
        plot_accuracy(summary, stage / PLOT_FILE)
        atomic_write_json(stage / "metrics.json", {**metrics_record(summary), "plot": PLOT_FILE})
    return summary


# ---------------------------------------------------------------------- its parts


def _load_pool(config: EvalConfig) -> TaskData:
    from elicit.tasks import load_task

    return load_task(config.task, config.load_options(config.pool_split))


def _pool_sources(
    config: EvalConfig, methods: Sequence[EvalMethod], pool: TaskData
) -> dict[str, LabelSource]:
    """name -> demo labels of every method whose labels the pool alone decides."""
    out: dict[str, LabelSource] = {}
    for method in label_order(methods):
        if method.pool_labels is not None:
            check_pool_gold(method, config, pool)
            out[method.name] = method.pool_labels(config, pool)
    return out


def _demo_pool(
    config: EvalConfig, pool: TaskData, test: TaskData, sources: Mapping[str, LabelSource]
) -> tuple[Example, ...]:
    """The pool examples every source labels, outside the test claims' groups, in demo order."""
    ordered = bl.build_pool(
        pool, test, [s.labels.keys() for s in sources.values()], config.pool_n, config.seed
    )
    if not ordered:
        raise ConfigError(
            f"no example of the {config.pool_split} split of task {config.task!r} is "
            f"labelled by every source ({', '.join(sources) or 'none'}) and outside the "
            "test claims' groups; check that the --labels files label this task's "
            f"{config.pool_split} split"
        )
    return ordered


def _run_method(
    method: EvalMethod,
    scoring: Scoring,
    source: LabelSource | None,
    pool_gold: Mapping[str, int],
    gold: list[int],
) -> tuple[MethodResult, FloatArray | None]:
    """Score the test claims with one method; its result row and scores (None if skipped).

    A many-shot method is scored after the shared demos with its own labels (`source`), and
    its labels are compared with the pool's gold: over every pool example they label, over the
    demos, and, when they carry confidences, at each coverage."""
    t0 = time.perf_counter()
    scored = method.run(scoring, source)
    seconds = time.perf_counter() - t0
    if scored.scores is None:
        log.warning("%s skipped: %s", method.name, scored.skipped)
        skip = MethodResult(
            method.name, method.kind, scored.scored_by, len(gold), skipped=scored.skipped
        )
        return skip, None
    agreement = demo_agreement = None
    coverage: tuple[tuple[float, float, int], ...] = ()
    if source is not None:
        agreement = bl.label_agreement(source.labels, pool_gold)
        demo_uids = [ex.uid for ex in scoring.demos]
        demo_agreement = bl.label_agreement(source.labels, pool_gold, demo_uids)
        if source.confidence:
            coverage = bl.coverage_agreement(source.labels, source.confidence, pool_gold)
    result = MethodResult(
        method.name,
        method.kind,
        scored.scored_by,
        len(gold),
        n_demos=len(scoring.demos) if method.uses_demos else 0,
        seconds=seconds,
        metrics=summarize(scored.scores, gold),
        label_agreement=agreement,
        demo_agreement=demo_agreement,
        coverage=coverage,
    )
    log.info("%s: accuracy %.3f (%.1f s)", method.name, result.accuracy or 0.0, seconds)
    return result, scored.scores


def _predictions(
    method: str, examples: Sequence[Example], scores: FloatArray, gold: Sequence[int]
) -> list[dict[str, Any]]:
    calibrated = median_predictions(scores)
    return [
        {
            "uid": ex.uid,
            "method": method,
            "score": float(s),
            "prediction": int(s > 0),
            "calibrated_prediction": int(c),
            "gold": g,
        }
        for ex, s, c, g in zip(examples, scores, calibrated, gold, strict=True)
    ]
