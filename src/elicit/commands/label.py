"""`elicit label`: label a task's examples with ICM and write the run directory.

    elicit label --task sst2 --n 64 --iterations 300
    elicit label --task sst2 --n 64 --resume          # continue an interrupted run
    elicit label --task sst2 --n 64 --anchors known.jsonl --suggest 10

The pool (`--split`, default train; `--n` examples sampled with whole consistency groups) is
split into batches of at most `--batch-size` that keep groups whole, each searched on its own
(`search.icm`) with a seed derived from `--seed`; `--workers N` searches N batches at once on
Ray (`commands.workers`), with the same labels as the serial loop. The run directory (`--out`):

    config.json       the options
    pool.jsonl        the sampled pool, in order: uid and the batch it was searched in (one
                      line per example, labelled or not: run another tool on the same claims)
    labels.jsonl      uid, label, gold (where the data has it), score (final leave-one-out),
                      anchor (the known label given, if any), margin (the energy the label
                      is worth over the other one, with --confidence; not a probability)
    suggestions.jsonl with --suggest K: the K least confident examples that are not anchors,
                      where a human label would help most (see below), with their margin
    trace.jsonl       per iteration: batch, iteration, temperature, energy, mp,
                      inconsistencies, accepted, n_labelled, uid, proposed, delta, agreement,
                      and what the iteration cost (`search.costs`: forward_tokens,
                      loo_evaluations, loo_memo_hits, context_calls, cache_hits, cache_misses)
    metrics.json      final energy, MP, inconsistencies, agreement with gold, the variant
                      choices and which of paper / released code / elicit each follows;
                      seconds (the whole run) = load_seconds (loading the model; null when
                      Ray workers load their own) + search_seconds; cost: the run's totals of
                      the trace's cost counters, the initial labelling and margins included
    energy_plot.png   energy and agreement with gold against iterations
    checkpoints/      per batch, the search's checkpoint (see `search.checkpoint`)

Unlike `elicit score`, a label run writes in place so it can checkpoint: `--resume` continues it
and reaches the same labels as an uninterrupted run. metrics.json is written last and marks the
run finished; a finished run is not redone without `--force`. Agreement with gold is computed
here, from `TaskData.gold`, in the search's `on_step` callback: the search never sees gold.

Anchored (semi-supervised) ICM: `--anchors FILE` (a labels file: {"uid", "label"} per line)
gives known labels for some examples of the pool. They start labelled and each one the search
overrules costs `--anchor-weight` energy units (inf: frozen); metrics.json lists the overruled
ones. `--confidence` adds each example's label margin (the energy its label is worth, see
`search.icm`); `--suggest K` (implies it) writes the K non-anchor examples with the smallest
margins, unlabelled ones included: the ones whose human label would settle the most. Anchors
outside the sampled pool are an error; sample with --n none or pass them with their group.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from elicit.backends.base import LM, LabelSet
from elicit.commands.workers import BatchJob, RayOptions
from elicit.config import composed, config_to_dict, help_field, nested
from elicit.errors import ConfigError
from elicit.evaluation.results import build, known_fields, num, pct
from elicit.labels import (
    MARGIN,
    PROMPT_HASH,
    check_prompts,
    prompt_hash,
    read_labels,
    write_labels,
)
from elicit.options import DataOptions, LMOptions, RunOptions, Split, run_dir
from elicit.runs import (
    DONE_FILE,
    atomic_write_json,
    atomic_write_jsonl,
    prepare_resumable,
    run_lock,
)
from elicit.search.batches import batch_seed, split_batches
from elicit.search.costs import Costs
from elicit.search.icm import (
    OnStep,
    SearchConfig,
    SearchResult,
    Step,
    run_search,
)
from elicit.search.plot import plot_trace
from elicit.tasks.base import GoldLabels, TaskData

#: Files and folders a label run writes (the only things --force removes).
RUN_FILES = (
    "config.json",
    "labels.jsonl",
    "trace.jsonl",
    DONE_FILE,
    "energy_plot.png",
    "suggestions.jsonl",
    "pool.jsonl",
)
CHECKPOINTS = "checkpoints"
#: Options that may differ between an interrupted run and its --resume.
_RESUME_FREE = {
    "resume", "force", "progress", "out", "checkpoint_every", "cache",
    "workers", "ray_address", "worker_cpus", "worker_gpus",
}  # fmt: skip


@composed
@dataclass(frozen=True)
class LabelConfig(RunOptions, LMOptions, DataOptions):
    """Options of `elicit label`: the shared groups, ICM's search settings (`search`, whose
    options are flags of their own: --alpha, --mp, ...), and the run's batching, anchors,
    margins and workers. Built flat (`LabelConfig(task="sst2", iterations=300)`) or nested
    (`search=SearchConfig(iterations=300)`); see `elicit.config.composed`."""

    split: Split = help_field("train", "which split to label")
    search: SearchConfig = nested(SearchConfig, "the ICM search's settings")
    batch_size: int = help_field(256, "examples per independently searched batch")
    resume: bool = help_field(False, "continue the interrupted run in --out")
    iterative: bool = help_field(
        False,
        "search batch j+1 with the model fine-tuned (LoRA) on the labels of batches 1..j "
        "(the paper's iterative fine-tuning; commands.iterative)",
    )
    anchors: str | None = help_field(
        None,
        'labels file of known labels ({"uid", "label"} per line) for examples of the pool: '
        "they start labelled and are sticky (see --anchor-weight)",
    )
    confidence: bool = help_field(
        False,
        "write each label's confidence as its margin (field 'margin': the energy its label "
        "is worth over the other label; not a probability; one extra leave-one-out evaluation "
        "per example)",
    )
    suggest: int = help_field(
        0, "list this many least confident non-anchor examples in suggestions.jsonl"
    )
    workers: int = help_field(
        1,
        "search this many batches at once on Ray workers (a local cluster unless "
        "--ray-address); each worker loads the model itself. Needs pip install 'elicit[scale]'",
    )
    ray_address: str | None = help_field(
        None, "run the batches on the Ray cluster at this address (e.g. auto, or HEAD:6379)"
    )
    worker_cpus: float = help_field(1.0, "CPUs per Ray worker (its torch threads)")
    worker_gpus: float = help_field(0.0, "GPUs per Ray worker (0.5: two workers share one)")

    def __post_init__(self) -> None:
        super().__post_init__()  # the data, LM and run groups; `search` validated itself
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.suggest < 0:
            raise ConfigError(f"--suggest must be >= 0, got {self.suggest}")
        if self.ray_options() is not None and self.iterative:  # also validates the options
            raise ConfigError(
                "--iterative searches batch j+1 with a model trained on batches 1..j, so its "
                "batches cannot run in parallel; drop --workers/--ray-address"
            )

    def search_config(self) -> SearchConfig:
        """`search` with the margins `--confidence` / `--suggest` ask for."""
        return replace(
            self.search,
            confidence=self.confidence or self.suggest > 0,
            unlabelled_margins=self.suggest > 0,
        )

    def out_dir(self) -> Path:
        return run_dir(self, "label")

    def ray_options(self) -> RayOptions | None:
        """The Ray settings, or None for the serial loop (one worker, no cluster address)."""
        if self.workers == 1 and self.ray_address is None:
            return None
        return RayOptions(
            workers=self.workers, address=self.ray_address, cpus=self.worker_cpus,
            gpus=self.worker_gpus,
        )  # fmt: skip


@dataclass(frozen=True)
class BatchMetrics:
    """One independently searched batch's outcome."""

    n: int
    n_labelled: int
    energy: float
    mp: float
    inconsistencies: int
    iterations: int
    accepted: int


