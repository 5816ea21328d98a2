"""Independent ICM batches searched in parallel on Ray workers (`elicit label --workers N`).

The paper searches a large pool as independent batches of 256; nothing couples them, so they
spread over workers with no coordination but the final merge. Ray schedules them: a local
cluster of `workers` CPUs (or GPUs) started for the run, or an existing cluster at
`--ray-address` (`ray start --head` on one machine, `ray start --address=HEAD:6379` on the
others; every node needs elicit and the data at the same paths).

    results = search_batches_on_ray(jobs, workers=2)   # one SearchResult per job, in order

Each job searches one batch exactly as the serial loop would (same seed, same checkpoint folder
`checkpoints/batch-NNN` of the run directory, same resume), so the labels do not depend on the
number of workers, and a run interrupted with workers resumes with or without them. A worker
loads the model from the run's options (`LMOptions.load_lm`) unless the caller passed an LM
object, which is then shipped to the workers (fine for scripted or server-backed LMs; an
in-process model is better loaded by each worker). Workers show no progress bars; the parent
shows one over finished batches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from elicit.backends.base import LM
from elicit.errors import ConfigError
from elicit.search.icm import SearchResult

log = logging.getLogger("elicit")

#: A batch's search, given the LM it should use: () -> result. Must be picklable (cloudpickle).
BatchJob = Callable[[LM], SearchResult]
#: Builds the LM inside a worker.
LMFactory = Callable[[], LM]


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide: `workers` concurrent batch searches, each with `cpus` CPUs and
    `gpus` GPUs (fractions share one), on a local cluster or the one at `address`."""

    workers: int
    address: str | None = None
    cpus: float = 1.0
    gpus: float = 0.0

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.cpus <= 0:
            raise ConfigError(f"--worker-cpus must be positive, got {self.cpus}")
        if self.gpus < 0:
            raise ConfigError(f"--worker-gpus must be >= 0, got {self.gpus}")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ConfigError(
            "--workers and --ray-address need Ray: pip install 'elicit[scale]' "
            "(or pip install 'ray>=2.9')"
        ) from e
    return ray


def _start(ray: Any, options: RayOptions) -> bool:
    """Connect to (or start) a cluster; True when this call started it (and must stop it)."""
    if ray.is_initialized():
        return False
    if options.address is not None:
        ray.init(address=options.address, configure_logging=False, log_to_driver=True)
        return True
    ray.init(
        num_cpus=max(1, round(options.workers * options.cpus)),
        num_gpus=options.workers * options.gpus if options.gpus else None,
        include_dashboard=False,
        configure_logging=False,
        log_to_driver=True,
    )
    return True


def _run_job(job: BatchJob, lm: LM | None, make_lm: LMFactory) -> SearchResult:
    """What runs in a worker: one batch's search with the shipped LM or a freshly loaded one."""
    return job(lm if lm is not None else make_lm())


def search_batches_on_ray(
    jobs: Sequence[BatchJob],
    options: RayOptions,
    make_lm: LMFactory,
    lm: LM | None = None,
    *,
    progress: bool = True,
    desc: str = "ICM batches",
) -> list[SearchResult]:
    """Run every job on a Ray worker and return their results in job order.

    A failed job fails the run (after the others finish or are cancelled); its checkpoints,
    and those of every other batch, stay for `--resume`.
    """
    ray = _import_ray()
    started = _start(ray, options)
    try:
        remote = ray.remote(num_cpus=options.cpus, num_gpus=options.gpus, max_retries=0)(_run_job)
        shared_lm = ray.put(lm) if lm is not None else None
        pending = {remote.remote(job, shared_lm, make_lm): i for i, job in enumerate(jobs)}
        results: dict[int, SearchResult] = {}
        bar = tqdm(total=len(jobs), desc=desc, unit="batch", disable=not progress)
        waiting = list(pending)
        try:
            while waiting:
                done, waiting = ray.wait(waiting, num_returns=1)
                for ref in done:
                    try:
                        results[pending[ref]] = ray.get(ref)
                    except ray.exceptions.RayTaskError as e:
                        # Re-raise as the worker's own exception type (ConfigError, ...).
                        raise e.as_instanceof_cause() from None
                    bar.update(1)
        except BaseException:
            # Only the jobs still running: force-cancelling one that has just finished trips
            # a check in Ray's driver (task_manager "Tried to complete task that was not
            # pending") that kills the whole process; a plain cancel interrupts the rest.
            for ref in waiting:
                ray.cancel(ref)
            raise
        finally:
            bar.close()
        return [results[i] for i in range(len(jobs))]
    finally:
        if started:
            ray.shutdown()


__all__ = ["BatchJob", "LMFactory", "RayOptions", "search_batches_on_ray"]
