"""The methods `elicit eval` can run, one registry entry each, looked up by name.

    METHODS["golden"]                 # an EvalMethod: its kind, its help, how it gets labels
    register(EvalMethod(...))         # a new method: one entry, and --methods accepts it
    resolve_methods(config)           # the methods of one run, label files included

A method is a small frozen object: its name, its kind ("zero-shot", "chat" or "many-shot"),
a help line (the `--methods` help and the error for an unknown name are built from the
registry), what it needs, and one or two functions:

- a zero-shot or chat method scores the test claims itself (`score`);
- a many-shot method only says where its demo labels come from, and `run_eval` scores the
  claims after the shared demos with them (`many_shot_scores`). Labels come either from the
  pool alone (`pool_labels`: golden, a `--labels` file; only examples every such source labels
  can be demos, and they are read before the model loads, so a bad file fails fast), or once
  the demos are chosen (`demo_labels`: random coin flips, the model's majority vote).

Every `--labels` entry becomes a many-shot method of its own (`label_file_method`), named as
`baselines.parse_label_specs` says; those are per run and not in the registry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from elicit.backends.base import LM, FloatArray, LabelSet
from elicit.errors import ConfigError, DataError, ElicitError
from elicit.evaluation import baselines as bl
from elicit.evaluation.majority import MAJORITY, majority_labels
from elicit.labels import check_prompts, read_margins
from elicit.options import LMOptions
from elicit.tasks.base import Example, TaskData

log = logging.getLogger("elicit")

MethodKind = Literal["zero-shot", "chat", "many-shot"]


class MethodOptions(Protocol):
    """What a method reads of its run's options: `elicit eval`'s config (`EvalConfig`, in
    `elicit.commands.evaluate`) has them all. Declared here, so the methods do not depend on
    the command that runs them."""

    @property
    def task(self) -> str | None: ...
    @property
    def model(self) -> str: ...
    @property
    def chat_model(self) -> str: ...
    @property
    def pool_split(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def progress(self) -> bool: ...
    @property
    def min_confidence(self) -> float | None: ...
    @property
    def majority_votes(self) -> int: ...
    @property
    def majority_shots(self) -> int: ...
    def chat_options(self) -> LMOptions: ...


@dataclass(frozen=True)
class Scored:
    """A method's scores on the test claims (log P(True) - log P(False)), or why it was skipped.

    scored_by: the model that scored them (the chat model for zero-shot-chat)."""

    scored_by: str
    scores: FloatArray | None
    skipped: str | None = None


@dataclass(frozen=True)
class LabelSource:
    """A many-shot method's demo labels (uid -> label), and the labels' confidences (uid ->
    margin) when its file has them."""

    labels: Mapping[str, int]
    confidence: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scoring:
    """What a method may use once the model is loaded: the run's options, the models, the
    test claims and the demos every many-shot method shares."""

    config: MethodOptions
    lm: LM
    chat_lm: LM | None
    queries: Sequence[str]
    label_set: LabelSet
    demos: tuple[Example, ...]


#: (scoring) -> the test claims' scores, for zero-shot and chat methods.
ScoreFn = Callable[[Scoring], Scored]
#: (config, pool) -> demo labels known before the demos are chosen.
PoolLabelsFn = Callable[[MethodOptions, TaskData], LabelSource]
#: (scoring) -> demo labels drawn once the demos are chosen (uid -> label).
DemoLabelsFn = Callable[[Scoring], Mapping[str, int]]


@dataclass(frozen=True)
class EvalMethod:
    """One method of `elicit eval`. A many-shot method sets exactly one of `pool_labels` and
    `demo_labels`; a zero-shot or chat method sets `score`.

    needs_pool_gold: the method cannot run on a pool split without gold labels.
    default: part of the default `--methods`.
    """

    name: str
    kind: MethodKind
    help: str
    score: ScoreFn | None = None
    pool_labels: PoolLabelsFn | None = None
    demo_labels: DemoLabelsFn | None = None
    needs_pool_gold: bool = False
    default: bool = False

    def __post_init__(self) -> None:
        many_shot = self.kind == "many-shot"
        sources = (self.pool_labels is not None) + (self.demo_labels is not None)
        if many_shot != (sources == 1) or many_shot == (self.score is not None):
            raise TypeError(
                f"method {self.name!r}: a many-shot method sets one of pool_labels and "
                "demo_labels, any other sets score"
            )

    @property
    def uses_demos(self) -> bool:
        """Prompts with labelled demonstrations (so the run loads the pool and fits demos)."""
        return self.kind == "many-shot"

    def run(self, s: Scoring, source: LabelSource | None) -> Scored:
        """Score the test claims: by `score`, or for a many-shot method after the shared demos
        labelled by `source`, its labels."""
        if self.score is not None:
            return self.score(s)
        if source is None:
            raise ValueError(f"many-shot method {self.name!r} has no labels for its demos")
        scores = bl.many_shot_scores(s.lm, s.demos, source.labels, s.queries, s.label_set)
        return Scored(s.lm.name, scores)


#: Every built-in method, in the order `--methods` lists them.
METHODS: dict[str, EvalMethod] = {}


def register(method: EvalMethod) -> EvalMethod:
    """Add `method` to the registry (its name must be new)."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is registered twice")
    METHODS[method.name] = method
    return method


