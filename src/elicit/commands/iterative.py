"""Iterative fine-tuning across ICM batches (`elicit label --iterative`), as in the ICM paper.

A pool too large for one context is searched in batches (`search.batches`). Without
--iterative every batch is searched with the base model. With it, batch j + 1 is searched with
a model fine-tuned on the labels ICM gave batches 1..j:

    batch 1      ICM with the base model                      -> labels L1
    batch 2      fine-tune the base model on L1, ICM with it   -> labels L2
    batch j + 1  fine-tune the base model on L1..Lj, ICM with it

Each fine-tune starts from the base weights (not from the previous fine-tune), trains LoRA
adapters on the label words (`training.train_classifier`, default `FitOptions`), merges them
and searches with the merged model through the ordinary `HFBackend`, so the search code is
unchanged. Its checkpoints and adapter live in checkpoints/finetune-batch-NNN of the label run, so an
interrupted run resumes its fine-tunes too; the fine-tuning seed is the batch's search seed.
Gold labels are never used: the fine-tuning targets are ICM's own labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from elicit.backends.base import LM
from elicit.errors import ConfigError
from elicit.search.batches import batch_seed
from elicit.search.icm import SearchResult
from elicit.tasks.base import TaskData

if TYPE_CHECKING:
    from elicit.commands.label import LabelConfig
    from elicit.training.config import FitOptions


def labels_so_far(results: Sequence[SearchResult]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        out.update(r.labels)
    return out


def finetuned_lm(
    config: LabelConfig,
    data: TaskData,
    labels: Mapping[str, int],
    checkpoints: Path,
    batch: int,
    *,
    resume: bool,
    options: FitOptions | None = None,
) -> LM:
    """The base model fine-tuned on `labels` (uid -> ICM label), ready for the next search."""
    from elicit.backends import resolve_backend
    from elicit.training.classifier import train_classifier
    from elicit.training.config import FitOptions
    from elicit.training.model import load_causal_lm

    if resolve_backend(config.model, config.backend) != "hf":
        raise ConfigError(
            "--iterative fine-tunes the model, which needs the hf backend (a registered model, "
            "local directory or HF id); drop --iterative or use --backend hf"
        )
    examples = [ex for ex in data.examples if ex.uid in labels]
    if not examples:
        raise ConfigError(f"--iterative: no labelled examples before batch {batch + 1}")
    lm = load_causal_lm(
        config.model,
        device=config.device,
        dtype=config.dtype,
        max_length=config.max_length,
        batch_size=config.lm_batch_size,
    )
    result = train_classifier(
        lm,
        examples,
        [float(labels[ex.uid]) for ex in examples],
        options or FitOptions(),
        checkpoints / f"finetune-batch-{batch:03d}",
        seed=batch_seed(config.seed, batch),
        label_words=data.label_words,
        resume=resume,
        progress=config.progress,
    )
    result.classifier.merge()
    # The weights are final now, so the search may keep key/value states across calls again
    # (training loads the backend without that store, since weights change under it).
    lm.reset_prefix_store()
    return lm


__all__ = ["finetuned_lm", "labels_so_far"]