@dataclass(frozen=True)
class Overruled:
    """An anchor the final labels contradict (label None: left unlabelled)."""

    uid: str
    anchor: int
    label: int | None
    gold: int | None


@dataclass(frozen=True)
class AnchorMetrics:
    """What anchored ICM did with the known labels (`--anchors`)."""

    anchors: int
    anchor_weight: float
    anchor_mode: str
    overruled: tuple[Overruled, ...]


#: metrics.json keys of the variant choices (`SearchConfig.variants`), written at top level.
VARIANT_KEYS = tuple(SearchConfig().variants())


@dataclass(frozen=True)
class LabelMetrics:
    """metrics.json of a label run (see the module docs), typed.

    Energies and MP are per batch; the top-level values weight batches by size. The JSON
    layout is the one every version wrote: the variant choices (`variants`) and the anchor
    fields sit at top level, so "mp" there names the MP kind (a variant) and the weighted MP
    value is "mp_value" (absent before this field existed, then None here)."""

    task: str
    model: str
    split: str
    seed: int
    n: int
    n_labelled: int
    coverage: float
    frac_true: float | None
    energy: float
    inconsistencies: int
    agreement: float | None
    iterations: int
    accepted: int
    seconds: float
    mp_value: float | None = None
    agreement_n: int = 0
    lm_evaluations: int = 0
    batches: tuple[BatchMetrics, ...] = ()
    alpha: float | None = None
    variants: Mapping[str, Any] = field(default_factory=dict)
    follows: Mapping[str, str] = field(default_factory=dict)
    load_seconds: float | None = None  # None: Ray workers loaded their own models
    search_seconds: float | None = None
    cost: Costs = field(default_factory=Costs)
    anchors: AnchorMetrics | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "task": self.task,
            "model": self.model,
            "split": self.split,
            "seed": self.seed,
            "n": self.n,
            "n_labelled": self.n_labelled,
            "coverage": self.coverage,
            "frac_true": self.frac_true,
            "energy": self.energy,
            "mp_value": self.mp_value,
            "inconsistencies": self.inconsistencies,
            "agreement": self.agreement,
            "agreement_n": self.agreement_n,
            "iterations": self.iterations,
            "accepted": self.accepted,
            "lm_evaluations": self.lm_evaluations,
            "seconds": self.seconds,
            "batches": [asdict(b) for b in self.batches],
            "alpha": self.alpha,
            **self.variants,
            "follows": dict(self.follows),
            "load_seconds": self.load_seconds,
            "search_seconds": self.search_seconds,
            "cost": self.cost.to_dict(),
        }
        if self.anchors is not None:
            d.update(asdict(self.anchors))
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], what: str = "metrics.json") -> LabelMetrics:
        """Read what `to_dict` (or an older version) wrote; `what` names it in errors."""
        values = known_fields(cls, d)
        values["batches"] = tuple(
            build(BatchMetrics, known_fields(BatchMetrics, b), what) for b in d.get("batches", ())
        )
        values["variants"] = {k: d[k] for k in VARIANT_KEYS if k in d}
        values["cost"] = build(Costs, known_fields(Costs, d.get("cost") or {}), what)
        if "anchors" in d:
            overruled = tuple(
                build(Overruled, known_fields(Overruled, o), what) for o in d.get("overruled", ())
            )
            values["anchors"] = AnchorMetrics(
                anchors=d["anchors"],
                anchor_weight=d.get("anchor_weight", math.inf),
                anchor_mode=d.get("anchor_mode", "labelled"),
                overruled=overruled,
            )
        return build(cls, values, what)


