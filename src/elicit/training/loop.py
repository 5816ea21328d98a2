"""The one training loop every elicit fine-tuning runs: classifier, reward model, completion SFT.

    task = FitTask(model, n_items, make_batch, step_loss)           # what is trained
    run = FitRun(seed=0, device=device, checkpoint_dir=out / "checkpoints", resume=True)
    result = train(task, FitOptions(), run)                         # FitOptions: how

The caller supplies `make_batch(indices) -> batch` and `step_loss(batch, step_frac) -> loss`;
the loop owns the rest: a seeded order of micro-batches, AdamW over the parameters that
require gradients (the LoRA adapters, or every weight), linear warm-up then linear decay,
gradient accumulation, clipping, bf16 autocast on CUDA, a tqdm bar showing the loss, and
checkpoints. Under `accelerate launch` (or torchrun) with several processes it trains
data-parallel (DDP; see `training.distributed`): callers that pass `use_module` get the wrapped
model to run their forward passes through. `fit` is `train` with the fields of the task and the
run spelled out as arguments.

How it reads: `TrainPlan` fixes the run's shape (steps, warm-up, processes, the checkpoint
fingerprint), `_restore` resumes from a checkpoint, `_Trainer.step` is one optimizer step and
`_Trainer.after_step` its evaluation and checkpoint hooks; `train` strings them together.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from elicit.errors import ConfigError
from elicit.training.checkpoint import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
from elicit.training.config import FitOptions
from elicit.training.distributed import DataParallel, maybe_sync

log = logging.getLogger("elicit")


#: item indices -> one micro-batch (whatever `StepLoss` takes).
MakeBatch = Callable[[Sequence[int]], Any]
#: (batch, step_frac) -> scalar loss of that micro-batch.
StepLoss = Callable[[Any, float], torch.Tensor]
#: (micro-batches of one optimizer step, step_frac) -> the batches to train on (see `FitTask`).
PrepareStep = Callable[[list[Any], float], Sequence[Any]]
#: step -> metrics, called with the model in eval mode (see `FitRun`).
EvalFn = Callable[[int], Mapping[str, float]]
#: module -> None: told which module forward passes go through (see `FitTask`).
UseModule = Callable[[torch.nn.Module], None]


@dataclass(frozen=True)
class FitResult:
    """What a `train` did. `losses[s]` is the mean micro-batch loss of optimizer step s."""

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


# ---------------------------------------------------------------------- what a fit is given


@dataclass(frozen=True)
class FitTask:
    """What `train` optimises: the model, its data as indexed micro-batches, and the loss.

    n_items: how many training items `make_batch` indexes.
    prepare_step: called with the micro-batches of each optimizer step (this process's share)
        before any of them runs, returns the batches `step_loss` then gets: for losses whose
        targets depend on the whole step (the confidence loss's threshold), see
        `losses.BatchLoss`.
    use_module: called with the module `step_loss` must run forward passes through (the DDP
        wrapper in a data-parallel job) before training, and with `model` again after it.
    """

    model: torch.nn.Module
    n_items: int
    make_batch: MakeBatch
    step_loss: StepLoss
    prepare_step: PrepareStep | None = None
    use_module: UseModule | None = None


@dataclass(frozen=True, kw_only=True)
class FitRun:
    """How one fit runs, apart from its optimisation settings (`FitOptions`).

    checkpoint_dir: where checkpoints go (None: none are written, no resume).
    fingerprint: JSON-able description of the data and task, stored in checkpoints so that a
        resume with other data is refused.
    eval_fn: step -> metrics, called with the model in eval mode every `eval_every` steps and at
        the end; they form `FitResult.history`.
    """

    seed: int
    device: torch.device
    checkpoint_dir: Path | None = None
    resume: bool = False
    fingerprint: Mapping[str, Any] = field(default_factory=dict)
    eval_fn: EvalFn | None = None
    progress: bool = True
    desc: str = "training"


def checkpoints_in(out_dir: Path | None) -> Path | None:
    """The checkpoint folder of a training output folder (None: no checkpoints)."""
    return out_dir / "checkpoints" if out_dir is not None else None


# ---------------------------------------------------------------------- its plan and state


@dataclass(frozen=True)
class TrainPlan:
    """The shape of a run, fixed before its first step.

    steps: optimizer steps in all; warmup: the warm-up's share of them; parallel: this
    process's data-parallel job (None alone); per_batch: items of one global micro-batch;
    fingerprint: the settings a checkpoint must match to be resumed (`FitRun.fingerprint`, the
    `FitOptions`, the seed, the data size and the process count).
    """

    steps: int
    warmup: int
    parallel: DataParallel | None
    per_batch: int
    fingerprint: Mapping[str, Any]

    @classmethod
    def make(cls, n_items: int, options: FitOptions, run: FitRun) -> TrainPlan:
        parallel = DataParallel.detect()
        processes = parallel.world if parallel is not None else 1
        steps = total_steps(n_items, options, processes)
        fingerprint = {
            "fit": options.fit_dict(),
            "seed": run.seed,
            "n_items": n_items,
            **run.fingerprint,
            **({"processes": processes} if processes > 1 else {}),
        }
        per_batch = options.train_batch_size * processes
        return cls(steps, int(options.warmup_frac * steps), parallel, per_batch, fingerprint)

    @property
    def main(self) -> bool:
        """Whether this process writes (checkpoints, the progress bar)."""
        return self.parallel is None or self.parallel.is_main


@dataclass
class Progress:
    """What a checkpoint saves beside the weights: the steps done, their losses, the evals."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)


def _trainable(task: FitTask) -> list[torch.nn.Parameter]:
    if task.n_items < 1:
        raise ConfigError("nothing to train on: the training set is empty")
    params = [p for p in task.model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters (LoRA found no target modules?)")
    return params


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


def _restore(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    plan: TrainPlan,
    run: FitRun,
) -> Progress:
    """The progress of an earlier run with the same settings, its checkpoint loaded into the
    model, optimizer and scheduler; a fresh start without one (or without `run.resume`).

    The main process reads the checkpoint and broadcasts it (or its refusal) to the others."""
    state: dict[str, Any] | None = None
    refused: ConfigError | None = None
    folder = run.checkpoint_dir
    if folder is not None and run.resume and plan.main:
        try:
            state = _load(folder, plan.fingerprint, optimizer, plan.steps)
        except ConfigError as e:
            refused = e
    if plan.parallel is not None:
        state, refused = plan.parallel.broadcast((state, refused))
    if refused is not None:
        raise refused
    if state is None or folder is None:
        return Progress()
    path = folder / CHECKPOINT_FILE
    named = dict(model.named_parameters())
    missing = [n for n in state["trainable"] if n not in named]
    if missing:
        raise ConfigError(f"checkpoint {path} has weights the model lacks: {missing[:3]}")
    try:
        with torch.no_grad():
            for name, value in state["trainable"].items():
                named[name].copy_(value.to(named[name].device))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"checkpoint {path} does not fit this model or optimizer ({e}); pass "
            "--force to start over"
        ) from e
    log.info("resuming %s from step %d of %d (%s)", run.desc, state["step"], plan.steps, path)
    return Progress(int(state["step"]), list(state["losses"]), list(state["history"]))


# ---------------------------------------------------------------------- one step, and its hooks


class _Trainer:
    """A run between optimizer steps: `step` runs one, `after_step` evaluates and checkpoints
    on schedule. `wrapped` is the module forward passes go through (DDP's wrapper when
    parallel)."""

    def __init__(
        self,
        task: FitTask,
        options: FitOptions,
        run: FitRun,
        plan: TrainPlan,
        params: list[torch.nn.Parameter],
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
        progress: Progress,
    ) -> None:
        self.task, self.options, self.run, self.plan = task, options, run, plan
        self.params, self.optimizer, self.scheduler = params, optimizer, scheduler
        self.progress = progress
        start = progress.step * options.grad_accum
        self.batches = micro_batches(task.n_items, plan.per_batch, run.seed, start)
        parallel = plan.parallel
        self.wrapped: Any = parallel.wrap(task.model) if parallel is not None else task.model

    def step(self, step: int) -> float:
        """Optimizer step `step`: `grad_accum` micro-batches forward and backward, clipping,
        AdamW and the schedule; returns the step's mean loss (over processes)."""
        torch.manual_seed(step_seed(self.run.seed, step))
        frac = step / self.plan.steps
        accum = self.options.grad_accum
        micro = [self.task.make_batch(self._indices()) for _ in range(accum)]
        if self.task.prepare_step is not None:
            micro = list(self.task.prepare_step(micro, frac))
        total = 0.0
        for m, batch in enumerate(micro):
            total += self._backward(batch, frac, step, sync=m == accum - 1)
        if self.plan.parallel is not None:
            total = self.plan.parallel.mean(total, self.run.device)
        if self.options.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.options.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.progress.losses.append(total)
        return total

    def _indices(self) -> list[int]:
        """This process's item indices of the next micro-batch."""
        indices = next(self.batches)
        parallel = self.plan.parallel
        if parallel is not None:  # every process needs items, even in a short batch
            world = parallel.world
            indices = parallel.shard((indices * world)[: max(len(indices), world)])
        return indices

    def _backward(self, batch: Any, frac: float, step: int, *, sync: bool) -> float:
        """Backward of one micro-batch's loss, scaled to its share of the step; its share."""
        accum = self.options.grad_accum
        with (
            maybe_sync(self.plan.parallel, self.wrapped, sync),
            autocast_context(self.run.device, self.task.model),
        ):
            loss = self.task.step_loss(batch, frac)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{self.run.desc}: loss is {loss.item()} at step {step}; lower --lr"
                )
            (loss / accum).backward()  # type: ignore[no-untyped-call]
        return float(loss.detach()) / accum

    def after_step(self, done: int) -> None:
        """Evaluate every `eval_every` steps and at the end; checkpoint every
        `checkpoint_every` steps and at the end (after its evaluation, so it is saved)."""
        steps, options = self.plan.steps, self.options
        if options.eval_every is not None and done % options.eval_every == 0 and done < steps:
            self.evaluate(done)
        if done % options.checkpoint_every == 0 or done == steps:
            if done == steps:
                self.evaluate(done)
            self.checkpoint(done)

    def evaluate(self, step: int) -> None:
        eval_fn = self.run.eval_fn
        if eval_fn is None:
            return
        model = self.task.model
        model.eval()
        with torch.no_grad():
            metrics = dict(eval_fn(step))
        model.train()
        self.progress.history.append(
            {"step": float(step), **{k: float(v) for k, v in metrics.items()}}
        )

    def checkpoint(self, step: int) -> None:
        if self.run.checkpoint_dir is None or not self.plan.main:
            return
        save_checkpoint(
            self.run.checkpoint_dir,
            step=step,
            trainable=trainable_state(self.task.model),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            losses=self.progress.losses,
            history=self.progress.history,
            fingerprint=self.plan.fingerprint,
        )


# ---------------------------------------------------------------------- the loop


def train(task: FitTask, options: FitOptions, run: FitRun) -> FitResult:
    """Train the parameters of `task.model` that require gradients; see the module docstring."""
    params = _trainable(task)
    plan = TrainPlan.make(task.n_items, options, run)
    optimizer = torch.optim.AdamW(
        params, lr=options.learning_rate, weight_decay=options.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(plan.steps, plan.warmup))
    progress = _restore(task.model, optimizer, scheduler, plan, run)
    start = progress.step
    t0 = time.perf_counter()
    trainer = _Trainer(task, options, run, plan, params, optimizer, scheduler, progress)
    if task.use_module is not None:
        task.use_module(trainer.wrapped)
    cuda = [run.device] if run.device.type == "cuda" else []
    task.model.train()
    shown = run.progress and plan.main
    bar = tqdm(total=plan.steps, initial=start, desc=run.desc, unit="step", disable=not shown)
    try:
        with torch.random.fork_rng(devices=cuda):
            for step in range(start, plan.steps):
                loss = trainer.step(step)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                trainer.after_step(step + 1)
        if start == plan.steps and not progress.history:
            trainer.evaluate(plan.steps)  # a finished run resumed: its final metrics again
        if plan.parallel is not None:
            plan.parallel.barrier()  # the main process's last checkpoint is written
    finally:
        bar.close()
        task.model.eval()
        if task.use_module is not None:
            task.use_module(task.model)
    return FitResult(
        steps=plan.steps,
        losses=tuple(progress.losses),
        history=tuple(progress.history),
        seconds=time.perf_counter() - t0,
        resumed_from=start,
        examples_per_epoch=task.n_items,
    )


__all__ = [
    "CHECKPOINT_FILE",
    "EvalFn",
    "FitResult",
    "FitRun",
    "FitTask",
    "PrepareStep",
    "Progress",
    "StepLoss",
    "TrainPlan",
    "autocast_context",
    "checkpoints_in",
    "micro_batches",
    "total_steps",
    "train",
    "trainable_state",
]
