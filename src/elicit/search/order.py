"""The context order of a pool: where each labelled example sits among the demonstrations.

The search fixes one permutation of the pool per run; every prompt it sends lists the labelled
examples in that order (leave-one-out prompts then reorder them by `loo_order`, see
`LM.loo_scores`). Two orders:

    interleaved  groups shuffled, members shuffled, then dealt one at a time, each time from
                 the group with the most members left that is not the one just dealt (ties
                 in shuffled order): groups of equal size are dealt round-robin, so two
                 members of one group sit as far apart as the pool allows, and two members
                 are adjacent only when no arrangement avoids it. elicit's default.
    grouped      groups shuffled, members of a group kept together: the released ICM code's
                 order (it lists the demos of each consistency group together).

Why interleaved: with a group's claims next to each other a small model copies its neighbour's
label and the mutual-predictability signal vanishes (measured with gemma-3-270m on paired
contrast claims, see issue 3). Both orders depend only on `rng`, never on labels.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from typing import Literal

from elicit.errors import ConfigError
from elicit.tasks.base import Example

ContextOrder = Literal["interleaved", "grouped"]
CONTEXT_ORDERS: tuple[str, ...] = ("interleaved", "grouped")


def _shuffled_groups(examples: Sequence[Example], rng: random.Random) -> list[list[int]]:
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(ex.group, []).append(i)
    out = list(groups.values())
    rng.shuffle(out)
    for members in out:
        rng.shuffle(members)
    return out


def context_order(examples: Sequence[Example], kind: ContextOrder, rng: random.Random) -> list[int]:
    """A permutation of range(len(examples)): the order demos appear in every context."""
    if kind not in CONTEXT_ORDERS:
        raise ConfigError(f"unknown context order {kind!r}; use one of {', '.join(CONTEXT_ORDERS)}")
    groups = _shuffled_groups(examples, rng)
    if kind == "grouped":
        return [i for members in groups for i in members]
    # Max-heap on members left; the shuffled position breaks ties.
    heap = [(-len(members), pos) for pos, members in enumerate(groups)]
    heapq.heapify(heap)
    dealt = [0] * len(groups)
    out: list[int] = []
    held: tuple[int, int] | None = None  # the group just dealt sits out one turn
    while heap:
        left, pos = heapq.heappop(heap)
        out.append(groups[pos][dealt[pos]])
        dealt[pos] += 1
        if held is not None:
            heapq.heappush(heap, held)
            held = None
        if left + 1 < 0:
            held = (left + 1, pos)
    if held is not None:  # only this group is left: its members must be adjacent
        pos = held[1]
        out.extend(groups[pos][dealt[pos] :])
    return out
