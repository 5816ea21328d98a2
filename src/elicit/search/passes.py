"""What the ICM search does to a labelling besides proposing labels (see `search.icm`).

    labelling, current = consistency_fix(evaluator, labelling, current, rng, rounds=10)

ConsistencyFix runs on each proposal and once more after the last iteration; the others are
the search's post-passes: `complete_labelling` labels what the search left unlabelled
(`complete`), `restore_anchors` gives overruled anchors their labels back where
that costs nothing, `force_consistency` removes every contradiction (`strict_consistency`), and
`label_margins` measures how firmly each label is held (`confidence`). Each takes the energy
evaluator and a labelling with its evaluation, draws randomness only from the `rng` it is
given, and returns a new labelling (and its evaluation) rather than changing its input.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from elicit.search.energy import EnergyEvaluator, Evaluation


def consistency_fix(
    evaluator: EnergyEvaluator,
    labelling: dict[int, int],
    current: Evaluation,
    rng: random.Random,
    rounds: int,
) -> tuple[dict[int, int], Evaluation]:
    """ConsistencyFix (see `search.icm`): returns the fixed labelling and its evaluation."""
    for _ in range(rounds):
        if not current.pairs:
            break
        pairs = list(current.pairs)
        rng.shuffle(pairs)
        for i, j in pairs:
            best: tuple[dict[int, int], Evaluation] | None = None
            for yi, yj in allowed_relabellings(evaluator, labelling, i, j):
                trial = {**labelling, i: yi, j: yj}
                ev = evaluator.evaluate(trial)
                if best is None or ev.energy > best[1].energy:
                    best = (trial, ev)
            if best is not None and best[1].energy >= current.energy:
                labelling, current = best
                break
        else:
            break  # no pair can be fixed without lowering the energy
    return labelling, current


def complete_labelling(
    evaluator: EnergyEvaluator,
    labelling: dict[int, int],
    current: Evaluation,
    rng: random.Random,
    rounds: int,
) -> tuple[dict[int, int], Evaluation]:
    """Label every example the search left unlabelled (`SearchConfig.complete`).

    In a seeded random order, each one gets the label the model predicts from the labels so
    far (as a proposal of the search would), then a ConsistencyFix of `rounds` rounds; the
    result is kept whatever it does to the energy, since the point is a fully labelled pool.
    Frozen anchors are labelled already; nothing else is left out.
    """
    missing = [i for i in range(len(evaluator.examples)) if i not in labelling]
    rng.shuffle(missing)
    for i in missing:  # a ConsistencyFix relabels labelled pairs only: i is still unlabelled
        candidate = {**labelling, i: evaluator.predict_label(current, i)}
        labelling, current = consistency_fix(
            evaluator, candidate, evaluator.evaluate(candidate), rng, rounds
        )
    return labelling, current


def force_consistency(
    evaluator: EnergyEvaluator,
    labelling: dict[int, int],
    current: Evaluation,
    rng: random.Random,
) -> tuple[dict[int, int], Evaluation]:
    """Remove every inconsistency, lowering the energy if need be (`SearchConfig.strict_consistency`).

    Each round takes a random inconsistent pair and applies its best-energy consistent
    relabelling. After 2 rounds per labelled example (a group whose fixes keep breaking other
    members), the remaining inconsistent pairs are unlabelled.
    """
    for _ in range(2 * len(labelling)):
        if not current.pairs:
            return labelling, current
        i, j = rng.choice(current.pairs)
        options = [
            {**labelling, i: yi, j: yj}
            for yi, yj in allowed_relabellings(evaluator, labelling, i, j)
        ]
        if not options:  # only a frozen anchor could change; leave the pair to the next loop
            break
        scored = [(evaluator.evaluate(o), o) for o in options]
        current, labelling = max(scored, key=lambda t: t[0].energy)
    frozen = evaluator.frozen
    while current.pairs:
        pair = current.pairs[0]
        drop = [k for k in pair if k not in frozen] or list(pair)
        labelling = {k: y for k, y in labelling.items() if k not in drop}
        current = evaluator.evaluate(labelling)
    return labelling, current


def allowed_relabellings(
    evaluator: EnergyEvaluator, labelling: Mapping[int, int], i: int, j: int
) -> list[tuple[int, int]]:
    """The consistent relabellings of the pair (i, j) that leave frozen anchors as they are."""
    frozen = evaluator.frozen
    return [
        (yi, yj)
        for yi, yj in evaluator.rule.relabellings(i, j)
        if (i not in frozen or yi == labelling.get(i))
        and (j not in frozen or yj == labelling.get(j))
    ]


def restore_anchors(
    evaluator: EnergyEvaluator,
    labelling: dict[int, int],
    current: Evaluation,
    anchors: Mapping[int, int],
) -> tuple[dict[int, int], Evaluation]:
    """Give each overruled anchor its label back where that does not lower the energy (a
    late random acceptance may have overruled it with nothing to gain)."""
    for i in current.overruled:
        trial = {**labelling, i: anchors[i]}
        ev = evaluator.evaluate(trial)
        if ev.energy >= current.energy:
            labelling, current = trial, ev
    return labelling, current


def label_margins(
    evaluator: EnergyEvaluator,
    labelling: Mapping[int, int],
    current: Evaluation,
    *,
    unlabelled: bool = True,
) -> dict[int, float]:
    """Every pool example's label margin (see `search.icm`), by index; context anchors,
    fixed demonstrations rather than labels the search holds, have none."""
    margins: dict[int, float] = {}
    for i in range(len(evaluator.examples)):
        if evaluator.context and i in evaluator.anchors:
            continue
        if i in labelling:
            flipped = evaluator.evaluate({**labelling, i: 1 - labelling[i]})
            margins[i] = current.energy - flipped.energy
        elif unlabelled:
            as_true = evaluator.evaluate({**labelling, i: 1})
            as_false = evaluator.evaluate({**labelling, i: 0})
            margins[i] = abs(as_true.energy - as_false.energy)
    return margins
