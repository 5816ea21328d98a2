"""The ICM search (Wen et al. 2025, Algorithm 1 with ConsistencyFix, Algorithm 2).

    result = run_search(lm, examples, Consistency.ANSWER, SearchConfig(iterations=500), seed=0)
    result.labels      # uid -> 0/1 for every example the search labelled

The search sees `Example`s only (no labels by type), the task's consistency rule and the LM.
Gold never enters: callers that want agreement with gold compute it in `on_step`, whose
returned numbers go into the trace and the progress bar.

Loop. Take `init_size` random examples with random labels and ConsistencyFix them
(`init_balanced`: half of them True, as the released code does; the paper draws the labels
freely, elicit's default. The released code's initial examples are also whole consistency
groups, the first 8 of its batch, which it orders by group; elicit draws them regardless of
group). Then for n = 1..iterations: T from the schedule; sample an example (weight
`group_weight` for unlabelled members of a group that already has a labelled member, 1
otherwise; labelled examples can be drawn again, to correct them); propose the label the model
predicts from the current labelled set (its leave-one-out score when labelled, else its score
after all current demos; threshold per `energy.proposal_threshold`); optionally skip proposals
equal to the current label (the released code does); ConsistencyFix the proposed set; accept if
dU > 0, else with probability exp(dU / T). After the last iteration, with `complete`, every
example still unlabelled gets the label the model predicts from the others (ConsistencyFixed,
kept even if U drops: a search whose proposals for new examples were rejected at low
temperature otherwise ends with part of its pool unlabelled). Then a final ConsistencyFix runs
until no inconsistent pair can be fixed without lowering the energy (`final_fix`). With
alpha = 50 a fix that costs more than 0.02 of mutual predictability is refused, so a few
contradictions can survive; `strict_consistency` then fixes each of them anyway (the
best-energy consistent relabelling of the pair, even if U drops) and, should a fix keep
creating new contradictions in a group, leaves that pair unlabelled: the labels written are
then logically consistent.

Anchors (`anchors`, uid -> known label): they start labelled, alongside `init_size - #anchors`
random labels (none when there are at least `init_size` anchors), and each one the search
changes costs `anchor_weight` energy units (see `energy`). With an infinite weight they are
frozen: never sampled, never changed by ConsistencyFix, never unlabelled. `SearchResult.overruled`
lists the anchors the final labels contradict. `anchor_mode="context"` (frozen anchors only)
puts them before every prompt as fixed demonstrations instead of scoring them leave-one-out;
they then get no score and no margin (see `energy`).

Label confidence (`confidence`): after the search, each pool example's *margin*: the energy of
the final labelling with that example's label as it is minus the energy with its other label,
all other labels fixed (no ConsistencyFix). A labelled example with a large positive margin is
held in place by the model's predictions and the consistency rule; a margin near 0 means the
search had no reason to prefer its label; a negative one, that the search ended before fixing
it. An unlabelled example's margin is |U(+ True) - U(+ False)|, how decided its label would be;
it is computed only with `unlabelled_margins` (what `elicit label --suggest` ranks). This costs
one leave-one-out evaluation per labelled example and two per unlabelled one.

ConsistencyFix, up to `fix_rounds` rounds: shuffle the inconsistent pairs (seeded) and take the
first whose best consistent relabelling (every consistent option is scored) does not lower U;
apply it. When no pair qualifies, stop. The paper samples one pair per round and applies its fix
only if U improves; the released code walks the shuffled pairs like this and keeps a fix that
does not lower U; elicit follows the code here, so a round is not wasted on an unfixable pair.
One difference remains: the released code starts the ConsistencyFix of a proposal from a dummy
energy of -1e6, so the proposal's first fix is applied whatever it costs; elicit compares every
fix, the first included, with the proposal's own energy.

Costs (`search.costs`): each trace row carries what its iteration cost (forward tokens, leave-
one-out evaluations sent to the LM and answered from the memo, single predictions, result-cache
hits); `SearchResult.costs` is the whole search in this process, including the initial
labelling, the final fixes and the margins, which belong to no iteration.

All randomness comes from one `random.Random` (passed in, or made from `seed`); with a
deterministic LM the search is a pure function of its inputs, which is what makes checkpoints
(every `checkpoint_every` iterations) resume to the identical final labels.

Code: `Search` is one search in progress (the evaluator, the labelling, the trace), with
`begin()` or `restore(checkpoint)`, `step()` per iteration, `checkpoint()`, and `finish()` for
the post-passes; `run_search` drives it with checkpoints and a progress bar.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from elicit.backends.base import LM, TRUE_FALSE, LabelSet, LooOrder
from elicit.config import ConfigBase, help_field
from elicit.errors import ConfigError
from elicit.search import checkpoint
from elicit.search.checkpoint import Checkpoint
from elicit.search.consistency import ConsistencyRule
from elicit.search.costs import CostMeter, Costs
from elicit.search.energy import MP_KINDS, EnergyEvaluator, Evaluation, MPKind
from elicit.search.order import CONTEXT_ORDERS, ContextOrder, context_order
from elicit.search.passes import (
    complete_labelling,
    consistency_fix,
    force_consistency,
    label_margins,
    restore_anchors,
)
from elicit.search.schedule import SCHEDULES, Schedule, ScheduleKind
from elicit.tasks.base import Consistency, Example

# consistency_fix, force_consistency and label_margins live in `search.passes`; they stay
# importable from here, where they were defined before.
__all__ = [
    "ANCHOR_MODES",
    "PAPER_ITERATIONS_PER_256",
    "AnchorMode",
    "OnStep",
    "Search",
    "SearchConfig",
    "SearchResult",
    "Step",
    "TraceRow",
    "consistency_fix",
    "default_iterations",
    "force_consistency",
    "label_margins",
    "run_search",
]

#: How anchors enter the energy: "labelled" as sticky members of the labelled set, scored
#: leave-one-out like the others; "context" as frozen demonstrations before every prompt (see
#: `search.energy`), much cheaper with many anchors.
AnchorMode = Literal["labelled", "context"]
ANCHOR_MODES: tuple[str, ...] = ("labelled", "context")

#: Iterations the paper spends per 256 examples.
PAPER_ITERATIONS_PER_256 = 3000


def default_iterations(n: int) -> int:
    """The paper's budget scaled to the pool: ~3000 iterations for 256 examples."""
    return math.ceil(PAPER_ITERATIONS_PER_256 * n / 256)


