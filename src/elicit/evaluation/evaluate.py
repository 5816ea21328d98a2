"""`elicit eval`: baselines and labels from a source, scored on the same held-out claims.

    elicit eval --task sst2 --n 100                              # the four built-in methods
    elicit eval --task truthfulqa --labels runs/label/truthfulqa-...   # adds "icm"
    elicit eval --task alpaca-comparison --labels human=human.jsonl,weak=weak.jsonl

Test claims: `--split` (test) of the task, `--n` sampled with `--seed`. Methods (see
`baselines`): zero-shot, zero-shot-chat (`--chat-model`), and many-shot in context with labels
from golden, random, majority-vote (`majority`: each demo labelled by the model's independent
consensus; added by default next to an ICM run), or each `--labels` source. Demos come from `--pool-split` (train), never
share a consistency group with a test claim, and are identical across many-shot methods
except for their labels. For every label source the run also reports its agreement with gold
on the pool examples it labels (for an ICM run: its label accuracy).

The run directory holds config.json, demos.jsonl (the context order and every source's label
per demo), predictions.jsonl (uid, method, score, prediction, gold), results.json (one row per
method: task, model, method, accuracy, n, seed, ...), tidy results.jsonl (`ResultRow`s),
metrics.json and accuracy.png (our bars beside the paper's Figure 1 numbers where it has them).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicit.backends.base import LM, FloatArray, LabelSet
from elicit.config import config_to_dict, help_field
from elicit.errors import ConfigError, DataError, ElicitError
from elicit.evaluation import baselines as bl
from elicit.evaluation.majority import MAJORITY, majority_labels
from elicit.evaluation.metrics import median_predictions
from elicit.evaluation.paper import paper_result
from elicit.evaluation.score import summarize
from elicit.evaluation.summary import (
    EvalSummary,
    MethodResult,
    format_table,
    metrics_record,
    tidy_rows,
)
from elicit.labels import check_prompts, read_margins
from elicit.options import DataOptions, LMOptions, RunOptions, run_dir
from elicit.runs import atomic_write_json, atomic_write_jsonl, staged_run_dir
from elicit.tasks.base import Example, TaskData

log = logging.getLogger("elicit")

__all__ = ["EvalConfig", "EvalSummary", "MethodResult", "format_table", "run_eval"]

DEFAULT_METHODS = ",".join(bl.BUILTIN_METHODS)
PLOT_FILE = "accuracy.png"


@dataclass(frozen=True)
class EvalConfig(RunOptions, LMOptions, DataOptions):
    """Options of `elicit eval` (data, model and run options are shared with other commands)."""

    methods: str = help_field(
        DEFAULT_METHODS,
        "comma-separated methods: zero-shot, zero-shot-chat, golden, random, majority-vote; "
        "every --labels source is added, and majority-vote next to an ICM run by default",
    )
    labels: str | None = help_field(
        None,
        "labels for many-shot prompts: comma-separated labels.jsonl files or run directories, "
        "each PATH or NAME=PATH (an ICM run is called 'icm')",
    )
    chat_model: str = help_field(
        "smollm2-135m-instruct", "chat model for zero-shot-chat (skipped if it cannot load)"
    )
    pool_split: str = help_field(
        "train", "split the demonstrations come from", choices=["train", "test", "all"]
    )
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
        self.check_data()
        self.check_lm()
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
        return bl.parse_label_specs(self.labels)

    def method_list(self) -> list[str]:
        """Requested methods in order, then every --labels source not already listed."""
        sources = [s.name for s in self.label_specs()]
        known = [*bl.BUILTIN_METHODS, MAJORITY, *sources]
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


# ---------------------------------------------------------------------- data


def _load_test(config: EvalConfig) -> TaskData:
    return config.load_gold_sample("eval")


def _sources(
    config: EvalConfig,
    methods: Sequence[str],
    pool: TaskData,
    confidences: dict[str, dict[str, float]] | None = None,
) -> dict[str, Mapping[str, int]]:
    """uid -> label for each many-shot method except random (labelled once demos are known).

    `confidences` receives each label file's confidences (uid -> value), when it has any;
    with --min-confidence, labels below it are dropped here.
    """
    out: dict[str, Mapping[str, int]] = {}
    if bl.GOLDEN in methods:
        if not pool.gold:
            raise ConfigError(
                f"method golden needs gold labels on the {config.pool_split} split of task "
                f"{config.task!r}, which has none; drop golden from --methods"
            )
        out[bl.GOLDEN] = pool.gold
    pool_uids = {ex.uid for ex in pool.examples}
    pool_prompts = {ex.uid: ex.prompt for ex in pool.examples}
    for spec in config.label_specs():
        labels = bl.read_label_spec(spec)
        check_prompts(spec.path, pool_prompts, f"--labels {spec.name}={spec.path}")
        matched = sum(uid in pool_uids for uid in labels)
        if matched == 0:
            example = next(iter(labels))
            raise DataError(
                f"--labels {spec.name}={spec.path}: none of its {len(labels)} uids (e.g. "
                f"{example!r}) is in the {config.pool_split} split of task {config.task!r}. "
                f"Label that split of the same task (elicit label --task {config.task} "
                "--split train) or pass --pool-split to match the labels."
            )
        if matched < len(labels):
            log.warning(
                "--labels %s: %d of %d uids are not in the %s split and are ignored",
                spec.name,
                len(labels) - matched,
                len(labels),
                config.pool_split,
            )
        confidence = read_margins(spec.path)
        if confidence and confidences is not None:
            confidences[spec.name] = confidence
        if config.min_confidence is not None:
            if not confidence:
                log.warning(
                    "--labels %s has no confidences (label with --confidence); "
                    "--min-confidence does not filter it",
                    spec.name,
                )
            else:
                kept = {
                    u: y
                    for u, y in labels.items()
                    if confidence.get(u, -math.inf) >= config.min_confidence
                }
                if not kept:
                    raise ConfigError(
                        f"--min-confidence {config.min_confidence}: no label of --labels "
                        f"{spec.name} is that confident (highest: {max(confidence.values()):.3g}); "
                        "lower it"
                    )
                log.info(
                    "--labels %s: %d of %d labels kept by --min-confidence",
                    spec.name,
                    len(kept),
                    len(labels),
                )
                labels = kept
        out[spec.name] = labels
    return out


# ---------------------------------------------------------------------- the run


def run_eval(config: EvalConfig, lm: LM | None = None, chat_lm: LM | None = None) -> EvalSummary:
    """Run every method of `config` and write the run directory.

    lm overrides the base model, chat_lm the chat model (e.g. scripted LMs in tests).
    """
    from elicit.evaluation.plots import plot_accuracy
    from elicit.tasks import load_task

    assert config.task is not None
    start = time.perf_counter()
    methods = config.method_list()
    out = config.out_dir()
    test = _load_test(config)
    gold = test.gold_of(test.examples)
    queries = [ex.prompt for ex in test.examples]
    labelset = LabelSet(words=test.label_words)
    many_shot = [m for m in methods if m not in (bl.ZERO_SHOT, bl.ZERO_SHOT_CHAT)]
    pool_all = load_task(config.task, config.load_options(config.pool_split)) if many_shot else None
    confidences: dict[str, dict[str, float]] = {}
    sources = _sources(config, methods, pool_all, confidences) if pool_all is not None else {}
    ordered: tuple[Example, ...] = ()
    if pool_all is not None:
        ordered = bl.build_pool(
            pool_all, test, [s.keys() for s in sources.values()], config.pool_n, config.seed
        )
        if not ordered:
            raise ConfigError(
                f"no example of the {config.pool_split} split of task {config.task!r} is "
                f"labelled by every source ({', '.join(sources) or 'none'}) and outside the "
                "test claims' groups; check that the --labels files label this task's "
                f"{config.pool_split} split"
            )

    # The run directory is checked (finished? foreign?) before the model loads: fail fast.
    with staged_run_dir(out, force=config.force) as stage:
        if lm is None:
            lm = config.load_lm(config.progress)
        atomic_write_json(stage / "config.json", config_to_dict(config))
        fit = bl.fit_demos(
            lm,
            ordered,
            queries,
            labelset,
            context_tokens=config.context_tokens,
            max_demos=config.max_demos,
        )
        demos = fit.examples
        if bl.RANDOM in methods:
            sources[bl.RANDOM] = bl.random_labels([ex.uid for ex in demos], config.seed)
        if MAJORITY in methods:
            sources[MAJORITY] = majority_labels(
                lm,
                demos,
                labelset,
                votes=config.majority_votes,
                shots=config.majority_shots,
                seed=config.seed,
            )
        results: list[MethodResult] = []
        predictions: list[dict[str, Any]] = []
        for method in methods:
            t0 = time.perf_counter()
            kind = "zero-shot" if method == bl.ZERO_SHOT else "many-shot"
            scored_by, scores, skipped = lm.name, None, None
            if method == bl.ZERO_SHOT:
                scores = bl.zero_shot_scores(lm, queries, labelset)
            elif method == bl.ZERO_SHOT_CHAT:
                kind = "chat"
                scored_by, scores, skipped = _run_chat(config, lm, chat_lm, queries)
            else:
                scores = bl.many_shot_scores(lm, demos, sources[method], queries, labelset)
            seconds = time.perf_counter() - t0
            if scores is None:
                log.warning("%s skipped: %s", method, skipped)
                results.append(MethodResult(method, kind, scored_by, len(gold), skipped=skipped))
                continue
            agreement = demo_agreement = None
            coverage: tuple[tuple[float, float, int], ...] = ()
            if method in sources:
                pool_gold = pool_all.gold if pool_all is not None else {}
                agreement = bl.label_agreement(sources[method], pool_gold)
                demo_agreement = bl.label_agreement(
                    sources[method], pool_gold, [ex.uid for ex in demos]
                )
                if method in confidences:
                    coverage = bl.coverage_agreement(
                        sources[method], confidences[method], pool_gold
                    )
            results.append(
                MethodResult(
                    method,
                    kind,
                    scored_by,
                    len(gold),
                    n_demos=len(demos) if kind == "many-shot" else 0,
                    seconds=seconds,
                    metrics=summarize(scores, gold),
                    label_agreement=agreement,
                    demo_agreement=demo_agreement,
                    coverage=coverage,
                )
            )
            predictions += _predictions(method, test.examples, scores, gold)
            log.info("%s: accuracy %.3f (%.1f s)", method, results[-1].accuracy or 0.0, seconds)

        summary = EvalSummary(
            out=out,
            task=config.task,
            model=lm.name,
            split=config.split,
            n=len(gold),
            seed=config.seed,
            results=tuple(results),
            n_pool=len(ordered),
            n_demos=len(demos),
            prompt_tokens=fit.prompt_tokens,
            context_limit=fit.limit,
            demos_stopped_by=fit.stopped_by,
            pool_split=config.pool_split,
            chat_model=config.chat_model,
            paper=paper_result(config.task),
            seconds=time.perf_counter() - start,
        )
        pool_gold = pool_all.gold if pool_all is not None else {}
        atomic_write_jsonl(
            stage / "demos.jsonl",
            (
                {
                    "position": i,
                    "uid": ex.uid,
                    "gold": pool_gold.get(ex.uid),
                    "labels": {name: src.get(ex.uid) for name, src in sources.items()},
                }
                for i, ex in enumerate(demos)
            ),
        )
        atomic_write_jsonl(stage / "predictions.jsonl", predictions)
        atomic_write_json(stage / "results.json", summary.rows())
        atomic_write_jsonl(stage / "results.jsonl", (r.to_dict() for r in tidy_rows(summary)))
        plot_accuracy(summary, stage / PLOT_FILE)
        atomic_write_json(stage / "metrics.json", {**metrics_record(summary), "plot": PLOT_FILE})
    return summary


def _run_chat(
    config: EvalConfig, lm: LM, chat_lm: LM | None, queries: Sequence[str]
) -> tuple[str, FloatArray | None, str | None]:
    """(scored_by, scores or None, skip reason or None) for zero-shot-chat."""
    loaded = False
    if chat_lm is None:
        if config.chat_model == config.model:
            chat_lm = lm
        else:
            try:
                chat_lm = config.chat_options().load_lm(config.progress)
                loaded = True
            # The chat baseline is optional: a model that will not load is a recorded skip,
            # not a failed run (transformers raises plain OSError/ValueError/RuntimeError).
            except (ElicitError, ImportError, OSError, RuntimeError, ValueError) as e:
                reason = f"chat model {config.chat_model!r} could not load: {e}"
                return config.chat_model, None, reason
    try:
        return chat_lm.name, bl.chat_scores(chat_lm, queries), None
    except ElicitError as e:
        return chat_lm.name, None, str(e)
    finally:
        if loaded:
            chat_lm.close()


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
