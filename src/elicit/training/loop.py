"""The one training loop every elicit fine-tuning runs: classifier, reward model, completion SFT.

    result = fit(model, n_items, make_batch, step_loss, FitOptions(), seed=0, device=device,
                 checkpoint_dir=out / "checkpoints", resume=True)

The caller supplies `make_batch(indices) -> batch` and `step_loss(batch, step_frac) -> loss`;
the loop owns the rest: a seeded order of micro-batches, AdamW over the parameters that
require gradients (the LoRA adapters, or every weight), linear warm-up then linear decay,
gradient accumulation, clipping, bf16 autocast on CUDA, a tqdm bar showing the loss, and
checkpoints. Under `accelerate launch` (or torchrun) with several processes it trains
data-parallel (DDP; see `training.distributed`): callers that pass `use_module` get the wrapped
model to run their forward passes through.

Determinism and resuming: the micro-batch order of epoch e is a permutation drawn from
`random.Random(f"{seed}/{e}")`, and the torch RNG is re-seeded at every optimizer step inside
`torch.random.fork_rng` (dropout), so step s sees the same data and noise whether or not the
run was interrupted before it, and the caller's global RNG state is left untouched. A
checkpoint (`checkpoint.json` and a safetensors file, never a pickle: trainable weights,
optimizer, scheduler, step, losses, and a fingerprint of the settings and data; see
`training.checkpoint`) is written atomically every `checkpoint_every` steps
and at the end; `resume=True` continues from it, and refuses one written by other settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from elicit.errors import ConfigError
from elicit.training.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from elicit.training.config import FitOptions
from elicit.training.distributed import DataParallel, maybe_sync

log = logging.getLogger("elicit")


#: (batch, step_frac) -> scalar loss of that micro-batch.
StepLoss = Callable[[Any, float], torch.Tensor]
#: (micro-batches of one optimizer step, step_frac) -> the batches to train on (see `fit`).
PrepareStep = Callable[[list[Any], float], Sequence[Any]]
#: step -> metrics, called with the model in eval mode (see `fit`).
EvalFn = Callable[[int], Mapping[str, float]]


@dataclass(frozen=True)
class FitResult:
    """What a `fit` did. `losses[s]` is the mean micro-batch loss of optimizer step s."""

    steps: int
    losses: tuple[float, ...]
    history: tuple[dict[str, float], ...]
    seconds: float
    resumed_from: int
    examples_per_epoch: int

    @property
    def steps_per_second(self) -> float:
        done = self.steps - self.resumed_from
        return done / self.seconds if self.seconds > 0 else float("nan")


def micro_batches(n_items: int, batch_size: int, seed: int, start: int = 0) -> Iterator[list[int]]:
    """Micro-batches of item indices, epoch after epoch, from micro-batch number `start` on.

    Each epoch is a fresh seeded permutation; the last micro-batch of an epoch may be short.
    """
    per_epoch = math.ceil(n_items / batch_size)
    m = start
    while True:
        epoch, j = divmod(m, per_epoch)
        order = list(range(n_items))
        random.Random(f"{seed}/{epoch}").shuffle(order)
        yield order[j * batch_size : (j + 1) * batch_size]
        m += 1


def step_seed(seed: int, step: int) -> int:
    """The torch seed of optimizer step `step`: any int seed (even a 63-bit batch seed) maps to
    a valid one, different per step."""
    digest = hashlib.sha256(f"elicit-train-step:{seed}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def total_steps(n_items: int, options: FitOptions, processes: int = 1) -> int:
    """Optimizer steps of a run; `processes` data-parallel processes share each micro-batch."""
    if options.max_steps is not None:
        return options.max_steps
    per_epoch = math.ceil(n_items / (options.train_batch_size * processes))
    return max(1, math.ceil(per_epoch * options.epochs / options.grad_accum))


def autocast_context(
    device: torch.device, model: torch.nn.Module
) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on a CUDA device with fp32 weights (fp32 master weights, bf16 matmuls);
    nothing on CPU, where bf16 is slow and fp32 is the default."""
    first = next(model.parameters(), None)
    if (
        device.type == "cuda"
        and first is not None
        and first.dtype == torch.float32
        and torch.cuda.is_bf16_supported()
    ):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def _lr_lambda(total: int, warmup: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def _save(folder: Path, state: dict[str, Any]) -> None:
    save_checkpoint(folder, **state)


def _load(
    folder: Path, fingerprint: Mapping[str, Any], optimizer: torch.optim.Optimizer, steps: int
) -> dict[str, Any] | None:
    """The checkpoint in `folder` (JSON read and fingerprint checked before any tensor; never a
    pickle: see `training.checkpoint`), or None."""
    state = load_checkpoint(folder, fingerprint, optimizer=optimizer)
    if state is not None and state["step"] > steps:
        raise ConfigError(
            f"checkpoint in {folder} is at step {state['step']}, past this run's {steps} steps; "
            "pass --force to start over"
        )
    return state


def fit(
    model: torch.nn.Module,
    n_items: int,
    make_batch: Callable[[Sequence[int]], Any],
    step_loss: StepLoss,
    options: FitOptions,
    *,
    seed: int,
    device: torch.device,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    eval_fn: EvalFn | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    progress: bool = True,
    desc: str = "training",
    use_module: Callable[[torch.nn.Module], None] | None = None,
    prepare_step: PrepareStep | None = None,
) -> FitResult:
    """Train the parameters of `model` that require gradients; see the module docstring.

    n_items: how many training items `make_batch` indexes. fingerprint: JSON-able description
    of the data and task, stored in checkpoints so that a resume with other data is refused.
    use_module: called with the module `step_loss` must run forward passes through (the DDP
    wrapper in a data-parallel job) before training, and with `model` again after it.
    prepare_step: called with the micro-batches of each optimizer step (this process's share)
    before any of them runs, returns the batches `step_loss` then gets: for losses whose targets
    depend on the whole step (the confidence loss's threshold), see `losses.BatchLoss`.
    """
    if n_items < 1:
        raise ConfigError("nothing to train on: the training set is empty")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters (LoRA found no target modules?)")
    parallel = DataParallel.detect()
    processes = parallel.world if parallel is not None else 1
    main = parallel is None or parallel.is_main
    steps = total_steps(n_items, options, processes)
    warmup = int(options.warmup_frac * steps)
    optimizer = torch.optim.AdamW(
        params, lr=options.learning_rate, weight_decay=options.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(steps, warmup))
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    ckpt_path = ckpt_dir / CHECKPOINT_FILE if ckpt_dir is not None else None
    full_print = {
        "fit": options.fit_dict(),
        "seed": seed,
        "n_items": n_items,
        **(fingerprint or {}),
        **({"processes": processes} if processes > 1 else {}),
    }
    start, losses, history = 0, [], []
    state: dict[str, Any] | None = None
    refused: ConfigError | None = None
    if ckpt_dir is not None and resume and main:
        try:
            state = _load(ckpt_dir, full_print, optimizer, steps)
        except ConfigError as e:
            refused = e
    if parallel is not None:  # the main process's checkpoint (or refusal) everywhere
        state, refused = parallel.broadcast((state, refused))
    if refused is not None:
        raise refused
    if state is not None:
        named = dict(model.named_parameters())
        missing = [n for n in state["trainable"] if n not in named]
        if missing:
            raise ConfigError(f"checkpoint {ckpt_path} has weights the model lacks: {missing[:3]}")
        try:
            with torch.no_grad():
                for name, value in state["trainable"].items():
                    named[name].copy_(value.to(named[name].device))
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"checkpoint {ckpt_path} does not fit this model or optimizer ({e}); pass "
                "--force to start over"
            ) from e
        start, losses, history = (
            int(state["step"]),
            list(state["losses"]),
            list(state["history"]),
        )
        log.info("resuming %s from step %d of %d (%s)", desc, start, steps, ckpt_path)

    def checkpoint(step: int) -> None:
        if ckpt_dir is None or not main:
            return
        _save(
            ckpt_dir,
            {
                "step": step,
                "trainable": trainable_state(model),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "losses": losses,
                "history": history,
                "fingerprint": full_print,
            },
        )

    def evaluate(step: int) -> None:
        if eval_fn is None:
            return
        model.eval()
        with torch.no_grad():
            metrics = dict(eval_fn(step))
        model.train()
        history.append({"step": float(step), **{k: float(v) for k, v in metrics.items()}})

    t0 = time.perf_counter()
    per_batch = options.train_batch_size * processes
    batches = micro_batches(n_items, per_batch, seed, start * options.grad_accum)
    wrapped: Any = model
    if parallel is not None:
        wrapped = parallel.wrap(model)
    if use_module is not None:
        use_module(wrapped)
    cuda = [device] if device.type == "cuda" else []
    model.train()
    bar = tqdm(total=steps, initial=start, desc=desc, unit="step", disable=not (progress and main))
    try:
        with torch.random.fork_rng(devices=cuda):
            for step in range(start, steps):
                torch.manual_seed(step_seed(seed, step))
                frac = step / steps
                total = 0.0
                micro = []
                for _ in range(options.grad_accum):
                    indices = next(batches)
                    if parallel is not None:  # every process needs items, even in a short batch
                        indices = parallel.shard(
                            (indices * processes)[: max(len(indices), processes)]
                        )
                    micro.append(make_batch(indices))
                if prepare_step is not None:
                    micro = list(prepare_step(micro, frac))
                for m, batch in enumerate(micro):
                    with (
                        maybe_sync(parallel, wrapped, m == options.grad_accum - 1),
                        autocast_context(device, model),
                    ):
                        loss = step_loss(batch, frac)
                        if not torch.isfinite(loss):
                            raise FloatingPointError(
                                f"{desc}: loss is {loss.item()} at step {step}; lower --lr"
                            )
                        (loss / options.grad_accum).backward()  # type: ignore[no-untyped-call]
                    total += float(loss.detach()) / options.grad_accum
                if parallel is not None:
                    total = parallel.mean(total, device)
                if options.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, options.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(total)
                bar.update(1)
                bar.set_postfix(loss=f"{total:.4f}")
                done = step + 1
                if (
                    options.eval_every is not None
                    and done % options.eval_every == 0
                    and done < steps
                ):
                    evaluate(done)
                if done % options.checkpoint_every == 0 or done == steps:
                    if done == steps:
                        evaluate(done)
                    checkpoint(done)
        if start == steps and eval_fn is not None and not history:
            evaluate(steps)
        if parallel is not None:
            parallel.barrier()  # the main process's last checkpoint is written
    finally:
        bar.close()
        model.eval()
        if use_module is not None:
            use_module(model)
    return FitResult(
        steps=steps,
        losses=tuple(losses),
        history=tuple(history),
        seconds=time.perf_counter() - t0,
        resumed_from=start,
        examples_per_epoch=n_items,
    )


__all__ = [
    "CHECKPOINT_FILE",
    "EvalFn",
    "FitResult",
    "PrepareStep",
    "StepLoss",
    "autocast_context",
    "fit",
    "micro_batches",
    "total_steps",
    "trainable_state",
]