@dataclass(frozen=True)
class LabelSummary:
    """What `run_label` returns: the run directory, its labels (uid -> label) and metrics."""

    out: Path
    labels: dict[str, int]
    metrics: LabelMetrics

    @property
    def n(self) -> int:
        """Examples in the pool (labelled or not)."""
        return self.metrics.n

    @classmethod
    def read(cls, out: Path) -> LabelSummary:
        """The summary of the finished run in `out`, from its files."""
        what = str(out / DONE_FILE)
        metrics = json.loads((out / DONE_FILE).read_text(encoding="utf-8"))
        return cls(out=out, labels=read_labels(out), metrics=LabelMetrics.from_dict(metrics, what))

    def describe(self) -> list[str]:
        """The command's result lines."""
        m = self.metrics
        agreement = f", agreement with gold {pct(m.agreement)}" if m.agreement is not None else ""
        return [
            f"{m.task} ({m.split}): ICM labelled {m.n_labelled} of {m.n} claims, energy "
            f"{num(m.energy)}, inconsistencies {m.inconsistencies}{agreement}",
            f"labels written to {self.out}/labels.jsonl",
        ]


def _prepare_out(out: Path, config: LabelConfig) -> bool:
    """Check --out and clear it for --force. Returns whether a previous run will be resumed."""
    return prepare_resumable(
        out, config, command="label", run_files=RUN_FILES, run_dirs=(CHECKPOINTS,),
        resume_free=_RESUME_FREE,
    )  # fmt: skip


