"""A scripted LM whose leave-one-out scores favour a planted labelling, and pools to search.

Every example's prompt is "Item <i>: ...\\nI think this claim is". The rule reads the demos in
a prompt (their items and label words) and the query item, and returns

    s = (2 p_q - 1) * (strength * (2 a - 1) + prior) + noise_q + copy * (2 t - 1)

where p_q is the query's planted label, a the fraction of demos whose label equals their
planted label (0.5 with no demos), noise_q a fixed per-item offset in [-noise, noise], and t the
fraction of demos labelled True (`copy` > 0 mimics a small model copying the majority label).
With copy = 0 and |noise| < strength + prior, every labelled example is predicted best when all
labels are the planted ones, so MP (every form) is maximal at the planted labelling. The flipped
labelling scores strength - prior: with the defaults (prior > strength) it is no local optimum,
so the planted labelling is the one attractor, while the noise (as large as the prior) makes
early proposals, from a context of random labels, often wrong.
"""

from __future__ import annotations

import random
import re

from elicit.backends.fake import ScriptedLM
from elicit.tasks.base import CLAIM_SUFFIX, Consistency, Example

ITEM = re.compile(r"Item (\d+):[^\n]*\n" + CLAIM_SUFFIX + r"( True| False)?")


def planted_lm(
    planted: dict[int, int],
    *,
    strength: float = 2.0,
    prior: float = 3.0,
    noise: float = 2.0,
    copy: float = 0.0,
    seed: int = 0,
) -> ScriptedLM:
    rng = random.Random(seed)
    offsets = {i: rng.uniform(-noise, noise) for i in sorted(planted)}

    def rule(prompt: str) -> float:
        found = ITEM.findall(prompt)
        (query, tail), demos = found[-1], found[:-1]
        assert tail == "", "the prompt must end with the query's claim"
        q = int(query)
        if demos:
            agree = sum(planted[int(i)] == (w == " True") for i, w in demos) / len(demos)
            true = sum(w == " True" for _, w in demos) / len(demos)
        else:
            agree, true = 0.5, 0.5
        sign = 2 * planted[q] - 1
        return sign * (strength * (2 * agree - 1) + prior) + offsets[q] + copy * (2 * true - 1)

    return ScriptedLM(rule, name="planted")


def prompt(i: int, text: str = "") -> str:
    return f"Item {i}: {text or 'a claim'}\n{CLAIM_SUFFIX}"


def pool(kind: Consistency, n: int, seed: int = 0) -> tuple[list[Example], dict[int, int]]:
    """`n` examples with groups and keys for `kind`, and a planted labelling consistent with it.

    NONE: singleton groups, balanced labels. COMPARISON: pairs "ab"/"ba", exactly one True.
    ANSWER: groups of 4 with keys [x, y, y, z]; one key is correct (both y-claims share it).
    """
    rng = random.Random(seed)
    examples: list[Example] = []
    planted: dict[int, int] = {}
    if kind is Consistency.NONE:
        labels = [i % 2 for i in range(n)]
        rng.shuffle(labels)
        for i in range(n):
            examples.append(Example(f"u{i}", prompt(i), f"g{i}"))
            planted[i] = labels[i]
    elif kind is Consistency.COMPARISON:
        for g in range(n // 2):
            first = rng.randrange(2)
            for k, key in enumerate(("ab", "ba")):
                i = 2 * g + k
                examples.append(Example(f"u{i}", prompt(i), f"g{g}", key))
                planted[i] = int(k == first)
    elif kind is Consistency.ANSWER:
        for g in range(n // 4):
            keys = ["x", "y", "y", "z"]
            correct = rng.choice(["x", "y", "z"])
            for k, key in enumerate(keys):
                i = 4 * g + k
                examples.append(Example(f"u{i}", prompt(i), f"g{g}", key))
                planted[i] = int(key == correct)
    return examples, planted


def agreement(labels: dict[str, int], examples: list[Example], planted: dict[int, int]) -> float:
    """Agreement over all examples (an unlabelled one counts as wrong)."""
    by_uid = {ex.uid: planted[i] for i, ex in enumerate(examples)}
    return sum(labels.get(uid) == y for uid, y in by_uid.items()) / len(by_uid)
