"""Anchored ICM and label confidence, on a scripted LM with per-item evidence.

The LM's leave-one-out score of item q is (2 p_q - 1) * e_q: the planted label p_q, held with
evidence e_q, whatever the context. MP is then highest at the planted labelling, and an item's
evidence sets how much energy its label is worth.
"""

from __future__ import annotations

import math
import re

import pytest
from planted import prompt

from elicit.backends.fake import ScriptedLM
from elicit.errors import ConfigError
from elicit.search.icm import SearchConfig, run_search
from elicit.tasks.base import CLAIM_SUFFIX, Consistency, Example

N = 16
ITEM = re.compile(r"Item (\d+):[^\n]*\n" + CLAIM_SUFFIX + r"( True| False)?")
PLANTED = {i: int(i % 2 == 0) for i in range(N)}


def evidence_lm(evidence: dict[int, float]) -> ScriptedLM:
    def rule(text: str) -> float:
        q = int(ITEM.findall(text)[-1][0])
        return (2 * PLANTED[q] - 1) * evidence.get(q, 3.0)

    return ScriptedLM(rule, name="evidence")


EXAMPLES = [Example(f"u{i}", prompt(i), f"g{i}") for i in range(N)]


def search(evidence: dict[int, float], anchors: dict[str, int], **config: object):  # type: ignore[no-untyped-def]
    settings = {"iterations": 60, **config}
    return run_search(
        evidence_lm(evidence),
        EXAMPLES,
        Consistency.NONE,
        SearchConfig(**settings),  # type: ignore[arg-type]
        seed=0,
        anchors=anchors,
    )


def test_wrong_anchor_is_overruled_by_strong_evidence() -> None:
    wrong = {"u3": 1 - PLANTED[3]}  # item 3 is planted False; the anchor says True
    result = search({}, {"u0": 1, **wrong}, anchor_weight=5.0)
    assert result.labels["u3"] == PLANTED[3]
    assert result.overruled == {"u3": (1, 0)}
    assert result.labels["u0"] == 1  # a right anchor stays


def test_wrong_anchor_is_kept_when_the_evidence_is_weak() -> None:
    result = search({3: 0.01}, {"u3": 1 - PLANTED[3]}, anchor_weight=5.0)
    assert result.labels["u3"] == 1 - PLANTED[3]
    assert result.overruled == {}
    # The other labels still follow the model.
    others = {u: y for u, y in result.labels.items() if u != "u3"}
    assert sum(y == PLANTED[int(u[1:])] for u, y in others.items()) >= len(others) - 1


def test_frozen_anchors_never_change() -> None:
    result = search({}, {"u3": 1 - PLANTED[3]}, anchor_weight=math.inf)
    assert result.labels["u3"] == 1 - PLANTED[3] and result.overruled == {}
    assert "u3" not in {row.uid for row in result.trace}  # never even proposed


def test_anchors_start_labelled_instead_of_random_labels() -> None:
    anchors = {f"u{i}": PLANTED[i] for i in range(8)}
    result = search({}, anchors, iterations=0, final_fix=False)
    assert result.labels == anchors  # init_size 8 is filled by the anchors


def test_confidence_ranks_the_ambiguous_example_lowest() -> None:
    result = search({5: 0.05}, {}, iterations=120, confidence=True, unlabelled_margins=True)
    assert set(result.margins) == {ex.uid for ex in EXAMPLES}
    labelled = {u: m for u, m in result.margins.items() if u in result.labels}
    assert min(labelled, key=labelled.__getitem__) == "u5"
    assert all(m > 0 for u, m in labelled.items() if u != "u5")


def test_confidence_of_an_unlabelled_example_is_how_decided_its_label_is() -> None:
    anchors = {f"u{i}": PLANTED[i] for i in range(8)}
    settings = {"iterations": 0, "final_fix": False, "confidence": True}
    result = search({12: 0.05}, anchors, **settings, unlabelled_margins=True)
    unlabelled = {u: m for u, m in result.margins.items() if u not in result.labels}
    assert len(unlabelled) == 8 and min(unlabelled, key=unlabelled.__getitem__) == "u12"
    assert all(m >= 0 for m in unlabelled.values())
    # Without suggestions to rank, only the labels held get a margin (2 evaluations saved per
    # unlabelled example), and those margins are the same.
    held = search({12: 0.05}, anchors, **settings)
    assert held.margins == {u: m for u, m in result.margins.items() if u in result.labels}


def test_bad_anchors_are_refused() -> None:
    with pytest.raises(ConfigError, match="not in the pool"):
        search({}, {"nope": 1})
    with pytest.raises(ConfigError, match="0 or 1"):
        search({}, {"u1": 2})
    pair = [Example("a", prompt(0), "g", "ab"), Example("b", prompt(1), "g", "ba")]
    with pytest.raises(ConfigError, match="contradict each other"):
        run_search(
            evidence_lm({}),
            pair,
            Consistency.COMPARISON,
            SearchConfig(anchor_weight=math.inf),
            anchors={"a": 1, "b": 1},
        )
    with pytest.raises(ConfigError, match="anchor-weight"):
        SearchConfig(anchor_weight=-1.0)


def test_a_pool_of_frozen_anchors_has_nothing_to_search() -> None:
    anchors = {ex.uid: PLANTED[i] for i, ex in enumerate(EXAMPLES)}
    result = search({}, anchors, anchor_weight=math.inf)
    assert result.labels == anchors
    assert result.iterations == 0 and result.trace == ()


def demo_learner() -> ScriptedLM:
    """An LM with no evidence of its own that generalises from its demos: each labelled demo
    votes for its label on queries of its own parity and against it on the other parity."""

    def rule(text: str) -> float:
        *demos, (query, _) = ITEM.findall(text)
        same = [1 if int(d) % 2 == int(query) % 2 else -1 for d, _ in demos]
        votes = [1 if label == " True" else -1 for _, label in demos]
        return float(sum(s * v for s, v in zip(same, votes, strict=True)))

    return ScriptedLM(rule, name="demo-learner")


def test_context_anchors_are_a_prefix_of_every_prompt_and_never_scored() -> None:
    anchors = {f"u{i}": PLANTED[i] for i in (0, 1, 2, 3)}
    lm = demo_learner()
    result = run_search(
        lm,
        EXAMPLES,
        Consistency.NONE,
        SearchConfig(
            iterations=100, anchor_weight=math.inf, anchor_mode="context", confidence=True
        ),
        seed=0,
        anchors=anchors,
    )
    # The anchors teach the orientation: every other label follows the planted one.
    assert {u: y for u, y in result.labels.items() if u in anchors} == anchors
    own = {u: y for u, y in result.labels.items() if u not in anchors}
    assert own == {f"u{i}": PLANTED[i] for i in range(4, N)}
    # Anchors are context, not queries: no score, no margin, never overruled, and each prompt
    # opens with the four anchor demos (in context order) before any other item.
    assert not set(anchors) & (set(result.scores) | set(result.margins))
    assert set(result.margins) == {ex.uid for ex in EXAMPLES} - set(anchors)
    assert result.overruled == {}
    for text in lm.prompts:
        items = [int(d) for d, _ in ITEM.findall(text)]
        assert sorted(items[:4]) == [0, 1, 2, 3] and not {0, 1, 2, 3} & set(items[4:])


def test_context_anchors_must_be_frozen() -> None:
    with pytest.raises(ConfigError, match="anchor-weight inf"):
        SearchConfig(anchor_mode="context", anchor_weight=5.0)
    with pytest.raises(ConfigError, match="anchor-mode"):
        SearchConfig(anchor_mode="sticky")  # type: ignore[arg-type]
