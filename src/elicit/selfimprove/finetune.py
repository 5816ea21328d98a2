"""The one seam between self-improvement and fine-tuning: train on (prompt, completion) pairs.

`finetune` hands LMSI's four-format training examples to `elicit.training.sft` (completion
SFT, loss on completion tokens only, LoRA or full) and returns the fine-tuned model as an `LM`
ready for the "after" evaluation. Everything else in `elicit.selfimprove` is independent of how
training is done; a different trainer plugs in by replacing this function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicit.backends.base import LM
from elicit.errors import ConfigError
from elicit.selfimprove.prompts import TrainingExample


@dataclass(frozen=True)
class Finetuned:
    lm: LM
    n_train: int
    steps: int
    final_loss: float | None
    model_dir: Path | None  # full merged model (only with save_model)
    adapter_dir: Path | None


def finetune(
    model: str,
    examples: Sequence[TrainingExample],
    fit_options: Any,
    out_dir: Path,
    *,
    seed: int,
    device: str = "auto",
    save_model: bool = False,
    progress: bool = True,
) -> Finetuned:
    """Fine-tune `model` (a name, HF id or directory) on `examples`; adapters go to `out_dir`.

    fit_options: an `elicit.training.config.FitOptions`. With LoRA the adapter is merged into
    the weights before evaluation (same outputs, plain forward passes). save_model writes the
    merged model to out_dir/model, loadable with `elicit.backends.load_lm(path)`.
    """
    try:
        from elicit.training.sft import Completion, train_completions
    except ImportError as e:
        raise ConfigError(
            f"fine-tuning needs the training extra ({e}); pip install 'elicit[train]', or pass "
            "--no-finetune to stop after writing train.jsonl"
        ) from e
    items = [Completion(ex.prompt, ex.completion) for ex in examples]
    result = train_completions(
        model,
        items,
        fit_options,
        out_dir,
        seed=seed,
        progress=progress,
        device=device,
    )
    result.merge()
    model_dir = None
    if save_model:
        model_dir = result.export(out_dir / "model")
    adapter = out_dir / "adapter"
    losses = result.fit.losses
    return Finetuned(
        lm=result.lm,
        n_train=result.n_train,
        steps=result.fit.steps,
        final_loss=losses[-1] if losses else None,
        model_dir=model_dir,
        adapter_dir=adapter if adapter.exists() else None,
    )
