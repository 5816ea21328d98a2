"""Splitting a large pool into search batches that keep consistency groups whole.

The paper searches sets larger than its context (256 claims) in independent batches and merges
the labels. `split_batches` shuffles the groups with a seed and deals each, whole, to the
emptiest of ceil(N / batch_size) batches, so batches come out nearly equal in size (a group is
never split, so a batch can exceed `batch_size` only when a group does; more batches are added
until none does otherwise). `batch_seed` derives each batch's search seed from the run seed.

    >>> split_batches(examples, batch_size=256, seed=0)   # -> [[indices of batch 0], ...]
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
from collections.abc import Sequence

from elicit.errors import ConfigError
from elicit.tasks.base import Example

log = logging.getLogger("elicit")


def split_batches(examples: Sequence[Example], batch_size: int, seed: int) -> list[list[int]]:
    """Indices of `examples` per batch (each sorted); groups whole; one batch when N fits."""
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    n = len(examples)
    if n <= batch_size:
        return [list(range(n))]
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.group, []).append(i)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    largest = max(len(m) for m in order)
    if largest > batch_size:
        log.warning(
            "a consistency group has %d examples, more than --batch-size %d; it stays whole, "
            "so its batch is larger than the batch size",
            largest,
            batch_size,
        )
    k = math.ceil(n / batch_size)
    while True:
        batches: list[list[int]] = [[] for _ in range(k)]
        for members in order:
            target = min(range(k), key=lambda b: (len(batches[b]), b))
            batches[target].extend(members)
        too_big = any(len(b) > max(batch_size, largest) for b in batches)
        if not too_big or k >= len(order):
            return [sorted(b) for b in batches if b]
        k += 1


def batch_seed(seed: int, batch: int) -> int:
    """The search seed of batch `batch` of a run with seed `seed` (stable across versions)."""
    digest = hashlib.sha256(f"elicit-icm-batch:{seed}:{batch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1
