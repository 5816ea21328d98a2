"""Saving trained models as plain transformers directories, written atomically.

- `save_adapter(peft_model, dir)`: the LoRA adapter alone (peft's adapter_config.json +
  adapter_model.safetensors); `load_adapter(base_model, dir)` puts it back on a base model.
- `export_model(model, tokenizer, dir)`: a full model directory (config, safetensors weights,
  tokenizer). For a fine-tuned causal LM (LoRA merged first) this is what
  `elicit eval --model DIR` and `elicit.backends.load_lm(DIR)` load; for a reward model it is
  the standard `AutoModelForSequenceClassification` layout (num_labels=1, pad token set in
  config and tokenizer) that TRL's reward-model consumers and `AutoModelFor...` load.

Every directory is written into a hidden sibling and renamed into place, so a crash never
leaves a half-saved model where a complete one is expected.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from elicit.runs import atomic_dir


def save_adapter(peft_model: Any, path: str | Path) -> Path:
    with atomic_dir(path) as stage:
        peft_model.save_pretrained(stage)
    return Path(path)


def load_adapter(base_model: Any, path: str | Path, *, trainable: bool = False) -> Any:
    """`base_model` wrapped with the LoRA adapter saved in `path` (peft)."""
    from peft import PeftModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # peft asks a deprecated transformers API
        return PeftModel.from_pretrained(base_model, str(path), is_trainable=trainable)


def export_model(model: Any, tokenizer: Any, path: str | Path) -> Path:
    """Save a plain (merged) transformers model and its tokenizer as one directory."""
    if hasattr(model, "peft_config"):
        raise ValueError("merge LoRA adapters before exporting (Classifier.merge / merged())")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    from transformers.utils import logging as hf_logging

    # transformers' "Writing model shards" bar, for one shard, would only add noise.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        with atomic_dir(path) as stage:
            model.save_pretrained(stage)
            tokenizer.save_pretrained(stage)
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    return Path(path)


__all__ = ["export_model", "load_adapter", "save_adapter"]
