"""ICM's energy U(D) = alpha * MP(D) - I(D), and the memoised evaluator the search calls.

Mutual predictability (MP) is computed from leave-one-out scores: s_i = log P(" True") -
log P(" False") for labelled example i with every other labelled example (prompt + label word)
in context, i left out (`LM.loo_scores`). The forms, chosen by `MPKind`:

    mean         mean_i (s_i if y_i = 1 else -s_i)                   the released ICM code
    sum-logprob  sum_i log P(y_i | x_i, D \\ i) = sum_i log sigmoid(+-s_i)   the paper's formula
    calibrated   mean_i +-(s_i - mean_j s_j)                          elicit's default
    calibrated-sum  sum_i +-(s_i - mean_j s_j)                        elicit
    balanced     calibrated on balanced leave-one-out scores b_i       elicit
    balanced-sum calibrated-sum on them                               elicit

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

Balanced leave-one-out (`balanced`, `balanced-sum`). Centring removes a bias shared by every
query, not one that depends on the query's own label, and a leave-one-out context has one: a
True claim's context holds one True fewer than a False claim's. A small model that counts the
labels in its context (gemma-3-270m on SST-2: 2.58 log-odds per standard deviation of the share
of True, 0.16 per standard deviation of content; docs/RESULTS.md) then scores every True claim
lower because it is labelled True, and every label change moves every other score through that
share by more than content separates right from wrong. The balanced form gives every query a
context with as many True as False demos (`balanced_units`): the m-th True claim in context
order is paired with the m-th False one, and a pair is left out together, so both of its
claims are scored with the other k - 1 pairs in context (k - 1 True, k - 1 False, always in the
order True, False, so the demo right before a query is False for everyone too). The majority
label's leftover claims are scored without being shown, each with the context of one pair's
queries (round robin over the pairs), so every query in a labelling sees the same number of
demos and the same share, and nothing in its context depends on its own label. Each query is
an ordinary causal prompt; the pairs are the units of the tree leave-one-out
(`LM.unit_loo_scores`), O(k L log k) tokens for k pairs. Scores are centred as in
`calibrated`, so a constant labelling (no pairs: every claim scored zero-shot, with an empty
context) gets MP exactly 0 and cannot beat a labelling the model's content supports. What it
gives up: the leftover claims of an unbalanced labelling are never demonstrations, and the
MP of a labelling with one claim of a label is a zero-shot quantity. A proposal for an
unlabelled example is scored after all k pairs (`EnergyEvaluator.predict_score`).

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

from elicit.backends.base import LM, TRUE_FALSE, Demo, FloatArray, LabelSet, LooOrder, LooUnit
from elicit.backends.prompting import DEMO_SEPARATOR
from elicit.errors import ConfigError
from elicit.search.consistency import ConsistencyRule
from elicit.tasks.base import Example

MPKind = Literal["calibrated-sum", "calibrated", "balanced", "balanced-sum", "mean", "sum-logprob"]
MP_KINDS: tuple[str, ...] = (
    "calibrated-sum",
    "calibrated",
    "balanced",
    "balanced-sum",
    "mean",
    "sum-logprob",
)
#: The forms that centre the scores (and propose against the mean score).
CENTRED: tuple[str, ...] = ("calibrated", "calibrated-sum", "balanced", "balanced-sum")
#: The forms scored by balanced leave-one-out (`balanced_units`).
BALANCED: tuple[str, ...] = ("balanced", "balanced-sum")

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
    if kind in ("calibrated", "balanced"):
        return float(np.mean(sign * (s - s.mean())))
    if kind in ("calibrated-sum", "balanced-sum"):
        return float(np.sum(sign * (s - s.mean())))
    raise ConfigError(f"unknown mutual predictability {kind!r}; use one of {', '.join(MP_KINDS)}")


def balanced_units(labels: Sequence[int]) -> list[LooUnit]:
    """The units of balanced leave-one-out for binary `labels` (in context order).

    Unit m shows (t_m, f_m), the m-th True and the m-th False position in order, and asks
    both; the leftover positions of the majority label are asked by unit j mod k (j-th
    leftover), so every query's context is the k - 1 other pairs. With no pairs (a constant
    labelling) one unit asks everything with an empty context; with one pair too.

        labels 1 0 1 1 0 1   units  show (0, 1) ask (0, 1, 3)   show (2, 4) ask (2, 4, 5)
    """
    if any(y not in (0, 1) for y in labels):
        raise ConfigError("balanced mutual predictability needs binary labels (0 or 1)")
    trues = [i for i, y in enumerate(labels) if y == 1]
    falses = [i for i, y in enumerate(labels) if y == 0]
    k = min(len(trues), len(falses))
    if k == 0:
        return [LooUnit((), tuple(range(len(labels))))]
    leftover = trues[k:] + falses[k:]
    asked: list[list[int]] = [[trues[m], falses[m]] for m in range(k)]
    for j, i in enumerate(leftover):
        asked[j % k].append(i)
    return [LooUnit((trues[m], falses[m]), tuple(asked[m])) for m in range(k)]


def energy(mp: float, inconsistencies: int, alpha: float) -> float:
    """U = alpha * MP - I."""
    return alpha * mp - inconsistencies


def proposal_threshold(scores: Sequence[float] | FloatArray, kind: MPKind) -> float:
    """The score above which the model's prediction is "True" under MP form `kind`.

    0 for the raw forms (the model's own decision, as in the paper and the code); for the
    calibrated form the mean leave-one-out score of the current set, the threshold at which
    labelling an example True raises the calibrated MP.
    """
    if kind in CENTRED and len(scores) > 0:
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
        label_set: LabelSet = TRUE_FALSE,
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
        self.label_set = label_set
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
        if scored and self.mp_kind in BALANCED:
            units = balanced_units([y for _, y in scored])
            scores = np.asarray(
                self.lm.unit_loo_scores(
                    self.demos(scored),
                    units,
                    self.label_set,
                    order=self.loo_order,
                    context=self.context,
                ),
                dtype=np.float64,
            )
            self.n_evaluations += 1
        elif scored:
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
        scored after the context anchors and `proposal_demos` (all current demos, in context
        order; the pairs for the balanced forms) (`LM.context_scores`).
        """
        if index in current.indices:
            return current.score_of(index)
        memo_key = (current.key, index)
        hit = self._context_memo.get(memo_key)
        if hit is not None:
            return hit
        value = float(
            self.lm.context_scores(
                [*self.context, *self.proposal_demos(current.key)],
                [self.examples[index].prompt],
                self.label_set,
            )[0]
        )
        self.n_context_calls += 1
        self._remember(self._context_memo, memo_key, value)
        return value

    def proposal_demos(self, key: LabellingKey) -> list[Demo]:
        """The demos an unlabelled example is scored after (besides the context anchors):
        every scored one, or for the balanced forms the k pairs (True, False) of
        `balanced_units`, so that its context holds as many True as False demos too.

        A pair goes as one demo whose prompt holds the True claim and its label word: the
        same text (`render_demo` of it is the two demos'), but one segment, as in the unit
        tree, so a prefix store finds the first k - 1 pairs that the last unit's leave-one-out
        prompt computed instead of recomputing the context demo by demo."""
        scored = self.scored(key)
        if self.mp_kind not in BALANCED:
            return self.demos(scored)
        units = balanced_units([y for _, y in scored]) if scored else []
        pairs = [[self.examples[scored[p][0]].prompt for p in u.shown] for u in units]
        true_word = self.label_set.words[1] + DEMO_SEPARATOR
        return [Demo(t + true_word + f, 0) for t, f in (p for p in pairs if p)]

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
