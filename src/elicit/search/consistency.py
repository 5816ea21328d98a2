"""Logical consistency of a labelling: which labelled pairs contradict each other (ICM's I(D)).

Rules per `Consistency` (keys come from the inputs, never from gold; see `tasks.base`):

    NONE        no constraint: I(D) = 0 always.
    ANSWER      same group, different keys: not both True (two different final answers to one
                problem cannot both be right); same group, same key: equal labels.
    COMPARISON  same group, different keys ("ab" / "ba"): exactly one is True (asymmetry: A > B
                and B > A cannot both hold, and one of them does); same key: equal labels.

Examples in different groups never constrain each other. In an ANSWER group an empty key means
"no answer extracted" and takes part in no constraint. I(D) counts unordered inconsistent
pairs (the paper's double sum over i, j counts each twice; the released code counts once).

    >>> rule = ConsistencyRule(examples, Consistency.ANSWER)
    >>> rule.inconsistent_pairs({0: 1, 1: 1})       # indices into `examples` -> label
    [(0, 1)]
    >>> rule.relabellings(0, 1)                       # consistent (label_0, label_1) options
    [(0, 0), (0, 1), (1, 0)]

The paper's ConsistencyFix enumerates every consistent option of a pair; the released code
tries only the two it derives from the violation's type (exactly one True for a contradiction,
both equal for an implication), which for ANSWER leaves out "both False". elicit follows the
paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from elicit.tasks.base import Consistency, Example

#: Every labelling of a pair, in the order ConsistencyFix tries them (ties keep the first).
_PAIR_LABELS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))


def violates(a: Example, label_a: int, b: Example, label_b: int, consistency: Consistency) -> bool:
    """Whether labels `label_a` for `a` and `label_b` for `b` contradict each other."""
    if consistency is Consistency.NONE or a.group != b.group:
        return False
    if consistency is Consistency.ANSWER:
        if not a.key or not b.key:
            return False
        if a.key == b.key:
            return label_a != label_b
        return label_a == 1 and label_b == 1
    if consistency is Consistency.COMPARISON:
        if a.key == b.key:
            return label_a != label_b
        return label_a == label_b
    raise ValueError(f"unknown consistency rule {consistency!r}")


def consistent_relabellings(
    a: Example, b: Example, consistency: Consistency
) -> list[tuple[int, int]]:
    """Every (label_a, label_b) that does not violate the rule, in a fixed order."""
    return [(x, y) for x, y in _PAIR_LABELS if not violates(a, x, b, y, consistency)]


class ConsistencyRule:
    """The consistency rule of one pool of examples, with its groups indexed once.

    Labellings are mappings from an index into `examples` to a label (0/1); unlabelled
    examples are simply absent.
    """

    def __init__(self, examples: Sequence[Example], consistency: Consistency) -> None:
        self.examples = tuple(examples)
        self.consistency = consistency
        groups: dict[str, list[int]] = {}
        for i, ex in enumerate(self.examples):
            groups.setdefault(ex.group, []).append(i)
        #: group id -> indices of its members, in example order.
        self.groups: dict[str, tuple[int, ...]] = {g: tuple(m) for g, m in groups.items()}
        #: index -> the group members of that example (itself included).
        self.members: tuple[tuple[int, ...], ...] = tuple(
            self.groups[ex.group] for ex in self.examples
        )

    def inconsistent_pairs(self, labelling: Mapping[int, int]) -> list[tuple[int, int]]:
        """Inconsistent pairs (i, j), i < j, of labelled examples, sorted."""
        if self.consistency is Consistency.NONE:
            return []
        out: list[tuple[int, int]] = []
        for members in self.groups.values():
            labelled = [i for i in members if i in labelling]
            for p, i in enumerate(labelled):
                for j in labelled[p + 1 :]:
                    if violates(
                        self.examples[i],
                        labelling[i],
                        self.examples[j],
                        labelling[j],
                        self.consistency,
                    ):
                        out.append((min(i, j), max(i, j)))
        out.sort()
        return out

    def count(self, labelling: Mapping[int, int]) -> int:
        """I(D): the number of inconsistent pairs."""
        return len(self.inconsistent_pairs(labelling))

    def relabellings(self, i: int, j: int) -> list[tuple[int, int]]:
        """The consistent (label_i, label_j) options of a pair (ConsistencyFix's candidates)."""
        return consistent_relabellings(self.examples[i], self.examples[j], self.consistency)
