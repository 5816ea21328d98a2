"""Training targets from labels, and reward-model pairs from comparison claims.

Targets. A classifier trains on (example, P(True)) pairs. The labels come from a source:

    golden   the task's gold labels (the ceiling baseline)
    random   seeded fair coin flips per claim (`baselines.random_labels`, as `elicit eval`)
    file     a labels file: `elicit label`'s labels.jsonl (or its run directory), or any .jsonl
             / .csv with columns uid, label and optionally confidence

A label is 0/1/true/false, or a probability in [0, 1] (a soft label, e.g. a weak model's
prediction). With a confidence c (the probability that the label is right) the target is c for
label 1 and 1 - c for label 0. The "margin" that `elicit label --confidence` writes is not a
probability and is not read here (see `elicit.labels`); an older label run's file, which wrote
the margin as "confidence", is recognised and trains on its hard labels, with a warning. Only
claims whose uid is labelled are trained on; labels for uids not in the data are reported, and
a file that matches none is an error that says which split to label.

Comparisons. Comparison tasks (alpaca-comparison, hh-comparison, truthfulqa-preference) hold
each pair twice, as the claims "Response 1 is better" in the orders "ab" and "ba". A reward
model wants the pair itself: `comparisons` recovers (context, response A, response B) from the
two prompts and P(A wins) from the labels of both orders: t_ab and 1 - t_ba, averaged when
both are labelled. A pair whose two labels cancel (both True or both False: an inconsistent
labelling) has no preference and is dropped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from elicit.errors import DataError
from elicit.evaluation.baselines import random_labels
from elicit.labels import MARGIN, OLD_MARGIN, check_prompts, is_label_run
from elicit.tasks.base import CLAIM_SUFFIX, Example, TaskData
from elicit.tasks.common import parse_label
from elicit.tasks.rows import read_source

log = logging.getLogger("elicit")

LabelSource = Literal["golden", "random", "file"]
LABEL_SOURCES = ("golden", "random", "file")


@dataclass(frozen=True)
class Targets:
    """Labelled training examples: `targets[i]` = P(True) of `examples[i]`."""

    examples: tuple[Example, ...]
    targets: tuple[float, ...]
    source: str
    n_unknown: int = 0

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def frac_true(self) -> float:
        return sum(self.targets) / len(self.targets) if self.targets else float("nan")


def labels_path(path: str | Path) -> Path:
    p = Path(path)
    return p / "labels.jsonl" if p.is_dir() else p


def read_targets(path: str | Path) -> dict[str, float]:
    """uid -> P(True) from a labels file (.jsonl/.json/.csv/.tsv, or a run directory)."""
    p = labels_path(path)
    if not p.is_file():
        raise DataError(
            f"labels file {p} does not exist; pass a labels.jsonl, an `elicit label` run "
            "directory, or a .jsonl/.csv with columns uid,label[,confidence]"
        )
    source = read_source(p)
    # An older `elicit label` wrote its label margins (any real number) as "confidence".
    margins_as_confidence = is_label_run(p) and any(
        OLD_MARGIN in row.data and MARGIN not in row.data for row in source.rows
    )
    if margins_as_confidence:
        log.warning(
            "%s was written by an older `elicit label`, whose 'confidence' field is the label's "
            "energy margin, not the probability that the label is right; it is read as the "
            "margin and ignored, so the labels train as hard 0/1 targets (newer runs write it "
            "as 'margin')",
            p,
        )
    out: dict[str, float] = {}
    for row in source.rows:
        where = source.where(row)
        if "uid" not in row.data or "label" not in row.data:
            raise DataError(
                f"{where}: needs the columns uid and label (0/1, true/false or a probability)"
            )
        uid = str(row.data["uid"])
        if uid in out:
            raise DataError(f"{where}: duplicate uid {uid!r}; keep one label per uid")
        confidence = None if margins_as_confidence else row.data.get("confidence")
        target = _target(row.data["label"], confidence, where)
        if target is not None:
            out[uid] = target
    if not out:
        raise DataError(f"{p} holds no labels (every label is empty)")
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _target(label: Any, confidence: Any, where: str) -> float | None:
    number = _number(label)
    if number is not None and number not in (0.0, 1.0):
        if not 0.0 <= number <= 1.0:
            raise DataError(f"{where}: label {label!r} is neither 0/1 nor a probability in [0, 1]")
        hard: float | None = number
    else:
        parsed = parse_label(int(number) if number is not None else label, where)
        hard = None if parsed is None else float(parsed)
    if hard is None:
        return None
    if confidence is None or confidence == "":
        return hard
    c = _number(confidence)
    if c is None or not 0.0 <= c <= 1.0:
        raise DataError(f"{where}: confidence {confidence!r} is not a probability in [0, 1]")
    return c * hard + (1 - c) * (1 - hard)


def select(examples: Sequence[Example], labels: Mapping[str, float], *, what: str) -> Targets:
    """The examples that `labels` covers, with their targets; errors and warnings name `what`."""
    chosen = [ex for ex in examples if ex.uid in labels]
    uids = {ex.uid for ex in examples}
    unknown = sum(uid not in uids for uid in labels)
    if not chosen:
        example = next(iter(labels), None)
        raise DataError(
            f"{what}: none of its {len(labels)} uids (e.g. {example!r}) is among the "
            f"{len(examples)} training claims. Label the same task and split (elicit label "
            "--task TASK --split train) or pass the --task/--split/--n the labels were made for."
        )
    if unknown:
        log.warning(
            "%s: %d of %d labelled uids are not among the training claims and are ignored",
            what,
            unknown,
            len(labels),
        )
    targets = tuple(float(labels[ex.uid]) for ex in chosen)
    if len({round(t) for t in targets}) == 1:
        log.warning(
            "%s: all %d training labels say %s; the fine-tuned model can only learn to always "
            "answer that (ICM without the consistency term collapses like this)",
            what,
            len(targets),
            "True" if targets[0] >= 0.5 else "False",
        )
    return Targets(tuple(chosen), targets, what, unknown)


def label_targets(
    data: TaskData, source: LabelSource, *, path: str | None = None, seed: int = 0
) -> Targets:
    """Training targets for `data` from `source` (see the module docstring)."""
    if source == "golden":
        if not data.gold:
            raise DataError(
                f"task {data.task!r} has no gold labels on this split; use --label-source file "
                "with --labels PATH, or random"
            )
        gold = {uid: float(v) for uid, v in data.gold.items()}
        return _named(select(data.examples, gold, what="golden labels"), "golden")
    if source == "random":
        flips = random_labels([ex.uid for ex in data.examples], seed)
        return _named(
            select(data.examples, {u: float(v) for u, v in flips.items()}, what="random labels"),
            "random",
        )
    if path is None:
        raise DataError(
            "--label-source file needs --labels PATH (a labels.jsonl or a run directory)"
        )
    targets = read_targets(path)
    # An `elicit label` run's labels carry a hash of each claim's prompt: never train on a
    # label paired with text that changed since (labels.check_prompts).
    check_prompts(path, {ex.uid: ex.prompt for ex in data.examples}, f"--labels {path}")
    return select(data.examples, targets, what=f"--labels {path}")


def _named(t: Targets, name: str) -> Targets:
    return Targets(t.examples, t.targets, name, t.n_unknown)


# ---------------------------------------------------------------------- comparisons

_R1 = "\nResponse 1: "
_R2 = "\nResponse 2: "
_CLAIM = "\nClaim: "


@dataclass(frozen=True)
class Comparison:
    """One pair: a context, two responses, and P(response_a is the better one)."""

    uid: str
    context: str
    response_a: str
    response_b: str
    p_a_wins: float


def reward_text(context: str, response: str) -> str:
    """What the reward model reads: the conversation so far and one reply (r(x, y))."""
    return f"{context}\n\nAssistant: {response}"


def _body(prompt: str, uid: str) -> str:
    cut = prompt.rfind(_CLAIM)
    if not prompt.endswith(CLAIM_SUFFIX) or cut < 0 or _R1 not in prompt[:cut]:
        raise DataError(
            f"claim {uid!r} is not a pairwise comparison ('...Response 1: ...Response 2: "
            "...Claim: ...'); reward models train on comparison tasks such as "
            "alpaca-comparison or hh-comparison"
        )
    return prompt[:cut]


def split_pair(first: Example, second: Example | None) -> tuple[str, str, str]:
    """(context, response 1, response 2) of claim `first`; `second`, the same pair in the other
    order, tells where response 1 ends when a response itself contains 'Response 2:'."""
    body = _body(first.prompt, first.uid)
    start = body.find(_R1)
    context, rest = body[:start], body[start + len(_R1) :]
    cuts = [m.start() for m in re.finditer(re.escape(_R2), rest)]
    if not cuts:
        raise DataError(f"claim {first.uid!r} has no 'Response 2:'; it is not a comparison")
    if second is not None:
        other = _body(second.prompt, second.uid)
        for c in cuts:
            a, b = rest[:c], rest[c + len(_R2) :]
            if other == f"{context}{_R1}{b}{_R2}{a}":
                return context, a, b
    c = cuts[0]
    return context, rest[:c], rest[c + len(_R2) :]


def comparisons(
    examples: Sequence[Example], labels: Mapping[str, float]
) -> tuple[list[Comparison], int]:
    """Pairs with P(A wins) from the labelled claims of `examples`, and how many labelled
    pairs were dropped for having no preference (their two orders' labels cancel)."""
    groups: dict[str, dict[str, Example]] = {}
    for ex in examples:
        groups.setdefault(ex.group, {})[ex.key] = ex
    out: list[Comparison] = []
    dropped = 0
    for group, members in groups.items():
        if set(members) - {"ab", "ba"}:
            raise DataError(
                f"group {group!r} has claims with keys {sorted(members)}; a comparison pair "
                "holds the orders 'ab' and 'ba' (use a comparison task)"
            )
        votes = []
        if "ab" in members and members["ab"].uid in labels:
            votes.append(labels[members["ab"].uid])
        if "ba" in members and members["ba"].uid in labels:
            votes.append(1.0 - labels[members["ba"].uid])
        if not votes:
            continue
        p = sum(votes) / len(votes)
        if p == 0.5:
            dropped += 1
            continue
        first = members.get("ab") or members["ba"]
        context, r1, r2 = split_pair(first, members.get("ba") if "ab" in members else None)
        a, b = (r1, r2) if first.key == "ab" else (r2, r1)
        out.append(Comparison(group, context, a, b, p))
    return out, dropped


__all__ = [
    "LABEL_SOURCES",
    "Comparison",
    "LabelSource",
    "Targets",
    "comparisons",
    "label_targets",
    "labels_path",
    "read_targets",
    "reward_text",
    "select",
    "split_pair",
]
