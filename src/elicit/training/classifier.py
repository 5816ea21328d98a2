"""Fine-tune a model into a True/False classifier of claims, from soft or hard targets.

    from elicit.training import FitOptions, train_classifier
    result = train_classifier("gemma-3-270m", examples, targets, FitOptions(epochs=2),
                              "runs/train/x", seed=0)
    p_true = result.classifier.predict_proba([ex.prompt for ex in test_examples])

Two ways to read a class off a claim prompt (`objective`):

- "word" (default, the paper's setup): the model's next-token logits after "...I think this
  claim is", gathered at the label words. Class logit k is the logsumexp of the raw logits of
  every single-token spelling of word k (" True", "True", " true", ...: `LabelSet` variants),
  so the trained log-odds logit[1] - logit[0] is exactly what `HFBackend.score` returns: the
  fine-tuned model's zero-shot accuracy under `elicit eval` is the classifier's accuracy.
- "linear": a new linear head on the last token's hidden state
  (`AutoModelForSequenceClassification`, num_labels=2), as in weak-to-strong.

Targets are P(True) per example; `loss(logits (B, 2), targets (B,), step_frac)` defaults to
soft cross-entropy (`losses`). A loss that thresholds over its batch (`losses.BatchLoss`, the
weak-to-strong confidence loss) gets the whole optimizer step: with `grad_accum` > 1, or
several data-parallel processes, its targets are computed over all the step's micro-batches of
all processes first, so the result does not depend on how the step is split. Training goes through the shared loop (`loop.train`): LoRA or
full, accumulation, checkpoints under `out_dir/checkpoints`, `resume`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from elicit.backends.base import LabelSet
from elicit.backends.hf import HFBackend
from elicit.errors import ConfigError
from elicit.tasks.base import Example
from elicit.training.config import FitOptions
from elicit.training.distributed import all_gather, group_rank, group_size
from elicit.training.export import save_adapter
from elicit.training.loop import FitResult, FitRun, FitTask, checkpoints_in, train
from elicit.training.losses import BatchLoss, ClassifierLoss, soft_cross_entropy
from elicit.training.model import (
    SequenceModel,
    TaskType,
    is_peft,
    load_causal_lm,
    load_sequence_model,
    merged,
    pad_left,
    prepare,
)

Objective = Literal["word", "linear"]
#: A training micro-batch: token ids, targets, and whether those are already the loss's final
#: targets (computed over the whole optimizer step, see `train_classifier`).
_Batch = tuple[list[list[int]], torch.Tensor, bool]
OBJECTIVES = ("word", "linear")


class Classifier:
    """A (possibly training) model that maps claim prompts to two class logits.

    lm: for the "word" objective, the backend whose model is trained (its tokens, device);
    seq: for "linear", the sequence-classification model. `module` is what is optimised (the
    model itself, or its peft wrapper while LoRA adapters are unmerged).
    """

    def __init__(
        self,
        objective: Objective,
        *,
        lm: HFBackend | None = None,
        seq: SequenceModel | None = None,
        label_words: tuple[str, ...] = (" False", " True"),
    ) -> None:
        if (objective == "word") != (lm is not None) or (objective == "linear") != (
            seq is not None
        ):
            raise ConfigError(
                "a 'word' classifier needs an HFBackend, a 'linear' one a SequenceModel"
            )
        self.objective = objective
        self.lm = lm
        self.seq = seq
        self.module: Any = lm.model if lm is not None else seq.model  # type: ignore[union-attr]
        self.label_ids: list[list[int]] = []
        if lm is not None:
            variants = lm.encoder.label_variants(LabelSet(words=label_words))
            if len(variants) != 2 or any(len(s) != 1 for seqs in variants for s in seqs):
                raise ConfigError(
                    f"label-word training needs two single-token label words, got {label_words!r} "
                    "for this tokenizer; use --objective linear"
                )
            self.label_ids = [[s[0] for s in seqs] for seqs in variants]

    @property
    def device(self) -> torch.device:
        return self.lm.device if self.lm is not None else self.seq.device  # type: ignore[union-attr]

    def encode(self, prompt: str) -> list[int]:
        encoder = self.lm.encoder if self.lm is not None else self.seq.encoder  # type: ignore[union-attr]
        return encoder.encode(prompt)

    def logits_of(self, seqs: list[list[int]]) -> torch.Tensor:
        """(B, 2) class logits of encoded prompts (with gradients when the module trains)."""
        pad = self.lm.pad_id if self.lm is not None else self.seq.pad_id  # type: ignore[union-attr]
        ids, mask, positions = pad_left(seqs, pad, self.device)
        if self.objective == "linear":
            out: torch.Tensor = self.module(
                input_ids=ids, attention_mask=mask, position_ids=positions
            ).logits
            return out.float()
        # Left padding: the last column is every row's last prompt token, whose logits predict
        # the label word; logits_to_keep=1 avoids a (B, T, vocabulary) tensor.
        last = (
            self.module(
                input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1
            )
            .logits[:, -1, :]
            .float()
        )
        return torch.stack(
            [torch.logsumexp(last[:, ids_k], dim=-1) for ids_k in self.label_ids], dim=-1
        )

    def predict_logits(self, prompts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """(n, 2) class logits, in eval mode and without gradients."""
        was_training = self.module.training
        self.module.eval()
        seqs = [self.encode(p) for p in prompts]
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))  # less padding
        out = np.zeros((len(seqs), 2))
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    out[idx] = self.logits_of([seqs[i] for i in idx]).cpu().double().numpy()
        finally:
            self.module.train(was_training)
        return out

    def scores(self, prompts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """log-odds logit[True] - logit[False] per prompt (elicit's score convention)."""
        lg = self.predict_logits(prompts, batch_size)
        return np.asarray(lg[:, 1] - lg[:, 0], dtype=np.float64)

    def predict_proba(self, prompts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """P(True) per prompt."""
        return np.asarray(1.0 / (1.0 + np.exp(-self.scores(prompts, batch_size))), dtype=np.float64)

    def merge(self) -> None:
        """Fold LoRA adapters into the weights (the backend's model becomes a plain model)."""
        self.module = merged(self.module)
        if self.lm is not None:
            self.lm.model = self.module
        elif self.seq is not None:
            self.seq.model = self.module
        self.module.eval()


@dataclass
class TrainResult:
    """A trained classifier and what its training did."""

    classifier: Classifier
    fit: FitResult
    out_dir: Path | None
    n_train: int

    @property
    def losses(self) -> tuple[float, ...]:
        return self.fit.losses


ClassifierEval = Callable[[Classifier, int], Mapping[str, float]]


def make_classifier(
    model: str | HFBackend | SequenceModel | Classifier,
    objective: Objective = "word",
    *,
    seed: int = 0,
    label_words: tuple[str, ...] = (" False", " True"),
    device: str = "auto",
    max_length: int | None = None,
) -> Classifier:
    """A `Classifier` for a model name/path (loaded for training) or an already loaded model."""
    if isinstance(model, Classifier):
        return model
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if objective == "word":
        if isinstance(model, SequenceModel):
            raise ConfigError("a sequence-classification model cannot use the 'word' objective")
        lm = (
            model
            if isinstance(model, HFBackend)
            else load_causal_lm(model, device=device, max_length=max_length)
        )
        return Classifier("word", lm=lm, label_words=label_words)
    if isinstance(model, HFBackend):
        raise ConfigError("the 'linear' objective needs a model name/path or a SequenceModel")
    seq = (
        model
        if isinstance(model, SequenceModel)
        else load_sequence_model(model, 2, seed=seed, device=device, max_length=max_length)
    )
    return Classifier("linear", seq=seq)


def train_classifier(
    model: str | HFBackend | SequenceModel | Classifier,
    examples: Sequence[Example] | Sequence[str],
    targets: Sequence[float],
    config: FitOptions,
    out_dir: str | Path | None = None,
    *,
    seed: int = 0,
    objective: Objective = "word",
    label_words: tuple[str, ...] = (" False", " True"),
    loss: ClassifierLoss = soft_cross_entropy,
    eval_fn: ClassifierEval | None = None,
    resume: bool = False,
    progress: bool = True,
    fingerprint: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Fine-tune `model` to predict `targets` (P(True) per example) from the claim prompts.

    model: a registered name, HF id or local path (loaded fp32 on the default device), an
        `HFBackend` (its model is trained in place), a `SequenceModel` or a `Classifier`.
    out_dir: checkpoints go to out_dir/checkpoints and the LoRA adapter to out_dir/adapter
        (None: nothing is written, no resume).
    eval_fn: `eval_fn(classifier, step) -> metrics`, called every `config.eval_every` steps
        and at the end, in eval mode; the metrics land in `result.fit.history`.
    The LoRA adapters stay unmerged; call `result.classifier.merge()` before exporting.
    """
    prompts = [ex.prompt if isinstance(ex, Example) else str(ex) for ex in examples]
    if len(prompts) != len(targets):
        raise ConfigError(
            f"{len(prompts)} examples but {len(targets)} targets; pass one per example"
        )
    if any(not 0.0 <= float(t) <= 1.0 for t in targets):
        raise ConfigError("targets must be probabilities of True in [0, 1]")
    clf = make_classifier(model, objective, seed=seed, label_words=label_words)
    task_type: TaskType = "CAUSAL_LM" if clf.objective == "word" else "SEQ_CLS"
    if not is_peft(clf.module):
        clf.module = prepare(clf.module, config, task_type, seed=seed)
    seqs = [clf.encode(p) for p in prompts]
    target_t = torch.tensor([float(t) for t in targets], dtype=torch.float32)

    def make_batch(indices: Sequence[int]) -> _Batch:
        return [seqs[i] for i in indices], target_t[list(indices)], False

    def prepare_step(batches: list[_Batch], frac: float) -> list[_Batch]:
        """With accumulation or data parallelism, a `BatchLoss`'s targets over the whole
        optimizer step: one extra forward pass without gradients gives the student's P(True)
        on every micro-batch (the released code keeps every micro-batch's graph instead,
        holding the whole batch's activations at once), and every process's share is gathered.
        One micro-batch in one process is the whole step: the loss sees it all."""
        if not isinstance(loss, BatchLoss):
            return batches
        if group_size() == 1 and len(batches) == 1:
            return batches
        with torch.no_grad():
            p_true = torch.cat(
                [torch.softmax(clf.logits_of(b[0]), dim=-1)[:, 1].cpu() for b in batches]
            )
        targets = torch.cat([b[1] for b in batches])
        shares = all_gather((p_true, targets))  # every process's part of the step, rank order
        mixed = loss.step_targets(
            torch.cat([p for p, _ in shares]), torch.cat([t for _, t in shares]), frac
        ).cpu()
        start = sum(len(p) for p, _ in shares[: group_rank()])
        own = mixed[start : start + len(p_true)]
        parts = torch.split(own, [len(b[0]) for b in batches])
        return [(b[0], part, True) for b, part in zip(batches, parts, strict=True)]

    def step_loss(batch: _Batch, frac: float) -> torch.Tensor:
        batch_seqs, batch_targets, final = batch
        logits = clf.logits_of(batch_seqs)
        if final:
            return soft_cross_entropy(logits, batch_targets.to(clf.device), frac)
        return loss(logits, batch_targets.to(clf.device), frac)

    out = Path(out_dir) if out_dir is not None else None
    task = FitTask(
        clf.module,
        len(seqs),
        make_batch,
        step_loss,
        prepare_step=prepare_step,
        use_module=lambda module: setattr(clf, "module", module),
    )
    run = FitRun(
        seed=seed,
        device=clf.device,
        checkpoint_dir=checkpoints_in(out),
        resume=resume,
        fingerprint={"objective": clf.objective, "n": len(seqs), **(fingerprint or {})},
        eval_fn=(lambda step: eval_fn(clf, step)) if eval_fn is not None else None,
        progress=progress,
        desc=f"fine-tuning ({clf.objective})",
    )
    result = train(task, config, run)
    if out is not None and is_peft(clf.module):
        save_adapter(clf.module, out / "adapter")
    return TrainResult(classifier=clf, fit=result, out_dir=out, n_train=len(seqs))


__all__ = [
    "OBJECTIVES",
    "Classifier",
    "ClassifierEval",
    "Objective",
    "TrainResult",
    "make_classifier",
    "train_classifier",
]
