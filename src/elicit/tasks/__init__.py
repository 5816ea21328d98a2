"""Task registry: names -> `TaskSpec`, loading, and seeded sampling of task data.

    from elicit.tasks import load_task, sample, task_names
    data = load_task("gsm8k-verification", LoadOptions(split="train"))
    batch = sample(data, 256, seed=0, keep_groups=True)

Every task turns raw rows into claims ending in `CLAIM_SUFFIX` (gold 1 = the claim is true),
kept as `Example`s without labels plus a separate gold mapping (see `tasks.base`). The data
root is $ELICIT_DATA_DIR (see `data_root`); `LoadOptions.data` overrides a
task's files with a file, a directory, or "hf:<id>[:<split>]"; without it, `sources` finds the
files in $ELICIT_DATA_DIR, on the Hugging Face Hub, or in the samples that ship with the package.
Modules:
icm (the ICM paper's TruthfulQA, GSM8K-verification, Alpaca and TruthfulQA-preference files),
hh (HH-RLHF comparisons), benchmarks (sst2, imdb, boolq, sciq, cosmosqa, anli), ethics (the
four ETHICS subsets and blog-author gender), generated (reviews, written in code), claims (the
user's own file); common and rows
hold the shared machinery.
"""

from __future__ import annotations

import difflib
import logging
import random
from dataclasses import dataclass, replace

from elicit.errors import ConfigError
from elicit.tasks import benchmarks, claims, ethics, generated, hh, icm
from elicit.tasks.base import (
    CLAIM_SUFFIX,
    Consistency,
    Example,
    GoldLabels,
    LoadOptions,
    TaskData,
)
from elicit.tasks.common import TaskSpec, carve, data_root
from elicit.tasks.sources import BUNDLED, Origin, describe, not_bundled_why, sample_path

log = logging.getLogger("elicit")

TASKS: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task to the registry (a name may be registered once). Returns the spec."""
    if spec.name in TASKS:
        raise ValueError(f"task {spec.name!r} is already registered")
    TASKS[spec.name] = spec
    return spec


def task_names() -> list[str]:
    """Registered task names, sorted."""
    return sorted(TASKS)


def get_task(name: str) -> TaskSpec:
    """The spec of a task; an unknown name is a `ConfigError` listing the known ones."""
    try:
        return TASKS[name]
    except KeyError:
        close = difflib.get_close_matches(name, TASKS, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"unknown task {name!r}.{hint} Known tasks: {', '.join(task_names())}. "
            "Use `elicit tasks` to list them, or --task claims --data FILE for your own data."
        ) from None


def load_task(name: str, options: LoadOptions | None = None) -> TaskData:
    """Load a task's examples and gold labels for `options.split` (default: test)."""
    return get_task(name).loader(options or LoadOptions())


def sample(data: TaskData, n: int | None, seed: int, *, keep_groups: bool = False) -> TaskData:
    """A seeded random subset of `n` examples, in their original order, with matching gold.

    n None or >= len(data): `data` itself. n = 0: no examples. Without `keep_groups`, exactly n
    examples drawn uniformly without replacement. With `keep_groups=True`, groups are shuffled
    and taken whole until at least n examples are chosen, so the result holds between n and
    n + (largest group size - 1) examples and no consistency group is split.
    Randomness comes only from `random.Random(seed)`.
    """
    if n is not None and n < 0:
        raise ConfigError(f"sample size {n} is negative. Pass a size >= 0 (or none for all).")
    if n is None or n >= len(data):
        if n is not None and n > len(data) and data.origin == Origin.BUNDLED:
            log.warning(
                "task %s: asked for %d claims, the bundled sample holds %d; using all of them. "
                "For the full data set ELICIT_DATA_DIR, pass --data, or install `datasets` "
                "with internet (see `elicit tasks`).",
                data.task,
                n,
                len(data),
            )
        return data
    rng = random.Random(seed)
    if keep_groups:
        groups: dict[str, list[int]] = {}
        for i, ex in enumerate(data.examples):
            groups.setdefault(ex.group, []).append(i)
        order = list(groups)
        rng.shuffle(order)
        chosen: list[int] = []
        for group in order:
            if len(chosen) >= n:
                break
            chosen.extend(groups[group])
        picked = sorted(chosen)
    else:
        picked = sorted(rng.sample(range(len(data)), n))
    examples = tuple(data.examples[i] for i in picked)
    gold = {ex.uid: data.gold[ex.uid] for ex in examples if ex.uid in data.gold}
    return replace(data, examples=examples, gold=gold)


def _all_files(spec: TaskSpec) -> tuple[str, ...]:
    return tuple(f for files in spec.data_files.values() for f in files)


def bundled_tasks() -> list[str]:
    """Tasks that need nothing from outside the package, sorted: those whose every data file
    has a sample inside it, and those generated in code."""
    return sorted(
        name
        for name, spec in TASKS.items()
        if spec.generated or (spec.data_files and all(sample_path(f) for f in _all_files(spec)))
    )


@dataclass(frozen=True)
class DataAvailability:
    """Where a task's data would come from now, and how many claims each split holds there.

    origin: an `Origin` value, or "" when no source has the data (`where` then says why).
    train / test: claim counts (None when not counted: the data would first be downloaded).
    """

    task: str
    origin: str
    where: str
    train: int | None
    test: int | None


def data_availability(name: str) -> DataAvailability:
    """`DataAvailability` of a task, reading only local files (nothing is downloaded)."""
    spec = get_task(name)
    if spec.generated:
        counts = [len(load_task(name, LoadOptions(split=s))) for s in ("train", "test")]
        return DataAvailability(name, Origin.GENERATED, "in code, nothing to download", *counts)
    if not spec.data_files:
        return DataAvailability(name, "", "your own file, through --data", None, None)
    found = describe(_all_files(spec))
    if found.origin is None:
        why = "none here. " + not_bundled_why(_all_files(spec)[0])
        return DataAvailability(name, "", why, None, None)
    if not found.local:
        return DataAvailability(name, found.origin, found.where, None, None)
    # The bundled sample is read directly, so a data folder without this task warns nothing.
    data = BUNDLED if found.origin == Origin.BUNDLED else None
    counts = [len(load_task(name, LoadOptions(data=data, split=s))) for s in ("train", "test")]
    return DataAvailability(name, found.origin, found.where, counts[0], counts[1])


for _spec in (
    *icm.SPECS,
    *hh.SPECS,
    *benchmarks.SPECS,
    *ethics.SPECS,
    *generated.SPECS,
    claims.SPEC,
):
    register(_spec)

__all__ = [
    "CLAIM_SUFFIX",
    "TASKS",
    "Consistency",
    "DataAvailability",
    "Example",
    "GoldLabels",
    "LoadOptions",
    "TaskData",
    "TaskSpec",
    "bundled_tasks",
    "carve",
    "data_availability",
    "data_root",
    "get_task",
    "load_task",
    "register",
    "sample",
    "task_names",
]
