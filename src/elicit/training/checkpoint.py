"""Training checkpoints that can be resumed without running code from the file.

A checkpoint is two files in the checkpoint folder:

    checkpoint.json                 fingerprint, step, losses, history, scheduler and optimizer
                                    settings, and the name and SHA-256 of the tensor file
    checkpoint-<step>.safetensors   the trainable weights and the optimizer's tensors

Why not `torch.save`: a `.pt` file is a pickle, and unpickling runs whatever the file says, so
resuming a run directory someone else wrote (a shared filesystem, a downloaded run) would run
their code. JSON and safetensors are data only. The JSON is read first and its fingerprint
checked before the tensor file is opened at all; the tensor file must then hash to what the
JSON records. The tensor file is named after its step and written before the JSON that points
at it, so a crash between the two leaves the previous, complete pair in place.

A `checkpoint.pt` left by an older elicit is never opened: resuming from it is refused with
the fix (`--force` starts over).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from elicit.errors import ConfigError
from elicit.runs import atomic_write, atomic_write_json

CHECKPOINT_FILE = "checkpoint.json"
#: What older elicit versions wrote (a pickle); refused, never unpickled.
LEGACY_FILE = "checkpoint.pt"
FORMAT = "elicit-train-checkpoint/1"
_TENSOR_NAME = re.compile(r"checkpoint-\d{6,}\.safetensors")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(value: Any, where: str) -> Any:
    """`value` as JSON data (tuples become lists); anything else is a bug, not user input."""
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    raise TypeError(f"{where}: cannot store {type(value).__name__} in a checkpoint's JSON")


def save_checkpoint(
    folder: Path,
    *,
    step: int,
    trainable: Mapping[str, torch.Tensor],
    optimizer: Mapping[str, Any],
    scheduler: Mapping[str, Any],
    losses: list[float],
    history: list[dict[str, float]],
    fingerprint: Mapping[str, Any],
) -> Path:
    """Write the checkpoint of optimizer step `step` into `folder`; returns the JSON's path."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {
        f"trainable/{name}": t.detach().cpu().contiguous() for name, t in trainable.items()
    }
    opt_state: dict[str, dict[str, Any]] = {}
    for idx, entry in optimizer["state"].items():
        plain: dict[str, Any] = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{idx}/{key}"] = value.detach().cpu().contiguous()
            else:
                plain[key] = _jsonable(value, f"optimizer state {key}")
        opt_state[str(idx)] = plain
    name = f"checkpoint-{step:06d}.safetensors"
    tensor_path = folder / name
    atomic_write(tensor_path, lambda tmp: save_file(tensors, str(tmp)))
    meta = {
        "format": FORMAT,
        "fingerprint": _jsonable(fingerprint, "fingerprint"),
        "step": step,
        "losses": [float(x) for x in losses],
        "history": _jsonable(history, "history"),
        "scheduler": _jsonable(scheduler, "scheduler state"),
        "optimizer": {
            "param_groups": _jsonable(optimizer["param_groups"], "optimizer param_groups"),
            "state": opt_state,
        },
        "tensors": name,
        "tensors_sha256": _sha256(tensor_path),
    }
    path = folder / CHECKPOINT_FILE
    atomic_write_json(path, meta)
    for old in folder.glob("checkpoint-*.safetensors"):  # earlier steps' tensors
        if old.name != name:
            old.unlink(missing_ok=True)
    return path


def _refuse(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"checkpoint {path}: {problem}; pass --force to start the run over (or resume a copy "
        "of the run directory that this elicit wrote)"
    )


def load_checkpoint(
    folder: Path, fingerprint: Mapping[str, Any], *, optimizer: torch.optim.Optimizer
) -> dict[str, Any] | None:
    """The checkpoint in `folder` as {"step", "trainable", "optimizer", "scheduler", "losses",
    "history"}, or None if there is none. Raises ConfigError when it was written with another
    fingerprint, is damaged, or is an old pickle (`checkpoint.pt`, never unpickled).

    optimizer: the live optimizer, whose parameter groups give the saved ones their types
    back (JSON has no tuples: AdamW's betas).
    """
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        legacy = folder / LEGACY_FILE
        if legacy.exists():
            raise _refuse(
                legacy,
                "is a pickle written by an older elicit; it is not loaded because unpickling "
                "a file runs any code it contains",
            )
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # unreadable, not JSON, too deep
        raise _refuse(path, f"is unreadable ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _refuse(path, f"is not an elicit training checkpoint (format {FORMAT!r})")
    if meta.get("fingerprint") != json.loads(json.dumps(_jsonable(fingerprint, "fingerprint"))):
        raise ConfigError(
            f"checkpoint {path} was written by a run with other settings or data; resume with "
            "the original options, or pass --force to start over"
        )
    step = meta.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise _refuse(path, f"step {step!r} is not a non-negative whole number")
    losses, history = meta.get("losses"), meta.get("history")
    if not isinstance(losses, list) or not all(
        isinstance(x, (int, float)) and math.isfinite(x) for x in losses
    ):
        raise _refuse(path, "'losses' is not a list of finite numbers")
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise _refuse(path, "'history' is not a list of objects")
    name = meta.get("tensors")
    if not isinstance(name, str) or not _TENSOR_NAME.fullmatch(name):
        raise _refuse(path, f"tensor file {name!r} is not a checkpoint-<step>.safetensors name")
    tensor_path = folder / name
    if not tensor_path.is_file():
        raise _refuse(path, f"its tensor file {tensor_path} is missing")
    if _sha256(tensor_path) != meta.get("tensors_sha256"):
        raise _refuse(tensor_path, "does not match the SHA-256 its checkpoint.json records")
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError) as e:
        raise _refuse(tensor_path, f"is not a readable safetensors file ({e})") from e
    trainable = {
        k[len("trainable/") :]: v for k, v in tensors.items() if k.startswith("trainable/")
    }
    saved = meta.get("optimizer")
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list):
        raise _refuse(path, "has no optimizer settings")
    live_groups = optimizer.param_groups
    if len(saved["param_groups"]) != len(live_groups):
        raise _refuse(path, "its optimizer has another number of parameter groups")
    groups = []
    for group, live in zip(saved["param_groups"], live_groups, strict=True):
        groups.append(
            {k: tuple(v) if isinstance(live.get(k), tuple) else v for k, v in group.items()}
        )
    params = [p for group in live_groups for p in group["params"]]
    state: dict[int, dict[str, Any]] = {}
    try:
        for idx, plain in dict(saved.get("state") or {}).items():
            entry = dict(plain)
            prefix = f"optimizer/{idx}/"
            entry.update({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
            i = int(idx)
            shape = tuple(params[i].shape)
            # AdamW's moments have their parameter's shape; a wrong one would fail only in
            # the middle of training, with a traceback.
            bad = [
                k
                for k, v in entry.items()
                if k != "step" and isinstance(v, torch.Tensor) and tuple(v.shape) != shape
            ]
            if bad:
                raise ValueError(f"optimizer state {bad[0]!r} of parameter {i} has another shape")
            state[i] = entry
    except (ValueError, TypeError, IndexError) as e:
        raise _refuse(path, f"its optimizer state does not fit this model ({e})") from e
    return {
        "step": step,
        "trainable": trainable,
        "optimizer": {"state": state, "param_groups": groups},
        "scheduler": meta.get("scheduler") or {},
        "losses": [float(x) for x in losses],
        "history": history,
    }


__all__ = ["CHECKPOINT_FILE", "LEGACY_FILE", "load_checkpoint", "save_checkpoint"]