def default_methods() -> str:
    """The `--methods` default: every method registered with default=True."""
    return ",".join(m.name for m in METHODS.values() if m.default)


def describe_methods() -> str:
    """One line per registered method (name: help), e.g. for a CLI epilog."""
    return "\n".join(f"{m.name}: {m.help}" for m in METHODS.values())


# ---------------------------------------------------------------------- the built-in methods


def _zero_shot(s: Scoring) -> Scored:
    return Scored(s.lm.name, bl.zero_shot_scores(s.lm, s.queries, s.label_set))


def _chat(s: Scoring) -> Scored:
    """The chat model asked directly; a model that will not load or has no chat template is a
    recorded skip, not a failed run (the chat baseline is optional)."""
    config, chat_lm, loaded = s.config, s.chat_lm, False
    if chat_lm is None:
        if config.chat_model == config.model:
            chat_lm = s.lm
        else:
            try:
                chat_lm = config.chat_options().load_lm(config.progress)
                loaded = True
            # transformers raises plain OSError/ValueError/RuntimeError for a bad model.
            except (ElicitError, ImportError, OSError, RuntimeError, ValueError) as e:
                reason = f"chat model {config.chat_model!r} could not load: {e}"
                return Scored(config.chat_model, None, reason)
    try:
        return Scored(chat_lm.name, bl.chat_scores(chat_lm, s.queries))
    except ElicitError as e:
        return Scored(chat_lm.name, None, str(e))
    finally:
        if loaded:
            chat_lm.close()


def _golden(config: MethodOptions, pool: TaskData) -> LabelSource:
    return LabelSource(pool.gold)


def _random(s: Scoring) -> Mapping[str, int]:
    return bl.random_labels([ex.uid for ex in s.demos], s.config.seed)


def _majority(s: Scoring) -> Mapping[str, int]:
    c = s.config
    return majority_labels(
        s.lm, s.demos, s.label_set, votes=c.majority_votes, shots=c.majority_shots, seed=c.seed
    )


register(
    EvalMethod(
        bl.ZERO_SHOT, "zero-shot", "the base model on the claim alone", _zero_shot, default=True
    )
)
register(
    EvalMethod(
        bl.ZERO_SHOT_CHAT,
        "chat",
        "the --chat-model asked directly in its chat template (skipped if it cannot load)",
        _chat,
        default=True,
    )
)
register(
    EvalMethod(
        bl.GOLDEN,
        "many-shot",
        "demos labelled with the pool's gold labels",
        pool_labels=_golden,
        needs_pool_gold=True,
        default=True,
    )
)
register(
    EvalMethod(
        bl.RANDOM,
        "many-shot",
        "demos labelled by seeded fair coin flips",
        demo_labels=_random,
        default=True,
    )
)
register(
    EvalMethod(
        MAJORITY,
        "many-shot",
        "demos labelled by the model's own majority vote over few-shot contexts "
        "(added next to an ICM run by default)",
        demo_labels=_majority,
    )
)


