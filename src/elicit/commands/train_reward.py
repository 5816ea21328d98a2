"""The reward-model half of `elicit train` (`--objective reward`); see `commands.train`.

Pairs come from the comparison claims: training pairs with P(A wins) from the label source,
test pairs from gold (`data.comparisons`). Rows: `pairwise_accuracy` of reward-<source>, and,
with --eval-before, of the base LM zero-shot (A wins when its claim "Response 1 is better"
scores higher in the order that shows A first than in the order that shows B first, i.e.
score(ab) - score(ba) > 0; the same claims `elicit eval` scores). The merged reward model is
exported to reward_model/ (num_labels=1, pad token set) for TRL and transformers consumers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from elicit.backends.base import GenerationConfig, LabelSet
from elicit.errors import DataError
from elicit.evaluation import baselines as bl
from elicit.evaluation.results import ResultRow
from elicit.runs import atomic_write_jsonl
from elicit.tasks.base import TaskData
from elicit.training.data import Comparison, Targets, comparisons

if TYPE_CHECKING:
    from elicit.commands.train import FitRecord, RewardRecord, TrainConfig

log = logging.getLogger("elicit")


def zero_shot_pairwise(scores: dict[str, float], test: TaskData, pairs: list[Comparison]) -> float:
    """Pairwise accuracy of the base LM's claim scores (score(ab) - score(ba) > 0: A wins)."""
    by_group: dict[str, dict[str, float]] = {}
    for ex in test.examples:
        by_group.setdefault(ex.group, {})[ex.key] = scores[ex.uid]
    correct = 0.0
    for p in pairs:
        s = by_group[p.uid]
        margin = s.get("ab", 0.0) - s.get("ba", 0.0)
        wins = margin if p.p_a_wins > 0.5 else -margin
        correct += 1.0 if wins > 0 else 0.5 if wins == 0 else 0.0
    return correct / len(pairs)


def run_reward(
    config: TrainConfig,
    out: Path,
    train: TaskData,
    test: TaskData,
    targets: Targets,
    resuming: bool,
) -> tuple[list[ResultRow], FitRecord, RewardRecord]:
    """Train and score a reward model: the tidy rows, the fit record and the pair counts."""
    from elicit.commands.train import (
        BestOfN,
        RewardRecord,
        check_comparison,
        fit_record,
        result_rows,
        uid_hash,
        write_train_log,
    )
    from elicit.training.best_of_n import best_of_n
    from elicit.training.reward import RewardModel, pairwise_accuracy, train_reward_model

    check_comparison(train)
    labels = dict(zip((ex.uid for ex in targets.examples), targets.targets, strict=True))
    pairs, dropped = comparisons(targets.examples, labels)
    if not pairs:
        raise DataError(
            f"{targets.source}: no comparison pair has a preference ({dropped} pairs have "
            "labels that cancel: both orders True or both False); check the labels"
        )
    if dropped:
        log.warning(
            "%s: %d inconsistent pairs dropped (both orders labelled alike)",
            targets.source,
            dropped,
        )
    test_pairs, _ = comparisons(test.examples, {u: float(v) for u, v in test.gold.items()})
    gold_train, _ = comparisons(train.examples, {u: float(v) for u, v in train.gold.items()})
    gold_p = {p.uid: p.p_a_wins for p in gold_train}
    known = [p for p in pairs if p.uid in gold_p]
    agreement = (
        sum((p.p_a_wins > 0.5) == (gold_p[p.uid] > 0.5) for p in known) / len(known)
        if known
        else None
    )
    rows: list[ResultRow] = []
    if config.eval_before:
        lm = config.load_lm(progress=False)
        scores = bl.zero_shot_scores(
            lm, [ex.prompt for ex in test.examples], LabelSet(words=test.label_words)
        )
        lm.close()
        del lm
        acc0 = zero_shot_pairwise(
            {ex.uid: float(s) for ex, s in zip(test.examples, scores, strict=True)},
            test,
            test_pairs,
        )
        rows += result_rows(
            config, config.model, bl.ZERO_SHOT, len(test_pairs), {"pairwise_accuracy": acc0}
        )
    rm = RewardModel.load(
        config.model, seed=config.seed, device=config.device, max_length=config.max_length
    )
    result = train_reward_model(
        rm,
        pairs,
        config.fit_options(),
        out,
        seed=config.seed,
        resume=resuming,
        progress=config.progress,
        fingerprint={"uids": uid_hash(targets)},
    )
    write_train_log(out, result.fit.losses)
    rm.merge()
    acc = pairwise_accuracy(rm, test_pairs, config.lm_batch_size)
    rows += result_rows(
        config, config.model, config.method_name(), len(test_pairs), {"pairwise_accuracy": acc}
    )
    ra, rb = rm.score_pairs(test_pairs, config.lm_batch_size)
    atomic_write_jsonl(
        out / "predictions.jsonl",
        (
            {
                "pair": p.uid,
                "reward_a": float(a),
                "reward_b": float(b),
                "gold_a_wins": int(p.p_a_wins > 0.5),
            }
            for p, a, b in zip(test_pairs, ra, rb, strict=True)
        ),
    )
    best: BestOfN | None = None
    if config.best_of_n:
        policy = config.load_lm(progress=False)
        contexts = [p.context for p in test_pairs[: config.best_of_n_prompts]]
        gen = GenerationConfig(
            max_new_tokens=config.best_of_n_tokens, temperature=0.8, seed=config.seed
        )
        picks = best_of_n(policy, rm, contexts, config.best_of_n, gen)
        policy.close()
        atomic_write_jsonl(
            out / "best_of_n.jsonl",
            (
                {
                    "context": b.context,
                    "responses": list(b.responses),
                    "rewards": list(b.rewards),
                    "best": b.best_index,
                }
                for b in picks
            ),
        )
        best = BestOfN(
            n=config.best_of_n,
            mean_best_reward=float(np.mean([max(b.rewards) for b in picks])),
            mean_first_sample_reward=float(np.mean([b.rewards[0] for b in picks])),
        )
    record = RewardRecord(
        n_pairs=len(pairs),
        n_pairs_dropped=dropped,
        pair_label_agreement=agreement,
        n_test_pairs=len(test_pairs),
        best_of_n=best,
    )
    if config.save_model:
        rm.save(out / "reward_model")
    return rows, fit_record(result), record


__all__ = ["run_reward", "zero_shot_pairwise"]
