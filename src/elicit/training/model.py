"""Models to train: the causal LM behind `HFBackend`, sequence-classification models, LoRA.

    lm = load_causal_lm("gemma-3-270m")                 # an HFBackend with fp32 weights
    module = prepare(lm.model, FitOptions(), "CAUSAL_LM", seed=0)   # LoRA adapters added

Training the `HFBackend`'s own model means training sees exactly the token sequences scoring
sees (`PromptEncoder`: BOS once, the same pieces, left truncation), and the trained model is
scored afterwards by the very code `elicit eval` runs. Weights are fp32 by default on every
device; on CUDA the loop adds bf16 autocast (`loop.autocast_context`), the usual
mixed-precision recipe. `prepare` wraps a model in LoRA adapters with peft (in place: the
backend's model runs through the adapters) or, with --no-lora, unfreezes every weight.

Sequence-classification models (`load_sequence_model`) put a linear head on the last token:
num_labels=2 for the linear-head classifier, 1 for a reward model. The head is initialised from
`seed` inside `torch.random.fork_rng`, so the global RNG is never touched.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import torch

from elicit.backends.device import resolve_device, resolve_max_length
from elicit.backends.hf import HFBackend, HFTokenizer
from elicit.backends.prompting import PromptEncoder
from elicit.errors import BackendError, ConfigError
from elicit.models import resolve_model
from elicit.training.config import FitOptions

TaskType = Literal["CAUSAL_LM", "SEQ_CLS"]


def load_causal_lm(
    model: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    max_length: int | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> HFBackend:
    """An `HFBackend` ready for training: fp32 weights unless `dtype` says otherwise ("auto"
    means fp32 here, not the backend's bf16-on-CUDA: autocast does the bf16 part), no prefix
    cache (the weights change under it)."""
    return HFBackend(
        model,
        device=device,
        dtype="float32" if dtype == "auto" else dtype,
        batch_size=batch_size,
        max_length=max_length,
        progress=progress,
        prefix_cache_bytes=0,
    )


def prepare(module: Any, options: FitOptions, task_type: TaskType, *, seed: int) -> Any:
    """The module to optimise: `module` with LoRA adapters (peft), or `module` itself with
    every weight trainable (--no-lora). LoRA modifies `module` in place, so other references
    to it (the backend's `.model`) run through the adapters too."""
    if not options.lora:
        for p in module.parameters():
            p.requires_grad_(True)
        return module
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:  # pragma: no cover - the train extra installs peft
        raise BackendError(
            "LoRA needs the peft package; install the train extra (pip install 'elicit[train]') "
            "or pass --no-lora for full fine-tuning"
        ) from e
    targets: str | list[str] = options.lora_targets
    if targets != "all-linear":
        targets = [t.strip() for t in options.lora_targets.split(",") if t.strip()]
    config = LoraConfig(
        r=options.lora_r,
        lora_alpha=options.lora_alpha,
        lora_dropout=options.lora_dropout,
        target_modules=targets,
        task_type=task_type,  # SEQ_CLS also trains (and saves) the new head in full
    )
    with torch.random.fork_rng(devices=_cuda(module)), warnings.catch_warnings():
        # peft asks transformers a deprecated question (is_gradient_checkpointing); not ours.
        warnings.simplefilter("ignore", FutureWarning)
        torch.manual_seed(seed)  # LoRA's A matrices are drawn at random
        try:
            return get_peft_model(module, config)
        except ValueError as e:
            raise ConfigError(
                f"--lora-targets {options.lora_targets!r} does not fit this model ({e}); "
                "use all-linear or names of its linear layers (e.g. q_proj,v_proj)"
            ) from e


def merged(module: Any) -> Any:
    """The plain transformers model with LoRA folded into its weights (itself without LoRA)."""
    if hasattr(module, "merge_and_unload"):
        return module.merge_and_unload()
    return module


def is_peft(module: Any) -> bool:
    return hasattr(module, "merge_and_unload") and hasattr(module, "peft_config")


def _cuda(module: Any) -> list[torch.device]:
    first = next(module.parameters(), None)
    return [first.device] if first is not None and first.device.type == "cuda" else []


@dataclass
class SequenceModel:
    """A transformers sequence-classification model and how its inputs are encoded."""

    model: Any
    tokenizer: Any
    encoder: PromptEncoder
    device: torch.device
    pad_id: int
    name: str


def load_sequence_model(
    model: str,
    num_labels: int,
    *,
    seed: int,
    device: str = "auto",
    dtype: str = "auto",
    max_length: int | None = None,
) -> SequenceModel:
    """`AutoModelForSequenceClassification` from a causal LM checkpoint (or an exported reward
    model): the backbone's weights and a new linear head on the last token, drawn from `seed`.
    The pad token is set (the head reads the last non-pad token)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = resolve_model(model, progress=False)
    dev = resolve_device(device)
    torch_dtype = {"auto": torch.float32, "float32": torch.float32, "bfloat16": torch.bfloat16}
    if dtype not in torch_dtype:
        raise ConfigError(f"dtype {dtype!r} for training: use auto, float32 or bfloat16")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        # transformers reports the new head as "MISSING" and the unused LM head as
        # "UNEXPECTED" in a load report; both are expected here, so keep it quiet.
        verbosity = hf_logging.get_verbosity()
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                torch.manual_seed(seed)
                hf_model = AutoModelForSequenceClassification.from_pretrained(
                    path,
                    num_labels=num_labels,
                    dtype=torch_dtype[dtype],
                    pad_token_id=tokenizer.pad_token_id,
                )
        finally:
            hf_logging.set_verbosity(verbosity)
            if bar_was_on:
                hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as e:
        raise BackendError(
            f"could not load {model!r} as a sequence-classification model from {path}: {e}"
        ) from e
    hf_model.config.pad_token_id = tokenizer.pad_token_id
    hf_model.to(dev)
    hf_model.eval()
    limit = resolve_max_length(hf_model.config, max_length)
    encoder = PromptEncoder(HFTokenizer(tokenizer), limit, add_bos=True)
    return SequenceModel(
        model=hf_model,
        tokenizer=tokenizer,
        encoder=encoder,
        device=dev,
        pad_id=int(tokenizer.pad_token_id),
        name=model,
    )


def pad_left(
    seqs: list[list[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, position_ids) of left-padded sequences.

    Left padding puts every row's last token in the last column (where the label word is read
    and where a sequence-classification head pools); position ids count real tokens only, so a
    padded row sees the positions it would see alone, as in `HFBackend`.
    """
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
        mask[i, width - len(s) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


__all__ = [
    "SequenceModel",
    "TaskType",
    "is_peft",
    "load_causal_lm",
    "load_sequence_model",
    "merged",
    "pad_left",
    "prepare",
]