# ---------------------------------------------------------------------- --labels sources


def label_file_method(spec: bl.LabelSpec) -> EvalMethod:
    """The many-shot method of one `--labels` entry: its file's labels on the pool."""

    def labels(config: MethodOptions, pool: TaskData) -> LabelSource:
        return read_label_source(config, spec, pool)

    return EvalMethod(spec.name, "many-shot", f"labels from {spec.path}", pool_labels=labels)


def read_label_source(config: MethodOptions, spec: bl.LabelSpec, pool: TaskData) -> LabelSource:
    """The labels of a `--labels` entry on the pool, checked against the pool's claims (same
    uids, unedited text) and, with --min-confidence, cut to the confident ones."""
    labels = bl.read_label_spec(spec)
    pool_prompts = {ex.uid: ex.prompt for ex in pool.examples}
    check_prompts(spec.path, pool_prompts, f"--labels {spec.name}={spec.path}")
    matched = sum(uid in pool_prompts for uid in labels)
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
    if config.min_confidence is not None:
        labels = _confident(spec, labels, confidence, config.min_confidence)
    return LabelSource(labels, confidence)


def _confident(
    spec: bl.LabelSpec, labels: dict[str, int], confidence: Mapping[str, float], least: float
) -> dict[str, int]:
    """The labels whose confidence is at least `least` (all, with a warning, if none has one)."""
    if not confidence:
        log.warning(
            "--labels %s has no confidences (label with --confidence); "
            "--min-confidence does not filter it",
            spec.name,
        )
        return labels
    kept = {u: y for u, y in labels.items() if confidence.get(u, -math.inf) >= least}
    if not kept:
        raise ConfigError(
            f"--min-confidence {least}: no label of --labels {spec.name} is that confident "
            f"(highest: {max(confidence.values()):.3g}); lower it"
        )
    log.info(
        "--labels %s: %d of %d labels kept by --min-confidence", spec.name, len(kept), len(labels)
    )
    return kept


# ---------------------------------------------------------------------- one run's methods


def resolve_methods(names: Sequence[str], specs: Sequence[bl.LabelSpec]) -> list[EvalMethod]:
    """The methods called `names` (registered ones and `--labels` sources), in that order."""
    files = {s.name: label_file_method(s) for s in specs}
    return [METHODS[n] if n in METHODS else files[n] for n in names]


def label_order(methods: Sequence[EvalMethod]) -> list[EvalMethod]:
    """The many-shot methods in the order their labels are gathered (and written to
    demos.jsonl): registered methods in registry order, then the `--labels` sources."""
    rank = {name: i for i, name in enumerate(METHODS)}
    return sorted((m for m in methods if m.uses_demos), key=lambda m: rank.get(m.name, len(rank)))


def check_pool_gold(method: EvalMethod, config: MethodOptions, pool: TaskData) -> None:
    """Refuse a method that needs gold labels on a pool split that has none."""
    if method.needs_pool_gold and not pool.gold:
        raise ConfigError(
            f"method {method.name} needs gold labels on the {config.pool_split} split of task "
            f"{config.task!r}, which has none; drop {method.name} from --methods"
        )


__all__ = [
    "METHODS",
    "EvalMethod",
    "LabelSource",
    "MethodKind",
    "MethodOptions",
    "Scored",
    "Scoring",
    "default_methods",
    "describe_methods",
    "label_file_method",
    "label_order",
    "register",
    "resolve_methods",
]