@dataclass(frozen=True)
class SearchConfig(ConfigBase):
    """Settings of one ICM search. Defaults follow the paper except `mp` (see `energy`). The
    help strings are `elicit label`'s flags, which nest this config (`LabelConfig.search`)."""

    alpha: float = help_field(50.0, "weight of mutual predictability against inconsistencies")
    mp: MPKind = help_field(
        "calibrated",
        "mutual predictability: calibrated (mean of centred signed scores; elicit), "
        "calibrated-sum (their sum), balanced / balanced-sum (the same on balanced "
        "leave-one-out: every context holds as many True as False demos; with --complete, the "
        "setting for small models, which count labels, on tasks without consistency groups; it "
        "lost agreement on comparison pairs: docs/RESULTS.md), mean (released "
        "code), sum-logprob (the paper's formula)",
        choices=MP_KINDS,
    )
    schedule: ScheduleKind = help_field(
        "paper",
        "temperature schedule: paper T0/(1+beta ln n), code T0/(1+2 ln(1+flips)), exp T0*beta^n",
        choices=SCHEDULES,
    )
    t0: float = help_field(10.0, "initial temperature")
    t_min: float = help_field(0.01, "final (minimum) temperature")
    beta: float = help_field(0.99, "cooling rate (paper schedule) or decay per step (exp)")
    init_size: int = help_field(8, "examples given random labels to start the search")
    init_balanced: bool = help_field(
        False, "start with exactly half True (the released code) instead of free random labels"
    )
    iterations: int | None = help_field(
        None, "search iterations per batch (default: ~3000 per 256 examples, as in the paper)"
    )
    context_order: ContextOrder = help_field(
        "interleaved",
        "demo order: interleaved keeps a group's members apart; grouped (released code) "
        "keeps them together",
        choices=CONTEXT_ORDERS,
    )
    loo_order: LooOrder = help_field(
        "tree",
        "order of the other demos in leave-one-out prompts: tree (recursive split, shares "
        "prefixes: much faster) or paper (= given: the context order, as the released code)",
        choices=("tree", "given"),
        aliases={"paper": "given"},
    )
    skip_same: bool = help_field(
        False, "skip proposals equal to the current label (the released code does)"
    )
    fix_rounds: int = help_field(10, "ConsistencyFix rounds per proposal")
    complete: bool = help_field(
        False,
        "after the last iteration, label every example the search left unlabelled with the "
        "model's prediction from the labels so far (kept whatever it does to the energy), so "
        "the whole pool is labelled",
    )
    final_fix: bool = help_field(True, "a final ConsistencyFix after the last iteration", cli=False)
    strict_consistency: bool = help_field(
        False,
        "after the search, fix the inconsistencies it kept (a fix it refused because it lowered "
        "the energy) anyway, so the labels written are logically consistent",
    )
    group_weight: float = help_field(
        100.0, "sampling weight of unlabelled examples whose group has a labelled member"
    )
    checkpoint_every: int = help_field(10, "write a checkpoint every this many iterations")
    anchor_weight: float = help_field(
        5.0,
        "energy cost of overruling one anchor (alpha * MP units; inf freezes the anchors)",
    )
    anchor_mode: AnchorMode = help_field(
        "labelled",
        "labelled: anchors are scored leave-one-out like the other labels; context (needs "
        "--anchor-weight inf): they are fixed demonstrations before every prompt, computed "
        "once, so a step costs about as much as without them (for many anchors)",
        choices=ANCHOR_MODES,
    )
    # Set by the command from its own flags (`elicit label --confidence/--suggest`).
    confidence: bool = help_field(False, "compute each example's label margin", cli=False)
    unlabelled_margins: bool = help_field(False, "margins for unlabelled examples too", cli=False)

    def __post_init__(self) -> None:
        super().__post_init__()  # the choices: mp, schedule, context_order, loo_order, ...
        Schedule(self.schedule, self.t0, self.t_min, self.beta)  # validates the schedule
        for name in ("init_size", "fix_rounds", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        if self.iterations is not None and self.iterations < 0:
            raise ConfigError(f"--iterations must be >= 0, got {self.iterations}")
        if self.alpha < 0 or self.group_weight <= 0:
            raise ConfigError("--alpha must be >= 0 and --group-weight > 0")
        if not self.anchor_weight >= 0:
            raise ConfigError(
                f"--anchor-weight must be >= 0 (inf freezes anchors), got {self.anchor_weight}"
            )
        if self.anchor_mode == "context" and not math.isinf(self.anchor_weight):
            raise ConfigError(
                "--anchor-mode context makes the anchors fixed demonstrations, which the search "
                f"cannot overrule; pass --anchor-weight inf with it (got {self.anchor_weight})"
            )

    def variants(self) -> dict[str, Any]:
        """The choices where the paper and the released code differ, as recorded in results."""
        return {
            "mp": self.mp,
            "schedule": self.schedule,
            "init_balanced": self.init_balanced,
            "skip_same": self.skip_same,
            "context_order": self.context_order,
            "loo_order": self.loo_order,
        }

    def follows(self) -> dict[str, str]:
        """For each variant: "paper", "code" (the released code) or "elicit" (neither)."""
        return {
            "mp": {
                "calibrated-sum": "elicit",
                "calibrated": "elicit",
                "balanced": "elicit",
                "balanced-sum": "elicit",
                "mean": "code",
                "sum-logprob": "paper",
            }[self.mp],
            # "exp" is the released code's exp formula counted in iterations, where the code
            # counts accepted flips: neither the paper's nor the code's schedule.
            "schedule": {"paper": "paper", "code": "code", "exp": "elicit"}[self.schedule],
            "init_balanced": "code" if self.init_balanced else "paper",
            "skip_same": "code" if self.skip_same else "paper",
            "context_order": "code" if self.context_order == "grouped" else "elicit",
            "loo_order": "elicit" if self.loo_order == "tree" else "code",
        }


@dataclass(frozen=True)
class Step:
    """What `on_step` sees after iteration `iteration`: the current labels by uid."""

    iteration: int
    labels: Mapping[str, int]


#: Called after every iteration; the numbers it returns (e.g. {"agreement": 0.9}) are added to
#: the trace row and shown in the progress bar.
OnStep = Callable[[Step], Mapping[str, float] | None]


@dataclass(frozen=True)
class TraceRow:
    iteration: int
    temperature: float
    energy: float  # of the current labelling after this iteration's decision
    mp: float
    inconsistencies: int
    accepted: bool
    n_labelled: int
    uid: str  # the sampled example
    proposed: int  # the label the model proposed for it
    delta: float | None  # U(proposal after ConsistencyFix) - U(current); None when skipped
    extra: Mapping[str, float] = field(default_factory=dict)
    #: What this iteration cost (`search.costs`); written flat into the row.
    costs: Costs = field(default_factory=Costs)

    def to_dict(self) -> dict[str, Any]:
        nested = ("extra", "costs")
        d = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in nested
        }
        return {**d, **self.costs.to_dict(), **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TraceRow:
        names = {f.name for f in dataclasses.fields(cls)} - {"extra", "costs"}
        cost_names = {f.name for f in dataclasses.fields(Costs)}
        return cls(
            **{k: v for k, v in d.items() if k in names},
            extra={k: v for k, v in d.items() if k not in names | cost_names},
            costs=Costs(**{k: v for k, v in d.items() if k in cost_names}),
        )


@dataclass(frozen=True)
class SearchResult:
    labels: dict[str, int]  # uid -> label, in example order, labelled examples only
    scores: dict[str, float]  # uid -> final leave-one-out score of each labelled example
    energy: float
    mp: float
    inconsistencies: int
    n_examples: int
    iterations: int
    accepted: int  # accepted proposals that changed the labelling
    trace: tuple[TraceRow, ...]
    config: SearchConfig
    lm_evaluations: int  # leave-one-out evaluations sent to the LM (memo misses), this process
    #: Anchors the final labels contradict: uid -> (anchor label, final label or None).
    overruled: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    #: uid -> label margin (see the module docs); empty unless `confidence` was on.
    margins: dict[str, float] = field(default_factory=dict)
    #: What the whole search cost in this process (`search.costs`), post-passes included.
    costs: Costs = field(default_factory=Costs)

    @property
    def n_labelled(self) -> int:
        return len(self.labels)


def _initial_labels(
    n: int, config: SearchConfig, rng: random.Random, anchors: Mapping[int, int]
) -> dict[int, int]:
    free = [i for i in range(n) if i not in anchors]
    k = min(max(0, config.init_size - len(anchors)), len(free))
    chosen = rng.sample(free, k) if anchors else rng.sample(range(n), k)
    if config.init_balanced:
        labels = [1] * (k // 2) + [0] * (k - k // 2)
        rng.shuffle(labels)
    else:
        labels = [rng.randrange(2) for _ in chosen]
    return {**anchors, **dict(zip(chosen, labels, strict=True))}


def _sample_example(
    rule: ConsistencyRule,
    labelling: Mapping[int, int],
    weight: float,
    rng: random.Random,
    frozen: frozenset[int] = frozenset(),
) -> int:
    """An example to propose a label for; frozen anchors are never drawn."""
    n = len(rule.examples)
    weights = [
        0.0
        if i in frozen
        else weight
        if i not in labelling and any(j in labelling for j in rule.members[i] if j != i)
        else 1.0
        for i in range(n)
    ]
    return rng.choices(range(n), weights=weights)[0]


def _anchor_indices(
    anchors: Mapping[str, int] | None,
    examples: Sequence[Example],
    rule: ConsistencyRule,
    frozen: bool,
) -> dict[int, int]:
    """Anchors by example index; unknown uids and contradictory frozen anchors are errors."""
    if not anchors:
        return {}
    index_of = {ex.uid: i for i, ex in enumerate(examples)}
    unknown = [uid for uid in anchors if uid not in index_of]
    if unknown:
        raise ConfigError(
            f"{len(unknown)} anchor uid(s) are not in the pool (first: {unknown[0]!r}); anchors "
            "must be examples of the labelled data (same task, split and --n sample)"
        )
    bad = [y for y in anchors.values() if y not in (0, 1)]
    if bad:
        raise ConfigError(f"anchor labels must be 0 or 1, got {bad[0]!r}")
    by_index = {index_of[uid]: int(y) for uid, y in anchors.items()}
    pairs = rule.inconsistent_pairs(by_index)
    if pairs and frozen:
        a, b = (examples[k].uid for k in pairs[0])
        raise ConfigError(
            f"the anchors contradict each other under the task's consistency rule ({a!r} and "
            f"{b!r}, {len(pairs)} pair(s) in all); with --anchor-weight inf they can never be "
            "fixed: correct them or give a finite --anchor-weight"
        )
    return dict(sorted(by_index.items()))


def _search_hash(
    lm: LM,
    examples: Sequence[Example],
    consistency: Consistency,
    config: SearchConfig,
    iterations: int,
    label_set: LabelSet,
    rng: random.Random,
    anchors: Mapping[str, int] | None,
) -> str:
    """A hash of everything that determines a search's path, so a checkpoint is resumed only
    by the search that wrote it. How often it checkpoints does not determine the path; the
    RNG's state does, so this is taken before the search draws anything."""
    return checkpoint.config_hash(
        {
            "config": dataclasses.asdict(dataclasses.replace(config, checkpoint_every=1)),
            "iterations": iterations,
            "examples": [dataclasses.astuple(ex) for ex in examples],
            "consistency": str(consistency),
            "lm": lm.name,
            "labels": list(label_set.words),
            "rng": rng.getstate(),
            **({"anchors": sorted(anchors.items())} if anchors else {}),
        }
    )


class Search:
    """One ICM search in progress (see the module docs): what it searches with (the energy
    evaluator, the consistency rule, the schedule, the RNG) and where it stands (the labelling,
    its evaluation, the iteration, the accepted flips, the trace).

        search = Search(lm, examples, consistency, config, random.Random(0))
        search.begin()                # or search.restore(*checkpoint.load(...))
        while search.iteration < search.iterations:
            row = search.step()       # one iteration; its trace row
        result = search.finish()      # the post-passes, and the SearchResult

    `checkpoint()` holds everything `restore()` needs to continue on the same path, because
    all randomness comes from `rng`; `run_search` is this loop with checkpoints and a bar.
    """

    def __init__(
        self,
        lm: LM,
        examples: Sequence[Example],
        consistency: Consistency,
        config: SearchConfig,
        rng: random.Random,
        *,
        label_set: LabelSet = TRUE_FALSE,
        anchors: Mapping[str, int] | None = None,
    ) -> None:
        self.config = config
        self.examples = tuple(examples)
        if len({ex.uid for ex in self.examples}) != len(self.examples):
            raise ConfigError("example uids must be unique within a search pool")
        self.rng = rng
        self.iterations = self._iterations(anchors)
        self.run_hash = _search_hash(
            lm, self.examples, consistency, config, self.iterations, label_set, rng, anchors
        )
        self.rule = ConsistencyRule(self.examples, consistency)
        self.anchors = _anchor_indices(
            anchors, self.examples, self.rule, math.isinf(config.anchor_weight)
        )
        self.evaluator = EnergyEvaluator(
            lm,
            self.examples,
            self.rule,
            context_order(self.examples, config.context_order, rng),
            mp=config.mp,
            alpha=config.alpha,
            loo_order=config.loo_order,
            label_set=label_set,
            anchors=self.anchors,
            anchor_weight=config.anchor_weight,
            anchors_in_context=config.anchor_mode == "context",
        )
        self.meter = CostMeter(lm, self.evaluator)
        self.schedule = Schedule(config.schedule, config.t0, config.t_min, config.beta)
        self.index_of = {ex.uid: i for i, ex in enumerate(self.examples)}
        # Where the search stands; `begin` or `restore` sets the labelling and its evaluation.
        self.labelling: dict[int, int] = {}
        self._current: Evaluation | None = None
        self.iteration = 0
        self.accepted = 0  # accepted proposals that changed the labelling
        self.trace: list[TraceRow] = []

    def _iterations(self, anchors: Mapping[str, int] | None) -> int:
        """`config.iterations`, or the paper's budget for the pool; 0 when there is nothing to
        search (an empty pool, or every example a frozen anchor)."""
        frozen_pool = math.isinf(self.config.anchor_weight) and all(
            ex.uid in (anchors or {}) for ex in self.examples
        )
        if not self.examples or frozen_pool:
            return 0
        if self.config.iterations is not None:
            return self.config.iterations
        return default_iterations(len(self.examples))

    @property
    def current(self) -> Evaluation:
        """The evaluation of `labelling`."""
        if self._current is None:
            raise RuntimeError("call Search.begin() or Search.restore() before using the search")
        return self._current

    def labels(self) -> dict[str, int]:
        """The current labels by uid, in example order."""
        return _by_uid(self.examples, self.labelling)

    def begin(self) -> None:
        """Draw the initial labels and ConsistencyFix them: the state of iteration 0. What
        this costs counts in the search's total, not in a trace row."""
        labelling = _initial_labels(len(self.examples), self.config, self.rng, self.anchors)
        self.labelling, self._current = consistency_fix(
            self.evaluator,
            labelling,
            self.evaluator.evaluate(labelling),
            self.rng,
            self.config.fix_rounds,
        )
        self.meter.step()

    def checkpoint(self) -> Checkpoint:
        """What `restore` needs to continue this search on the same path."""
        return Checkpoint(
            iteration=self.iteration,
            accepted=self.accepted,
            labels=tuple(self.labels().items()),
            rng_state=self.rng.getstate(),
            trace_length=len(self.trace),
            config_hash=self.run_hash,
        )

    def restore(self, ckpt: Checkpoint, rows: Sequence[Mapping[str, Any]]) -> None:
        """Continue from `ckpt` and the trace rows it covers (as `checkpoint.load` returns
        them), instead of `begin`. The leave-one-out memo starts empty: the LM is
        deterministic, so the search recomputes what it needs and takes the same path."""
        self.labelling = {self.index_of[uid]: y for uid, y in ckpt.labels}
        self.rng.setstate(ckpt.rng_state)
        self.iteration, self.accepted = ckpt.iteration, ckpt.accepted
        self.trace = [TraceRow.from_dict(r) for r in rows]
        self._current = self.evaluator.evaluate(self.labelling)
        self.meter.step()

    def step(self, on_step: OnStep | None = None) -> TraceRow:
        """Run the next iteration (sample, propose, ConsistencyFix, accept or reject) and
        return its trace row, which is also appended to `trace`."""
        n = self.iteration + 1
        temperature = self.schedule.temperature(n, self.accepted)
        index = _sample_example(
            self.rule, self.labelling, self.config.group_weight, self.rng, self.evaluator.frozen
        )
        proposed = self._propose(index)
        delta: float | None = None
        accept = False
        if not (self.config.skip_same and self.labelling.get(index) == proposed):
            delta, accept = self._decide(index, proposed, temperature)
        extra = dict(on_step(Step(n, self.labels())) or {}) if on_step else {}
        row = TraceRow(
            iteration=n,
            temperature=temperature,
            energy=self.current.energy,
            mp=self.current.mp,
            inconsistencies=self.current.inconsistencies,
            accepted=accept,
            n_labelled=len(self.labelling),
            uid=self.examples[index].uid,
            proposed=proposed,
            delta=delta,
            extra=extra,
            costs=self.meter.step(),
        )
        self.trace.append(row)
        self.iteration = n
        return row

    def _propose(self, index: int) -> int:
        """The label to propose for example `index`: the model's prediction from the current
        labelled set, except for an overruled anchor, which is proposed back (the model's
        prediction would only repeat the label that overruled it, and the energy must get to
        compare)."""
        if index in self.anchors and self.labelling.get(index) != self.anchors[index]:
            return self.anchors[index]
        return self.evaluator.predict_label(self.current, index)

    def _decide(self, index: int, proposed: int, temperature: float) -> tuple[float, bool]:
        """ConsistencyFix the labelling with `proposed` for `index`, then accept it if dU > 0,
        else with probability exp(dU / T); returns dU and whether it was accepted."""
        candidate = {**self.labelling, index: proposed}
        candidate, evaluation = consistency_fix(
            self.evaluator,
            candidate,
            self.evaluator.evaluate(candidate),
            self.rng,
            self.config.fix_rounds,
        )
        delta = evaluation.energy - self.current.energy
        accept = delta > 0 or self.rng.random() < math.exp(delta / temperature)
        if accept:
            if evaluation.key != self.current.key:
                self.accepted += 1
            self.labelling, self._current = candidate, evaluation
        return delta, accept

    def finish(self) -> SearchResult:
        """Run the post-passes (the final ConsistencyFix, anchors given back, strict
        consistency, margins) on the current labelling and return the result."""
        config, evaluator = self.config, self.evaluator
        labelling, current = self.labelling, self.current
        if config.complete:
            labelling, current = complete_labelling(
                evaluator, labelling, current, self.rng, config.fix_rounds
            )
        if config.final_fix:
            rounds = config.fix_rounds + 10 * len(labelling)
            labelling, current = consistency_fix(evaluator, labelling, current, self.rng, rounds)
        labelling, current = restore_anchors(evaluator, labelling, current, self.anchors)
        if config.strict_consistency:
            labelling, current = force_consistency(evaluator, labelling, current, self.rng)
        self.labelling, self._current = labelling, current
        margins = (
            label_margins(evaluator, labelling, current, unlabelled=config.unlabelled_margins)
            if config.confidence
            else {}
        )
        return self._result(margins)

    def _result(self, margins: Mapping[int, float]) -> SearchResult:
        uid = [ex.uid for ex in self.examples]
        current = self.current
        return SearchResult(
            labels=self.labels(),
            scores={uid[i]: float(s) for i, s in zip(current.indices, current.scores, strict=True)},
            energy=current.energy,
            mp=current.mp,
            inconsistencies=current.inconsistencies,
            n_examples=len(self.examples),
            iterations=self.iterations,
            accepted=self.accepted,
            trace=tuple(self.trace),
            config=self.config,
            lm_evaluations=self.evaluator.n_evaluations,
            overruled={uid[i]: (self.anchors[i], self.labelling.get(i)) for i in current.overruled},
            margins={uid[i]: m for i, m in margins.items()},
            costs=self.meter.total(),
        )


def _by_uid(examples: Sequence[Example], labelling: Mapping[int, int]) -> dict[str, int]:
    return {examples[i].uid: labelling[i] for i in sorted(labelling)}


class _Checkpoints:
    """A search's checkpoint directory, and how much of the search's trace it holds."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = directory
        self.written = 0  # trace rows already appended to the directory's trace

    def resume(self, search: Search) -> bool:
        """Restore `search` from the directory's checkpoint; False when there is none."""
        loaded = checkpoint.load(self.directory, search.run_hash, search.index_of)
        if loaded is None:
            return False
        search.restore(*loaded)
        self.written = len(search.trace)
        return True

    def start(self) -> None:
        """Forget any previous checkpoint (a fresh search starts here)."""
        checkpoint.start(self.directory)
        self.written = 0

    def save(self, search: Search) -> None:
        """Append the trace rows not yet written, then the checkpoint that covers them."""
        rows = [r.to_dict() for r in search.trace[self.written :]]
        checkpoint.save(self.directory, search.checkpoint(), rows)
        self.written = len(search.trace)


def run_search(
    lm: LM,
    examples: Sequence[Example],
    consistency: Consistency,
    config: SearchConfig | None = None,
    *,
    seed: int = 0,
    rng: random.Random | None = None,
    label_set: LabelSet = TRUE_FALSE,
    on_step: OnStep | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = False,
    desc: str = "ICM",
    anchors: Mapping[str, int] | None = None,
) -> SearchResult:
    """Search labels for `examples` (see the module docs). `rng` overrides `seed`.

    anchors: known labels by uid (see the module docs); they must be examples of the pool.

    checkpoint_dir: where to checkpoint every `config.checkpoint_every` iterations (None: no
        checkpoints). resume: continue from the checkpoint there, if any; without it an old
        checkpoint is discarded and the search starts over.
    """
    config = config or SearchConfig()
    rng = rng if rng is not None else random.Random(seed)
    search = Search(lm, examples, consistency, config, rng, label_set=label_set, anchors=anchors)
    store = _Checkpoints(checkpoint_dir) if checkpoint_dir is not None else None
    if store is None:
        search.begin()
    elif not (resume and store.resume(search)):
        store.start()
        search.begin()
        store.save(search)
    with tqdm(
        total=search.iterations,
        initial=search.iteration,
        desc=desc,
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        while search.iteration < search.iterations:
            row = search.step(on_step)
            bar.update(1)
            bar.set_postfix(
                {"U": f"{row.energy:.2f}", "labelled": row.n_labelled}
                | {k: f"{v:.3f}" for k, v in row.extra.items()},
                refresh=False,
            )
            n = search.iteration
            if store is not None and (n % config.checkpoint_every == 0 or n == search.iterations):
                store.save(search)
    return search.finish()
