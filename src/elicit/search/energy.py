"""ICM's energy U(D) = alpha * MP(D) - I(D), and the memoised evaluator the search calls.

Mutual predictability (MP) is computed from leave-one-out scores: s_i = log P(" True") -
log P(" False") for labelled example i with every other labelled example (prompt + label word)
in context, i left out (`LM.loo_scores`). Three forms, chosen by `MPKind`:

    mean         mean_i (s_i if y_i = 1 else -s_i)                   the released ICM code
    sum-logprob  sum_i log P(y_i | x_i, D \\ i) = sum_i log sigmoid(+-s_i)   the paper's formula
    calibrated   mean_i +-(s_i - mean_j s_j)                          elicit's default
    calibrated-sum  sum_i +-(s_i - mean_j s_j)                        elicit

Why calibrated: a small base model mostly copies the majority label of its context, so with the
raw forms a constant labelling is predicted best (measured on 32 SST-2 claims with gemma-3-270m:
MP(all True) = +7.9 vs MP(gold) = +0.26) and alpha = 50 lets no consistency penalty outweigh it.
Centring the scores over the labelled set removes the shared bias: a constant labelling scores
exactly 0, and MP = (2/N) * sum of centred scores over the True-labelled examples, largest when
the True labels go to the examples the model ranks highest. The matching proposal rule labels an
example True when its score beats the mean LOO score of the current set (`proposal_threshold`).

Mean or sum. A mean normalises away the pool size, so adding an example whose signed centred
score is below the current average lowers MP; with alpha = 50 such additions are refused and
the search stalls with part of the pool unlabelled (measured: 11 of 16 SST-2 claims). As a sum,
adding an example with the label the model proposes (its centred score's sign) adds a
positive term, so the labelled set grows the way the paper's search intends, and a constant
labelling still scores exactly 0. This is the paper's summed form with centred scores.

Note that sum-logprob is a sum, so every added example lowers it (log P <= 0): with alpha 50 the
pool grows only through the annealing's random acceptances. It is the formula the paper writes;
the paper's own code uses the mean.

Anchors (semi-supervised ICM, `elicit label --anchors`): known labels that enter the labelled
set from the start. Each anchor whose label the search has changed (or dropped) costs
`anchor_weight` energy units, U = alpha * MP - I - anchor_weight * overruled, so a noisy anchor
is overruled only when the model's evidence against it is worth more than the penalty. An
infinite weight freezes the anchors: the search never proposes a change to them, and the
penalty term is then always 0.

Anchors as context (`anchor_mode="context"`, frozen anchors only): the anchors are not
leave-one-out queries but fixed demonstrations placed before the other labelled examples in
every prompt (`LM.loo_scores(context=...)`), and in the proposals' many-shot prompts. MP sums
over the search's own labels, each predicted from the anchors plus the other own labels. A
step then costs a leave-one-out pass over the own labels on a prefix the backend computes
once, instead of one over anchors and own labels together: with 128 anchors and 16 own labels
about 12x fewer tokens. What it gives up is the anchors' own terms, i.e. how well a labelling
predicts the known labels. Consistency still counts anchor pairs.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np

from elicit.backends.base import LM, TRUE_FALSE, Demo, FloatArray, LabelSet, LooOrder
from elicit.errors import ConfigError
from elicit.search.consistency import ConsistencyRule
from elicit.tasks.base import Example

MPKind = Literal["calibrated-sum", "calibrated", "mean", "sum-logprob"]
MP_KINDS: tuple[str, ...] = ("calibrated-sum", "calibrated", "mean", "sum-logprob")

K = TypeVar("K")
V = TypeVar("V")

#: A labelling in context order: ((index, label), ...). The memo key of an evaluation.
LabellingKey = tuple[tuple[int, int], ...]


def _log_sigmoid(x: FloatArray) -> FloatArray:
    # log(1 / (1 + e^-x)) = min(x, 0) - log1p(e^-|x|), stable for large |x|.
    return np.asarray(np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x))), dtype=np.float64)


def mutual_predictability(
    scores: Sequence[float] | FloatArray, labels: Sequence[int], kind: MPKind
) -> float:
    """MP of labels `labels` whose leave-one-out log-odds are `scores` (0.0 when empty)."""
    s = np.asarray(scores, dtype=np.float64)
    sign = 2.0 * np.asarray(labels, dtype=np.float64) - 1.0
    if s.shape != sign.shape:
        raise ValueError(f"{len(s)} scores but {len(sign)} labels")
    if len(s) == 0:
        return 0.0
    if kind == "mean":
        return float(np.mean(sign * s))
    if kind == "sum-logprob":
        return float(np.sum(_log_sigmoid(sign * s)))
    if kind == "calibrated":
        return float(np.mean(sign * (s - s.mean())))
    if kind == "calibrated-sum":
        return float(np.sum(sign * (s - s.mean())))
    raise ConfigError(f"unknown mutual predictability {kind!r}; use one of {', '.join(MP_KINDS)}")


def energy(mp: float, inconsistencies: int, alpha: float) -> float:
    """U = alpha * MP - I."""
    return alpha * mp - inconsistencies


def proposal_threshold(scores: Sequence[float] | FloatArray, kind: MPKind) -> float:
    """The score above which the model's prediction is "True" under MP form `kind`.

    0 for the raw forms (the model's own decision, as in the paper and the code); for the
    calibrated form the mean leave-one-out score of the current set, the threshold at which
    labelling an example True raises the calibrated MP.
    """
    if kind in ("calibrated", "calibrated-sum") and len(scores) > 0:
        return float(np.mean(np.asarray(scores, dtype=np.float64)))
    return 0.0


@dataclass(frozen=True)
class Evaluation:
    """The energy of one labelling. `indices`, `labels`, `scores` are in context order and
    cover the examples scored leave-one-out (all labelled ones but context anchors)."""

    key: LabellingKey
    indices: tuple[int, ...]
    labels: tuple[int, ...]
    scores: FloatArray = field(repr=False, compare=False)
    mp: float
    pairs: tuple[tuple[int, int], ...]
    energy: float
    #: Anchors whose label this labelling changes or drops (indices, in anchor order).
    overruled: tuple[int, ...] = ()

    @property
    def inconsistencies(self) -> int:
        return len(self.pairs)

    @property
    def labelling(self) -> dict[int, int]:
        return dict(self.key)

    def score_of(self, index: int) -> float:
        """The leave-one-out score of a labelled example."""
        return float(self.scores[self.indices.index(index)])


class EnergyEvaluator:
    """Computes `Evaluation`s of labellings of one pool, memoising them per labelling.

    Demos go to the LM in `order` (a permutation of the pool's indices, see `search.order`)
    restricted to the labelled examples, so a labelling has exactly one prompt set and its
    key, the tuple of (index, label) in that order, identifies it. The LM is assumed
    deterministic; states the search revisits (rejected proposals, ConsistencyFix candidates)
    cost nothing. The memo keeps the `memo_size` most recently used evaluations.
    """

    def __init__(
        self,
        lm: LM,
        examples: Sequence[Example],
        rule: ConsistencyRule,
        order: Sequence[int],
        *,
        mp: MPKind = "calibrated",
        alpha: float = 50.0,
        loo_order: LooOrder = "tree",
        labels: LabelSet = TRUE_FALSE,
        memo_size: int = 4096,
        anchors: Mapping[int, int] | None = None,
        anchor_weight: float = math.inf,
        anchors_in_context: bool = False,
    ) -> None:
        if sorted(order) != list(range(len(examples))):
            raise ValueError("order must be a permutation of the example indices")
        if mp not in MP_KINDS:
            raise ConfigError(f"unknown mutual predictability {mp!r}; use one of {MP_KINDS}")
        self.lm = lm
        self.examples = tuple(examples)
        self.rule = rule
        self.order = tuple(order)
        self.rank = {index: r for r, index in enumerate(self.order)}
        self.mp_kind: MPKind = mp
        self.alpha = alpha
        self.loo_order: LooOrder = loo_order
        self.label_set = labels
        self.memo_size = memo_size
        self.anchors: dict[int, int] = dict(anchors or {})
        if anchor_weight < 0:
            raise ConfigError(f"--anchor-weight must be >= 0, got {anchor_weight}")
        self.anchor_weight = anchor_weight
        if anchors_in_context and not math.isinf(anchor_weight):
            raise ConfigError(
                "anchors in context are fixed demonstrations, so they must be frozen: "
                "use --anchor-weight inf with --anchor-mode context"
            )
        #: The anchors as fixed context demos, in context order (anchors_in_context only).
        self.context: tuple[Demo, ...] = (
            tuple(
                Demo(self.examples[i].prompt, self.anchors[i])
                for i in self.order
                if i in self.anchors
            )
            if anchors_in_context
            else ()
        )
        self._memo: OrderedDict[LabellingKey, Evaluation] = OrderedDict()
        self._context_memo: OrderedDict[tuple[LabellingKey, int], float] = OrderedDict()
        self.n_evaluations = 0  # LOO evaluations actually sent to the LM
        self.n_memo_hits = 0  # LOO evaluations answered from the memo
        self.n_context_calls = 0

    def key(self, labelling: Mapping[int, int]) -> LabellingKey:
        return tuple((i, int(labelling[i])) for i in sorted(labelling, key=self.rank.__getitem__))

    def demos(self, key: LabellingKey) -> list[Demo]:
        return [Demo(self.examples[i].prompt, y) for i, y in key]

    def scored(self, key: LabellingKey) -> LabellingKey:
        """The part of a labelling that is scored leave-one-out: all of it, or without the
        anchors when they are context demos."""
        if not self.context:
            return key
        return tuple((i, y) for i, y in key if i not in self.anchors)

    def evaluate(self, labelling: Mapping[int, int]) -> Evaluation:
        key = self.key(labelling)
        hit = self._memo.get(key)
        if hit is not None:
            self._memo.move_to_end(key)
            self.n_memo_hits += 1
            return hit
        scored = self.scored(key)
        if scored:
            scores = np.asarray(
                self.lm.loo_scores(
                    self.demos(scored), self.label_set, order=self.loo_order, context=self.context
                ),
                dtype=np.float64,
            )
            self.n_evaluations += 1
        else:
            scores = np.zeros(0)
        labels = tuple(y for _, y in scored)
        mp = mutual_predictability(scores, labels, self.mp_kind)
        labelling = dict(key)
        pairs = tuple(self.rule.inconsistent_pairs(labelling))
        overruled = tuple(i for i, y in self.anchors.items() if labelling.get(i) != y)
        # Frozen anchors (infinite weight) are never changed by the search; `overruled` is
        # then empty and adds nothing (inf * 0 would be NaN, hence the guard).
        penalty = self.anchor_weight * len(overruled) if overruled else 0.0
        ev = Evaluation(
            key=key,
            indices=tuple(i for i, _ in scored),
            labels=labels,
            scores=scores,
            mp=mp,
            pairs=pairs,
            energy=energy(mp, len(pairs), self.alpha) - penalty,
            overruled=overruled,
        )
        self._remember(self._memo, key, ev)
        return ev

    def predict_score(self, current: Evaluation, index: int) -> float:
        """The model's log-odds for example `index` given the labelled set of `current`.

        A labelled example's leave-one-out score is already in `current`; an unlabelled one is
        scored after all current demos (the context anchors first), in context order
        (`LM.context_scores`).
        """
        if index in current.indices:
            return current.score_of(index)
        memo_key = (current.key, index)
        hit = self._context_memo.get(memo_key)
        if hit is not None:
            return hit
        value = float(
            self.lm.context_scores(
                [*self.context, *self.demos(self.scored(current.key))],
                [self.examples[index].prompt],
                self.label_set,
            )[0]
        )
        self.n_context_calls += 1
        self._remember(self._context_memo, memo_key, value)
        return value

    @property
    def frozen(self) -> frozenset[int]:
        """Anchors the search must not change (all of them when the weight is infinite)."""
        return frozenset(self.anchors) if math.isinf(self.anchor_weight) else frozenset()

    def predict_label(self, current: Evaluation, index: int) -> int:
        """The label the model proposes for `index` (threshold per `proposal_threshold`)."""
        score = self.predict_score(current, index)
        return int(score > proposal_threshold(current.scores, self.mp_kind))

    def _remember(self, memo: OrderedDict[K, V], key: K, value: V) -> None:
        memo[key] = value
        while len(memo) > self.memo_size:
            memo.popitem(last=False)