def _agreement_callback(gold: GoldLabels) -> OnStep | None:
    def on_step(step: Step) -> Mapping[str, float]:
        known = [uid for uid in step.labels if uid in gold]
        if not known:
            return {}
        return {"agreement": sum(step.labels[u] == gold[u] for u in known) / len(known)}

    return on_step if gold else None


def run_label(config: LabelConfig, lm: LM | None = None) -> LabelSummary:
    """Run ICM on `config.task` and write the run directory. `lm` overrides the model.

    The directory is locked while the run writes it (`runs.run_lock`)."""
    with run_lock(config.out_dir()):
        return _run_label(config, lm)


def _run_label(config: LabelConfig, lm: LM | None) -> LabelSummary:
    from elicit.tasks import load_task, sample

    out = config.out_dir()
    resuming = _prepare_out(out, config)  # fail fast, before data and model load
    full = load_task(config.task, config.load_options())
    data = sample(full, config.n, config.seed, keep_groups=True)
    if len(data) == 0:
        raise ConfigError(f"task {config.task!r} ({config.split} split) has no examples")
    anchors: dict[str, int] = {}
    if config.anchors:
        anchors = read_labels(config.anchors)
        # Anchors from an earlier run must still label the text they were given for.
        check_prompts(config.anchors, {ex.uid: ex.prompt for ex in full.examples}, "--anchors")
        data = _with_anchors(full, data, anchors, config.anchors, config.split)
    out.mkdir(parents=True, exist_ok=True)
    if not resuming:
        atomic_write_json(out / "config.json", config_to_dict(config))

    search = config.search_config()
    label_set = LabelSet(words=data.label_words)
    batches = split_batches(data.examples, config.batch_size, config.seed)
    batch_of = {data.examples[i].uid: b for b, indices in enumerate(batches) for i in indices}
    atomic_write_jsonl(
        out / "pool.jsonl", [{"uid": ex.uid, "batch": batch_of[ex.uid]} for ex in data.examples]
    )
    start = time.perf_counter()
    load_seconds: float | None = 0.0
    results: list[SearchResult] = []
    options = config.ray_options() if len(batches) > 1 else None  # None: the serial loop
    jobs = [
        _batch_job(config, search, data, indices, b, len(batches), anchors, out, resuming,
                   label_set, progress=config.progress and options is None)
        for b, indices in enumerate(batches)
    ]  # fmt: skip
    if options is not None:
        from elicit.commands.workers import search_batches_on_ray

        load_seconds = None  # each worker loads its own model, within the search's time
        results = search_batches_on_ray(
            jobs,
            options,
            make_lm=lambda: config.load_lm(progress=False),
            lm=lm,
            progress=config.progress,
            desc=f"ICM {config.task} ({len(batches)} batches, {options.workers} workers)",
        )
    else:
        if lm is None:
            loading = time.perf_counter()
            lm = config.load_lm(progress=False)  # the search shows one bar of its own
            load_seconds = time.perf_counter() - loading
        for b, job in enumerate(jobs):
            batch_lm = lm
            if config.iterative and b > 0:
                from elicit.commands.iterative import finetuned_lm, labels_so_far

                batch_lm = finetuned_lm(
                    config, data, labels_so_far(results), out / CHECKPOINTS, b, resume=resuming
                )
            results.append(job(batch_lm))
    seconds = time.perf_counter() - start

    labels: dict[str, int] = {}
    scores: dict[str, float] = {}
    margins: dict[str, float] = {}
    overruled: dict[str, tuple[int, int | None]] = {}
    for r in results:
        labels.update(r.labels)
        scores.update(r.scores)
        margins.update(r.margins)
        overruled.update(r.overruled)
    ordered = {ex.uid: labels[ex.uid] for ex in data.examples if ex.uid in labels}
    extra: dict[str, dict[str, object]] = {}
    hashes = {ex.uid: prompt_hash(ex.prompt) for ex in data.examples}
    for uid in ordered:
        extra[uid] = {"score": scores[uid]} if uid in scores else {}
        if uid in anchors:
            extra[uid]["anchor"] = anchors[uid]
        if uid in margins:
            extra[uid][MARGIN] = margins[uid]
        extra[uid][PROMPT_HASH] = hashes[uid]  # readers refuse the label if the text changes
    write_labels(out / "labels.jsonl", ordered, gold=data.gold, extra=extra)
    if config.suggest:
        suggestions = _suggestions(data, ordered, margins, anchors, config.suggest)
        atomic_write_jsonl(out / "suggestions.jsonl", suggestions)
    rows = [{"batch": b, **row.to_dict()} for b, r in enumerate(results) for row in r.trace]
    atomic_write_jsonl(out / "trace.jsonl", rows)
    model_name = lm.name if lm is not None else config.model
    plot_trace(rows, out / "energy_plot.png", title=f"ICM on {config.task} ({model_name})")
    costs = [r.costs for r in results]
    anchor_metrics = None
    if anchors:
        anchor_metrics = AnchorMetrics(
            anchors=len(anchors),
            anchor_weight=config.search.anchor_weight,
            anchor_mode=config.search.anchor_mode,
            overruled=tuple(
                Overruled(uid=uid, anchor=a, label=y, gold=data.gold.get(uid))
                for uid, (a, y) in overruled.items()
            ),
        )
    metrics = replace(
        _metrics(config, model_name, results, ordered, data.gold, len(data), seconds, search),
        load_seconds=load_seconds,
        search_seconds=seconds - (load_seconds or 0.0),
        cost=sum(costs[1:], costs[0]) if costs else Costs(),
        anchors=anchor_metrics,
    )
    atomic_write_json(out / DONE_FILE, metrics.to_dict())
    return LabelSummary(out=out, labels=ordered, metrics=metrics)


