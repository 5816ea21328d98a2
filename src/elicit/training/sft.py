"""Supervised fine-tuning on (prompt, completion) pairs, loss on the completion tokens only.

    result = train_completions("gemma-3-270m", [Completion(q, cot) for q, cot in kept],
                               FitOptions(epochs=1), out / "sft", seed=0)
    result.lm.generate([...], GenerationConfig())   # the backend generates with the new weights

For self-training (LMSI keeps majority-vote chains of thought and fine-tunes on them) and any
other prompt -> completion data. The prompt is encoded exactly as the backend encodes prompts
for generation (`PromptEncoder`: BOS once, left truncation), the completion follows with the
end-of-text token, and only completion tokens carry loss (the mean token cross-entropy of
the batch).

The off-by-one, with left padding so every row's completion ends in the last column:

    kept columns   ... | p_last  c_1   c_2  ...  c_n       (K = longest completion + 1 kept)
    logits at      ... | ->c_1  ->c_2  ...  ->c_n  ->next
    the logits in kept column j predict the token in column j + 1, so the loss pairs
    logits[:, :-1] with tokens[:, 1:], masked to the completion tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from elicit.backends.hf import HFBackend
from elicit.errors import ConfigError
from elicit.training.config import FitOptions
from elicit.training.export import save_adapter
from elicit.training.loop import FitResult, FitRun, FitTask, checkpoints_in, train
from elicit.training.model import is_peft, load_causal_lm, merged, pad_left, prepare

IGNORE = -100


@dataclass(frozen=True)
class Completion:
    prompt: str
    completion: str


@dataclass
class SFTResult:
    """`lm` is the backend whose model was trained (LoRA unmerged until `merge()`)."""

    lm: HFBackend
    module: Any
    fit: FitResult
    out_dir: Path | None
    n_train: int

    def merge(self) -> None:
        self.module = merged(self.module)
        self.lm.model = self.module
        self.module.eval()

    def export(self, path: Path) -> Path:
        """Write the trained model (merge() first for LoRA) with its tokenizer to `path`: a
        directory any elicit command loads as --model."""
        from elicit.training.export import export_model

        # The backend keeps its tokenizer privately; the directory needs it next to the weights.
        return export_model(self.module, self.lm.hf_tokenizer, path)


def encode_completion(
    lm: HFBackend, item: Completion, *, add_eos: bool = True
) -> tuple[list[int], int]:
    """(token ids of prompt + completion, number of completion tokens)."""
    cont = lm.encoder.tokens(item.completion)
    eos: int | None = lm.eos_ids if isinstance(lm.eos_ids, int) else None
    if isinstance(lm.eos_ids, list) and lm.eos_ids:
        eos = lm.eos_ids[0]  # several end ids (chat models): the first ends a reply
    if add_eos and eos is not None:
        cont = [*cont, int(eos)]
    if not cont:
        raise ConfigError(f"empty completion for prompt {item.prompt[:60]!r}")
    if len(cont) >= lm.max_length - 1:
        raise ConfigError(
            f"a completion of {len(cont)} tokens does not fit the context of {lm.max_length}; "
            "shorten it or raise --max-length"
        )
    ctx = lm.encoder.encode(item.prompt, reserve=len(cont))
    return ctx + cont, len(cont)


def completion_loss(
    module: Any, lm: HFBackend, batch: Sequence[tuple[list[int], int]]
) -> torch.Tensor:
    """Mean cross-entropy of the completion tokens of `batch` under `module`."""
    seqs = [s for s, _ in batch]
    ids, mask, positions = pad_left(seqs, lm.pad_id, lm.device)
    keep = max(n for _, n in batch) + 1
    logits = module(
        input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep
    ).logits.float()
    targets = torch.full((len(batch), keep), IGNORE, dtype=torch.long, device=lm.device)
    for i, (s, n) in enumerate(batch):
        targets[i, keep - n :] = torch.tensor(s[-n:], dtype=torch.long)
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]),
        targets[:, 1:].reshape(-1),
        ignore_index=IGNORE,
    )


def train_completions(
    model: str | HFBackend,
    items: Sequence[Completion],
    config: FitOptions,
    out_dir: str | Path | None = None,
    *,
    seed: int = 0,
    add_eos: bool = True,
    eval_fn: Callable[[HFBackend, int], Mapping[str, float]] | None = None,
    resume: bool = False,
    progress: bool = True,
    device: str = "auto",
) -> SFTResult:
    """Fine-tune a causal LM on `items` (see the module docstring)."""
    if not items:
        raise ConfigError("no (prompt, completion) pairs to fine-tune on")
    lm = model if isinstance(model, HFBackend) else load_causal_lm(model, device=device)
    module = prepare(lm.model, config, "CAUSAL_LM", seed=seed)
    encoded = [encode_completion(lm, it, add_eos=add_eos) for it in items]

    def make_batch(indices: Sequence[int]) -> list[tuple[list[int], int]]:
        return [encoded[i] for i in indices]

    forward = [module]  # the module forward passes go through (DDP's wrapper when parallel)

    def step_loss(batch: list[tuple[list[int], int]], frac: float) -> torch.Tensor:
        return completion_loss(forward[0], lm, batch)

    out = Path(out_dir) if out_dir is not None else None
    task = FitTask(
        module,
        len(encoded),
        make_batch,
        step_loss,
        use_module=lambda m: forward.__setitem__(0, m),
    )
    run = FitRun(
        seed=seed,
        device=lm.device,
        checkpoint_dir=checkpoints_in(out),
        resume=resume,
        fingerprint={"objective": "sft", "n": len(encoded), "add_eos": add_eos},
        eval_fn=(lambda step: eval_fn(lm, step)) if eval_fn is not None else None,
        progress=progress,
        desc="fine-tuning (completions)",
    )
    result = train(task, config, run)
    if out is not None and is_peft(module):
        save_adapter(module, out / "adapter")
    return SFTResult(lm=lm, module=module, fit=result, out_dir=out, n_train=len(encoded))


__all__ = ["Completion", "SFTResult", "completion_loss", "encode_completion", "train_completions"]
