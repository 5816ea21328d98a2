"""Data-parallel training under Hugging Face accelerate (or torchrun): one process per device.

    accelerate launch --num_processes 8 -m elicit train --task sst2 --labels runs/label/...
    accelerate launch --cpu --num_processes 2 -m elicit train ...      # the CPU smoke test

A single process (no launcher, or one process) runs `fit` exactly as before and never imports
accelerate. Under a launcher with WORLD_SIZE > 1, `DataParallel.detect()` creates the
`Accelerator` (it reads the launcher's environment: backend nccl on GPUs, gloo on CPU) and the
loop (`training.loop.train`):

- wraps the model with `accelerator.prepare_model` (DDP) and sends forward passes through the wrapper
  (the callers' `use_module` hook), so gradients are averaged across processes in backward;
- gives each process every W-th item of a global micro-batch of W x --train-batch-size items,
  so an optimizer step sees W times the data and the step count per epoch drops W-fold;
- skips gradient synchronisation on all but the last micro-batch of an accumulation;
- logs the loss averaged over processes;
- lets a loss that needs the whole optimizer batch (the confidence loss's threshold) see every
  process's share of it (`all_gather`, used by `training.classifier`);
- loads a checkpoint on the main process and broadcasts it; only the main process writes.

Run directories: only the main process writes the real one; the others write theirs into a
private temporary folder that is deleted at exit (`process_out_dir`), so locks, checkpoints
and result files have exactly one writer. Every process scores the evaluation sets itself
(the results are identical; only the main process's are kept).

FSDP and DeepSpeed are refused with a clear error: elicit's loop checkpoints only the
trainable weights of an unsharded model. LoRA on a model up to ~8B fits one 80 GB GPU, which is
what DDP replicates.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from elicit.backends.device import local_device, world_size
from elicit.errors import ConfigError

_SHARDED = {"FSDP", "DEEPSPEED", "MEGATRON_LM", "XLA"}
C = TypeVar("C")


def process_rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _group_initialised() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def group_size() -> int:
    """Processes in the running job's process group (1 when there is none)."""
    return torch.distributed.get_world_size() if _group_initialised() else 1


def group_rank() -> int:
    """This process's rank in the job's process group (its index in `all_gather`'s list)."""
    return torch.distributed.get_rank() if _group_initialised() else 0


def all_gather(obj: C) -> list[C]:
    """`obj` from every process of the job, in rank order (`[obj]` when it runs alone)."""
    if group_size() < 2:
        return [obj]
    out: list[Any] = [None] * group_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def is_main_process() -> bool:
    return process_rank() == 0


def process_out_dir(out: Path) -> Path:
    """`out` on the main process; elsewhere a private temporary folder removed at exit."""
    if is_main_process():
        return out
    scratch = Path(tempfile.mkdtemp(prefix=f"elicit-rank{process_rank()}-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch / out.name


def process_config(config: C) -> C:
    """A run config as this process should run it: unchanged on the main process; elsewhere
    writing a fresh run in a private scratch folder, quietly (see the module docs)."""
    if world_size() < 2 or is_main_process():
        return config
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {"out": str(process_out_dir(config.out_dir()))}  # type: ignore[attr-defined]
    changes.update({k: False for k in ("progress", "resume", "force") if k in names})
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


@dataclass
class DataParallel:
    """This process's share of a data-parallel job (see the module docs)."""

    accelerator: Any
    rank: int
    world: int

    @classmethod
    def detect(cls) -> DataParallel | None:
        """The job this process belongs to, or None when it runs alone."""
        if world_size() < 2:
            return None
        try:
            from accelerate import Accelerator
        except ImportError as e:  # the hf extra installs it
            raise ConfigError(
                "training under a multi-process launcher needs accelerate: "
                "pip install 'accelerate>=0.30'"
            ) from e
        accelerator = Accelerator()
        kind = str(accelerator.distributed_type).rsplit(".", 1)[-1]
        if kind in _SHARDED:
            raise ConfigError(
                f"accelerate is configured for {kind}; elicit trains data-parallel (DDP) only. "
                "Run `accelerate config` and choose multi-GPU (or multi-CPU) without FSDP/"
                "DeepSpeed, or pass --num_processes with no --config_file"
            )
        return cls(accelerator, accelerator.process_index, accelerator.num_processes)

    @property
    def is_main(self) -> bool:
        return bool(self.accelerator.is_main_process)

    def wrap(self, model: torch.nn.Module) -> Any:
        """The DDP module forward passes go through (the optimizer keeps `model`'s tensors)."""
        return self.accelerator.prepare_model(model)

    def shard(self, indices: list[int]) -> list[int]:
        """This process's items of a global micro-batch."""
        return indices[self.rank :: self.world]

    def mean(self, value: float, device: torch.device) -> float:
        t = torch.tensor([value], dtype=torch.float64, device=device)
        return float(self.accelerator.reduce(t, reduction="mean").item())

    def broadcast(self, obj: Any) -> Any:
        """The main process's `obj` on every process."""
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()


def maybe_sync(
    parallel: DataParallel | None, wrapped: Any, sync: bool
) -> contextlib.AbstractContextManager[Any]:
    """No gradient all-reduce on this backward unless `sync` (data-parallel runs only)."""
    if parallel is None or sync:
        return contextlib.nullcontext()
    ctx: contextlib.AbstractContextManager[Any] = parallel.accelerator.no_sync(wrapped)
    return ctx


__all__ = [
    "DataParallel",
    "is_main_process",
    "local_device",
    "maybe_sync",
    "process_config",
    "process_out_dir",
    "process_rank",
    "world_size",
]
