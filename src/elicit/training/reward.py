"""Reward models from comparison labels (Bradley-Terry), and their pairwise accuracy.

    pairs, _ = comparisons(train.examples, labels)           # from ICM, golden, random labels
    result = train_reward_model("gemma-3-270m", pairs, FitOptions(), out / "rm", seed=0)
    acc = pairwise_accuracy(result.reward_model, test_pairs)
    result.reward_model.save(out / "reward_model")            # AutoModelForSequenceClassification

A reward model r(x, y) is the LM with a scalar head on the last token
(`AutoModelForSequenceClassification`, num_labels=1). On a pair (x, a, b) with P(a wins) = p it
minimises -[p log sigma(r(x, a) - r(x, b)) + (1 - p) log sigma(r(x, b) - r(x, a))]
(`losses.bradley_terry`). Texts are tokenised the way reward-model consumers do it
(`tokenizer(text)`: special tokens added, truncated from the left to keep the reply), so the
exported directory gives the same rewards when TRL or plain transformers load it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from elicit.errors import ConfigError
from elicit.training.config import FitOptions
from elicit.training.data import Comparison, reward_text
from elicit.training.export import export_model, save_adapter
from elicit.training.loop import FitResult, FitRun, FitTask, checkpoints_in, train
from elicit.training.losses import bradley_terry
from elicit.training.model import (
    SequenceModel,
    is_peft,
    load_sequence_model,
    merged,
    pad_left,
    prepare,
)


class RewardModel:
    """A scalar-head model scoring texts; `module` is what trains (maybe a peft wrapper)."""

    def __init__(self, seq: SequenceModel) -> None:
        if seq.model.config.num_labels != 1:
            raise ConfigError(
                f"a reward model has one output, {seq.name!r} has {seq.model.config.num_labels}"
            )
        self.seq = seq
        self.module: Any = seq.model
        # Keep the reply when a long conversation must be cut: drop tokens from the left.
        self.seq.tokenizer.truncation_side = "left"

    @classmethod
    def load(
        cls, model: str, *, seed: int = 0, device: str = "auto", max_length: int | None = None
    ) -> RewardModel:
        """A base LM with a fresh head (from `seed`), or an exported reward model as saved."""
        return cls(load_sequence_model(model, 1, seed=seed, device=device, max_length=max_length))

    def encode(self, text: str) -> list[int]:
        ids = self.seq.tokenizer(
            text, add_special_tokens=True, truncation=True, max_length=self.seq.encoder.max_length
        ).input_ids
        return [int(i) for i in ids]

    def rewards_of(self, seqs: list[list[int]]) -> torch.Tensor:
        ids, mask, positions = pad_left(seqs, self.seq.pad_id, self.seq.device)
        out: torch.Tensor = self.module(
            input_ids=ids, attention_mask=mask, position_ids=positions
        ).logits
        return out[:, 0].float()

    def rewards(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """r(text) per text, in eval mode, without gradients."""
        was_training = self.module.training
        self.module.eval()
        seqs = [self.encode(t) for t in texts]
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        out = np.zeros(len(seqs))
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    out[idx] = self.rewards_of([seqs[i] for i in idx]).cpu().double().numpy()
        finally:
            self.module.train(was_training)
        return out

    def score_pairs(
        self, pairs: Sequence[Comparison], batch_size: int = 8
    ) -> tuple[np.ndarray, np.ndarray]:
        texts = [reward_text(p.context, r) for p in pairs for r in (p.response_a, p.response_b)]
        r = self.rewards(texts, batch_size)
        return r[0::2], r[1::2]

    def merge(self) -> None:
        self.module = merged(self.module)
        self.seq.model = self.module
        self.module.eval()

    def save(self, path: str | Path) -> Path:
        """Export as a standard sequence-classification directory (LoRA merged first)."""
        if is_peft(self.module):
            self.merge()
        return export_model(self.module, self.seq.tokenizer, path)


def pairwise_accuracy(rm: RewardModel, pairs: Sequence[Comparison], batch_size: int = 8) -> float:
    """Share of pairs whose preferred response gets the higher reward (ties count half)."""
    decided = [p for p in pairs if p.p_a_wins != 0.5]
    if not decided:
        return float("nan")
    ra, rb = rm.score_pairs(decided, batch_size)
    a_wins = np.array([p.p_a_wins > 0.5 for p in decided])
    margin = np.where(a_wins, ra - rb, rb - ra)
    return float(np.mean((margin > 0) + 0.5 * (margin == 0)))


@dataclass
class RewardTrainResult:
    reward_model: RewardModel
    fit: FitResult
    out_dir: Path | None
    n_train: int


def train_reward_model(
    model: str | SequenceModel | RewardModel,
    pairs: Sequence[Comparison],
    config: FitOptions,
    out_dir: str | Path | None = None,
    *,
    seed: int = 0,
    eval_fn: Callable[[RewardModel, int], Mapping[str, float]] | None = None,
    resume: bool = False,
    progress: bool = True,
    device: str = "auto",
    fingerprint: Mapping[str, Any] | None = None,
) -> RewardTrainResult:
    """Train a Bradley-Terry reward model on `pairs` (one pair per micro-batch item: both
    responses go through the model in the same forward pass)."""
    if not pairs:
        raise ConfigError("no comparison pairs to train the reward model on")
    if isinstance(model, RewardModel):
        rm = model
    elif isinstance(model, SequenceModel):
        rm = RewardModel(model)
    else:
        rm = RewardModel.load(model, seed=seed, device=device)
    if not is_peft(rm.module):
        rm.module = prepare(rm.module, config, "SEQ_CLS", seed=seed)
    encoded = [
        (
            rm.encode(reward_text(p.context, p.response_a)),
            rm.encode(reward_text(p.context, p.response_b)),
        )
        for p in pairs
    ]
    probs = torch.tensor([p.p_a_wins for p in pairs], dtype=torch.float32)

    def make_batch(indices: Sequence[int]) -> tuple[list[list[int]], torch.Tensor]:
        seqs = [s for i in indices for s in encoded[i]]  # a0, b0, a1, b1, ...
        return seqs, probs[list(indices)]

    def step_loss(batch: tuple[list[list[int]], torch.Tensor], frac: float) -> torch.Tensor:
        seqs, p = batch
        r = rm.rewards_of(seqs)
        return bradley_terry(r[0::2], r[1::2], p.to(r.device))

    out = Path(out_dir) if out_dir is not None else None
    task = FitTask(
        rm.module,
        len(pairs),
        make_batch,
        step_loss,
        use_module=lambda module: setattr(rm, "module", module),
    )
    run = FitRun(
        seed=seed,
        device=rm.seq.device,
        checkpoint_dir=checkpoints_in(out),
        resume=resume,
        fingerprint={"objective": "reward", "n": len(pairs), **(fingerprint or {})},
        eval_fn=(lambda step: eval_fn(rm, step)) if eval_fn is not None else None,
        progress=progress,
        desc="reward model",
    )
    result = train(task, config, run)
    if out is not None and is_peft(rm.module):
        save_adapter(rm.module, out / "adapter")
    return RewardTrainResult(reward_model=rm, fit=result, out_dir=out, n_train=len(pairs))


__all__ = ["RewardModel", "RewardTrainResult", "pairwise_accuracy", "train_reward_model"]
