"""Typed examples and the task data that loaders produce.

A loader turns raw rows into `Example`s (what the model and the search may see) and keeps the
gold labels in a separate `GoldLabels` mapping. Search code takes `Sequence[Example]`; an
`Example` has no label field, so gold cannot leak into the search by construction. Evaluation
joins predictions to gold by `uid`.

Consistency (ICM, Wen et al. 2025) is described per task by `Consistency` and per example by
`group` and `key`:

- `NONE`: no logical constraint (TruthfulQA in the paper).
- `ANSWER`: claims in one group with *different* keys cannot both be True; claims with the
  *same* key must share a label (GSM8K-verification: key = the solution's final answer).
- `COMPARISON`: the group holds the two orders of one pair (keys "ab" and "ba"); exactly one
  of "A beats B" / "B beats A" is True (Alpaca, HH comparisons).

Keys are computed from the inputs only (an answer string, the pair order), never from labels.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

#: The text every claim prompt ends with; the label word follows it (" True" / " False").
CLAIM_SUFFIX = "I think this claim is"


class Consistency(enum.StrEnum):
    NONE = "none"
    ANSWER = "answer"
    COMPARISON = "comparison"


@dataclass(frozen=True)
class Example:
    """One claim, as the model and the search see it. Deliberately has no label.

    uid: unique within a task's data (stable across runs; used to join with gold labels).
    prompt: the full rendered prompt, ending with `CLAIM_SUFFIX` (no trailing space); the
        label word (with its leading space) is the next token.
    group: consistency group id (e.g. the question a claim answers). Every example has one;
        examples without a natural group get their own uid.
    key: consistency key inside the group (final answer, pair order), or "" when unused.
    """

    uid: str
    prompt: str
    group: str
    key: str = ""

    def __post_init__(self) -> None:
        if not self.uid:
            raise ValueError("Example.uid must be a non-empty string")


#: Gold labels by uid: 1 = the claim is True, 0 = False. Kept apart from `Example`.
GoldLabels = Mapping[str, int]


@dataclass(frozen=True)
class TaskData:
    """The examples of one task split plus their gold labels (possibly partial or empty)."""

    task: str
    examples: tuple[Example, ...]
    gold: GoldLabels = field(default_factory=dict)
    consistency: Consistency = Consistency.NONE
    #: Label words, index = label value (0 = False, 1 = True). See backends.base.LabelSet.
    label_words: tuple[str, ...] = (" False", " True")
    #: Where the data was read from ("bundled sample", "ELICIT_DATA_DIR", "hub", "--data"),
    #: "" when built in code. See `tasks.sources`.
    origin: str = ""

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[Example]:
        return iter(self.examples)

    @property
    def has_gold(self) -> bool:
        return all(ex.uid in self.gold for ex in self.examples) and bool(self.examples)

    def gold_of(self, examples: Sequence[Example]) -> list[int]:
        """Gold labels of `examples`, in order. KeyError names the first uid without one."""
        missing = [ex.uid for ex in examples if ex.uid not in self.gold]
        if missing:
            raise KeyError(f"no gold label for uid {missing[0]!r} ({len(missing)} missing)")
        return [self.gold[ex.uid] for ex in examples]


@dataclass(frozen=True)
class LoadOptions:
    """Where and how a task reads its data. Column names apply to tabular user data."""

    #: A file or directory, "hf:<dataset id>[:<split>]" for a Hugging Face dataset, "bundled"
    #: for the sample that ships with the package (what `elicit demo` reads), or None for the
    #: task's default files ($ELICIT_DATA_DIR, the Hub, the bundled sample; `tasks.sources`).
    data: str | None = None
    #: "train" or "test" (tasks without a source split carve one from groups, deterministically).
    split: str = "test"
    uid_column: str = "uid"
    text_column: str = "text"
    label_column: str = "label"
    group_column: str = "group"
    key_column: str = "key"
