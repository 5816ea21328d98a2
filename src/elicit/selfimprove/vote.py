"""Self-consistency: the majority answer of sampled reasoning paths and its agreement.

Wang et al.'s self-consistency marginalises over reasoning paths by voting on their final
answers; LMSI (Huang et al. 2022) uses the share of paths that agree with the majority as the
model's confidence in it and keeps only the paths that reach the majority answer.

Agreement is counted over *all* sampled paths, so a path without an extractable answer lowers
the confidence instead of silently shrinking the electorate: with 32 paths of which 10 say "7",
2 say "9" and 20 say nothing, the majority is "7" at agreement 10/32. Ties go to the answer
that was sampled first, which is deterministic for a given seed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Vote:
    """The outcome of voting on one question's sampled answers (None = no answer found)."""

    answer: str | None  # the majority answer; None when no path gave an answer
    agreement: float  # share of all paths whose answer is the majority (0 when none)
    n_paths: int
    n_answered: int  # paths with an extractable answer
    counts: tuple[tuple[str, int], ...]  # (answer, votes), most votes first

    def keeps(self, answer: str | None) -> bool:
        """Whether a path with this answer reaches the majority (and so is kept for training)."""
        return answer is not None and answer == self.answer


def majority_vote(answers: Sequence[str | None]) -> Vote:
    """Vote over the extracted answers of one question's paths, in sampling order."""
    counter = Counter(a for a in answers if a is not None)
    # Counter.most_common keeps first-insertion order among equal counts (dicts are ordered),
    # so the earliest-sampled answer wins a tie.
    counts = tuple(counter.most_common())
    n_answered = sum(counter.values())
    if not counts:
        return Vote(None, 0.0, len(answers), 0, ())
    answer, top = counts[0]
    return Vote(answer, top / len(answers), len(answers), n_answered, counts)


def passes(vote: Vote, min_agreement: float | None) -> bool:
    """Whether a question's majority is confident enough to train on (None = keep all)."""
    if vote.answer is None:
        return False
    return min_agreement is None or vote.agreement >= min_agreement
