"""Where a model runs: its torch device, weight dtype and context length, from user options.

    resolve_device("auto")                     # cuda:LOCAL_RANK under a launcher, else cuda/cpu
    resolve_dtype("auto", device)              # bf16 on CUDA, fp32 on CPU
    resolve_max_length(model.config, None)     # the model's positions, capped at 8192

The transformers backend (`hf`) and training (`training.model`, which loads models to train
the same way) both resolve `--device`, `--dtype` and `--max-length` here, so "auto" means the
same thing to both. CUDA is queried when a function is called, never at import time.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from elicit.errors import BackendError, ConfigError

#: Default cap on the context when the model allows more: attention memory and time grow with
#: length, and ICM's prompts (a batch of ~256 short claims) rarely need more than this.
MAX_LENGTH_CAP = 8192

#: --dtype names and the torch dtypes they stand for ("auto" is resolved per device).
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def world_size() -> int:
    """Processes in this job, from the launcher's environment (1 without a launcher)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def local_device(device: torch.device) -> torch.device:
    """A bare "cuda" device becomes this process's GPU (cuda:LOCAL_RANK) under a launcher."""
    local = os.environ.get("LOCAL_RANK")
    if device.type == "cuda" and device.index is None and local is not None and world_size() > 1:
        return torch.device("cuda", int(local))
    return device


def resolve_device(device: str) -> torch.device:
    """The torch device of `--device`: auto (this process's GPU if CUDA is there, else the
    CPU), or any torch device name; CUDA asked for where there is none is refused."""
    if device == "auto":
        # Queried here, at construction, never at import time. Under a multi-process launcher
        # each process takes its own GPU (cuda:LOCAL_RANK).
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return local_device(torch.device("cuda"))
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise ConfigError(
            f"device {device!r} is not a torch device ({e}); use auto/cpu/cuda"
        ) from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(f"device {device!r} asked for, but CUDA is not available; use cpu")
    return dev


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The weight dtype of `--dtype` on `device` (auto: bf16 on CUDA, fp32 elsewhere)."""
    if dtype == "auto":
        # bf16 halves memory and is fast on GPUs; on CPU it is slow and loses precision.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r} is not one of auto, {', '.join(DTYPES)}")
    return DTYPES[dtype]


def resolve_max_length(config: Any, requested: int | None) -> int:
    """The context length for a transformers model `config`: `requested` if the model has that
    many positions, else (None) its positions capped at `MAX_LENGTH_CAP`."""
    limit = getattr(config, "max_position_embeddings", None)
    if requested is None:
        return min(int(limit), MAX_LENGTH_CAP) if limit else MAX_LENGTH_CAP
    if limit and requested > int(limit):
        raise ConfigError(
            f"max_length {requested} exceeds the model's {limit} positions; pass at most {limit}"
        )
    return requested


__all__ = [
    "DTYPES",
    "MAX_LENGTH_CAP",
    "local_device",
    "resolve_device",
    "resolve_dtype",
    "resolve_max_length",
    "world_size",
]