def _batch_job(
    config: LabelConfig,
    search: SearchConfig,
    data: TaskData,
    indices: list[int],
    b: int,
    n_batches: int,
    anchors: Mapping[str, int],
    out: Path,
    resuming: bool,
    label_set: LabelSet,
    *,
    progress: bool,
) -> BatchJob:
    """The search of batch `b` as a function of the LM (run here or on a Ray worker, which
    shows no bar of its own: `progress` False)."""
    examples = [data.examples[i] for i in indices]
    batch_gold = {ex.uid: data.gold[ex.uid] for ex in examples if ex.uid in data.gold}
    batch_anchors = {ex.uid: anchors[ex.uid] for ex in examples if ex.uid in anchors}
    consistency = data.consistency

    def job(lm: LM) -> SearchResult:
        return run_search(
            lm,
            examples,
            consistency,
            search,
            seed=batch_seed(config.seed, b),
            label_set=label_set,
            on_step=_agreement_callback(batch_gold),
            checkpoint_dir=out / CHECKPOINTS / f"batch-{b:03d}",
            resume=resuming,
            progress=progress,
            desc=f"ICM {config.task}" + (f" batch {b + 1}/{n_batches}" if b else ""),
            anchors=batch_anchors,
        )

    return job


def _with_anchors(
    full: TaskData, pool: TaskData, anchors: Mapping[str, int], path: str, split: str
) -> TaskData:
    """The pool plus the anchored examples (with their whole groups) it did not sample, in
    the split's order."""
    known = {ex.uid: ex for ex in full.examples}
    missing = [uid for uid in anchors if uid not in known]
    if missing:
        raise ConfigError(
            f"--anchors {path}: {len(missing)} of {len(anchors)} anchor uid(s) are not examples "
            f"of task {full.task!r} ({split} split; "
            f"first: {missing[0]!r}). Anchors must come from the split being labelled"
        )
    in_pool = {ex.uid for ex in pool.examples}
    groups = {known[uid].group for uid in anchors if uid not in in_pool}
    if not groups:
        return pool
    chosen = in_pool | {ex.uid for ex in full.examples if ex.group in groups}
    examples = tuple(ex for ex in full.examples if ex.uid in chosen)
    gold = {ex.uid: full.gold[ex.uid] for ex in examples if ex.uid in full.gold}
    return replace(pool, examples=examples, gold=gold)


def _suggestions(
    data: TaskData,
    labels: Mapping[str, int],
    margins: Mapping[str, float],
    anchors: Mapping[str, int],
    k: int,
) -> list[dict[str, Any]]:
    """The k least confident non-anchor examples, least confident first."""
    prompts = {ex.uid: ex.prompt for ex in data.examples}
    candidates = sorted(
        (uid for uid in margins if uid not in anchors), key=lambda uid: (margins[uid], uid)
    )
    return [
        {
            "uid": uid,
            "label": labels.get(uid),
            MARGIN: margins[uid],
            "gold": data.gold.get(uid),
            "prompt": prompts[uid],
        }
        for uid in candidates[:k]
    ]


def _metrics(
    config: LabelConfig,
    model_name: str,
    results: list[SearchResult],
    labels: Mapping[str, int],
    gold: GoldLabels,
    n: int,
    seconds: float,
    search: SearchConfig,
) -> LabelMetrics:
    known = [uid for uid in labels if uid in gold]
    weights = [r.n_labelled for r in results]
    total = sum(weights) or 1
    return LabelMetrics(
        task=config.task,
        model=model_name,
        split=config.split,
        seed=config.seed,
        n=n,
        n_labelled=len(labels),
        coverage=len(labels) / n,
        frac_true=sum(labels.values()) / len(labels) if labels else None,
        # Energies and MP are per batch; the top-level values weight batches by size.
        energy=sum(r.energy * w for r, w in zip(results, weights, strict=True)) / total,
        mp_value=sum(r.mp * w for r, w in zip(results, weights, strict=True)) / total,
        inconsistencies=sum(r.inconsistencies for r in results),
        agreement=(sum(labels[u] == gold[u] for u in known) / len(known)) if known else None,
        agreement_n=len(known),
        iterations=sum(r.iterations for r in results),
        accepted=sum(r.accepted for r in results),
        lm_evaluations=sum(r.lm_evaluations for r in results),
        seconds=seconds,
        batches=tuple(
            BatchMetrics(
                n=r.n_examples,
                n_labelled=r.n_labelled,
                energy=r.energy,
                mp=r.mp,
                inconsistencies=r.inconsistencies,
                iterations=r.iterations,
                accepted=r.accepted,
            )
            for r in results
        ),
        alpha=search.alpha,
        variants=search.variants(),
        follows=search.follows(),
    )


__all__ = [
    "AnchorMetrics",
    "BatchMetrics",
    "LabelConfig",
    "LabelMetrics",
    "LabelSummary",
    "Overruled",
    "run_label",
]
