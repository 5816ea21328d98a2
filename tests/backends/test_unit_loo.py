"""Leave-one-out by units (`LM.unit_loo_scores`, ICM's balanced form): every query is scored on
exactly its text prompt, by every engine that serves it.

The prompts (`prompting.unit_loo_prompts`) are checked by hand; the engines (the depth-first
and packed prefix engines of the hf backend, the caching wrapper, llama.cpp) against the text
prompts scored one by one, on the tiny random models of test_hf_prefix (a Llama-like one and a
Gemma 3 one with sliding-window layers) and, for llama.cpp, on the real GGUF model (slow).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_hf_prefix import build_model, make_demos

from elicit.backends.base import LM, TRUE_FALSE, Demo, LabelSet, LooUnit
from elicit.backends.cache import CachedLM
from elicit.backends.fake import ScriptedLM
from elicit.backends.hf import HFBackend
from elicit.backends.prompting import (
    asked_order,
    check_units,
    loo_prompts,
    render_demo,
    solo_units,
    unit_loo_prompts,
)
from elicit.search.energy import balanced_units

#: One torch thread for this module (tests/conftest.py says why).
ONE_TORCH_THREAD = True

#: Label patterns that give 0 pairs (constant), 1 pair, balanced and unbalanced unit sets.
PATTERNS = {
    "constant": [1] * 6,
    "one pair": [0, 1, 1, 1, 1, 1],
    "balanced": [1, 0, 0, 1, 1, 0, 0, 1],
    "unbalanced": [1, 1, 0, 1, 1, 0, 1, 1, 0],
}


def labelled(demos: list[Demo], labels: list[int]) -> list[Demo]:
    return [Demo(d.prompt, y) for d, y in zip(demos, labels, strict=True)]


# ------------------------------------------------------------------ prompts


def test_solo_units_are_plain_leave_one_out() -> None:
    demos = [Demo(f"claim {i} is", i % 2) for i in range(7)]
    fixed = [Demo("anchor is", 1)]
    for order in ("tree", "given"):
        assert unit_loo_prompts(demos, solo_units(7), TRUE_FALSE, order) == loo_prompts(
            demos, TRUE_FALSE, order
        )
        assert unit_loo_prompts(demos, solo_units(7), TRUE_FALSE, order, fixed) == loo_prompts(
            demos, TRUE_FALSE, order, fixed
        )


def test_balanced_prompts_hold_the_other_pairs_true_first() -> None:
    labels = [1, 0, 1, 1, 0, 1]  # pairs (0, 1), (2, 4); leftovers 3 -> pair 0, 5 -> pair 1
    demos = [Demo(f"c{i} is", y) for i, y in enumerate(labels)]
    units = balanced_units(labels)
    assert units == [LooUnit((0, 1), (0, 1, 3)), LooUnit((2, 4), (2, 4, 5))]
    prompts = unit_loo_prompts(demos, units, TRUE_FALSE, "tree")
    for i in (0, 1, 3):
        assert prompts[i] == f"c2 is True\n\nc4 is False\n\nc{i} is"
    for i in (2, 4, 5):
        assert prompts[i] == f"c0 is True\n\nc1 is False\n\nc{i} is"
    assert asked_order(units) == [0, 1, 3, 2, 4, 5]


@pytest.mark.parametrize("labels", list(PATTERNS.values()), ids=list(PATTERNS))
def test_every_balanced_context_holds_as_many_true_as_false(labels: list[int]) -> None:
    demos = [Demo(f"c{i} is", y) for i, y in enumerate(labels)]
    units = balanced_units(labels)
    check_units(units, len(labels))
    k = min(labels.count(0), labels.count(1))
    for prompt in unit_loo_prompts(demos, units, TRUE_FALSE, "tree"):
        # k - 1 other pairs (none with fewer than two pairs), True and False alike.
        assert prompt.count(" True\n\n") == prompt.count(" False\n\n") == max(k - 1, 0)


def test_units_are_checked() -> None:
    with pytest.raises(ValueError, match="asked by exactly one unit"):
        check_units([LooUnit((0,), (0,)), LooUnit((1,), (0,))], 2)
    with pytest.raises(ValueError, match="shown demos must be distinct"):
        check_units([LooUnit((0,), (0,)), LooUnit((0,), (1,))], 2)
    with pytest.raises(ValueError, match="shown demos must be distinct"):
        check_units([LooUnit((2,), (0, 1))], 2)


def test_the_default_scores_text_prompts_in_walk_order() -> None:
    lm = ScriptedLM(lambda p: len(p) / 10.0)
    labels = PATTERNS["unbalanced"]
    demos = [Demo(f"claim {i} is", y) for i, y in enumerate(labels)]
    units = balanced_units(labels)
    scores = lm.unit_loo_scores(demos, units, TRUE_FALSE, order="tree")
    prompts = unit_loo_prompts(demos, units, TRUE_FALSE, "tree")
    np.testing.assert_allclose(scores, [len(p) / 10.0 for p in prompts])
    # One call, unit by unit: consecutive prompts share their units' prefix.
    assert lm.n_calls == 1 and lm.prompts == [prompts[i] for i in asked_order(units)]
    assert lm.unit_loo_scores([], [], TRUE_FALSE).shape == (0,)


def test_cache_serves_unit_prompts(tmp_path: Path) -> None:
    inner = ScriptedLM(lambda p: (len(p) % 7) - 3.0)
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    labels = PATTERNS["balanced"]
    demos = [Demo(f"claim {i} is", y) for i, y in enumerate(labels)]
    units = balanced_units(labels)
    first = lm.unit_loo_scores(demos, units, TRUE_FALSE, order="tree")
    np.testing.assert_allclose(first, inner.unit_loo_scores(demos, units, TRUE_FALSE))
    n = inner.n_prompts
    again = lm.unit_loo_scores(demos, units, TRUE_FALSE, order="tree")
    np.testing.assert_array_equal(again, first)
    assert inner.n_prompts == n and lm.hits == len(demos)
    # The same text through `score` is the same entry.
    lm.score(unit_loo_prompts(demos, units, TRUE_FALSE, "tree"))
    assert inner.n_prompts == n


# ------------------------------------------------------------------ the hf engines


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def lm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    path = build_model(tmp_path_factory.mktemp(f"units-{request.param}"), request.param)
    return HFBackend(str(path), batch_size=4, progress=False)


def text_unit_loo(lm: LM, demos: list[Demo], units: list[LooUnit], **kw: object) -> np.ndarray:
    """The base class's text path: every prompt scored in full."""
    return LM.unit_loo_scores(lm, demos, units, TRUE_FALSE, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["tree", "packed"])
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_hf_unit_loo_equals_text_prompts(lm: HFBackend, engine: str, pattern: str) -> None:
    labels = PATTERNS[pattern]
    demos = labelled(make_demos(len(labels), seed=3), labels)
    units = balanced_units(labels)
    lm.loo_engine = engine  # type: ignore[assignment]
    try:
        for order in ("tree", "given") if engine == "tree" else ("tree",):
            fast = lm.unit_loo_scores(demos, units, TRUE_FALSE, order=order)  # type: ignore[arg-type]
            np.testing.assert_allclose(
                fast, text_unit_loo(lm, demos, units, order=order), atol=1e-4
            )
        fixed = make_demos(2, seed=9)
        fast = lm.unit_loo_scores(demos, units, TRUE_FALSE, order="tree", context=fixed)
        slow = text_unit_loo(lm, demos, units, order="tree", context=fixed)
        np.testing.assert_allclose(fast, slow, atol=1e-4)
    finally:
        lm.loo_engine = "tree"


@pytest.mark.parametrize("engine", ["tree", "packed"])
def test_hf_unit_tree_feeds_fewer_tokens(lm: HFBackend, engine: str) -> None:
    labels = [i % 2 for i in range(16)]
    demos = labelled(make_demos(16, seed=5), labels)
    units = balanced_units(labels)
    store, lm.prefix_store = lm.prefix_store, None  # count every token the walk feeds
    lm.loo_engine = engine  # type: ignore[assignment]
    try:
        lm.tokens_processed = 0
        fast = lm.unit_loo_scores(demos, units, TRUE_FALSE, order="tree")
        tree_tokens = lm.tokens_processed
        lm.tokens_processed = 0
        slow = text_unit_loo(lm, demos, units, order="tree")
        naive_tokens = lm.tokens_processed
    finally:
        lm.prefix_store = store
        lm.loo_engine = "tree"
    np.testing.assert_allclose(fast, slow, atol=1e-4)
    assert tree_tokens < 0.4 * naive_tokens


# ------------------------------------------------------------------ llama.cpp (real model)


@pytest.fixture(scope="module")
def llama_lm() -> Iterator[LM]:
    from elicit.backends import load_lm

    lm = load_lm("gemma-3-270m", backend="llamacpp", batch_size=8, progress=False, n_threads=1)
    yield lm
    lm.close()


@pytest.mark.slow
@pytest.mark.llamacpp
def test_llamacpp_unit_loo_equals_text_prompts(llama_lm: LM) -> None:
    """Joined tokens score exactly the text prompts, bit for bit."""
    labels = PATTERNS["unbalanced"]
    demos = [
        Demo(f"Review: movie {i} was {'good' if y else 'bad'}.\nI think this claim is", y)
        for i, y in enumerate(labels)
    ]
    units = balanced_units(labels)
    fixed = [Demo("Review: fine.\nI think this claim is", 1)]
    for order in ("given", "tree"):
        reused = llama_lm.unit_loo_scores(demos, units, LabelSet(), order=order, context=fixed)  # type: ignore[arg-type]
        fresh = llama_lm.score(unit_loo_prompts(demos, units, LabelSet(), order, fixed))
        np.testing.assert_array_equal(reused, fresh)


def test_balanced_proposal_reuses_the_pairs_the_tree_stored(lm: HFBackend) -> None:
    """ICM's next proposal is scored after all k pairs, one segment per pair as in the unit
    tree, so the prefix store serves the pairs the tree walk stored."""
    from elicit.search.consistency import ConsistencyRule
    from elicit.search.energy import EnergyEvaluator
    from elicit.tasks.base import Consistency, Example

    demos = make_demos(9, seed=11)
    examples = [Example(f"u{i}", d.prompt, f"g{i}") for i, d in enumerate(demos)]
    rule = ConsistencyRule(examples, Consistency.NONE)
    ev = EnergyEvaluator(lm, examples, rule, list(range(9)), mp="balanced")
    labelling = {i: y for i, y in enumerate([1, 0, 0, 1, 1, 0, 1, 0])}
    current = ev.evaluate(labelling)
    pairs = ev.proposal_demos(current.key)
    text = "".join(render_demo(d, TRUE_FALSE) for d in pairs) + demos[8].prompt
    assert text.count(" True\n\n") == text.count(" False\n\n") == 4
    lm.tokens_processed = 0
    score = ev.predict_score(current, 8)
    fed = lm.tokens_processed
    assert score == pytest.approx(float(LM.score(lm, [text])[0]), abs=1e-4)
    # The walk stored BOS + pairs 0, 1 (the prefix of units 2 and 3's leaf rows): only
    # pairs 2, 3 and the query are fed. Demo by demo, every segment would miss.
    sizes = [len(lm.encoder.tokens(render_demo(p, TRUE_FALSE))) for p in pairs]
    assert fed == sizes[2] + sizes[3] + len(lm.encoder.tokens(demos[8].prompt))


def test_cache_sends_many_misses_to_the_engine(lm: HFBackend, tmp_path: Path) -> None:
    labels = PATTERNS["unbalanced"]
    demos = labelled(make_demos(len(labels), seed=4), labels)
    units = balanced_units(labels)
    cached = CachedLM(lm, tmp_path / f"{lm.name.replace('/', '_')}.sqlite")
    lm.tokens_processed = 0
    first = cached.unit_loo_scores(demos, units, TRUE_FALSE, order="tree")
    assert lm.tokens_processed > 0 and cached.misses == len(demos)
    np.testing.assert_allclose(first, text_unit_loo(lm, demos, units, order="tree"), atol=1e-4)
    lm.tokens_processed = 0
    np.testing.assert_array_equal(cached.unit_loo_scores(demos, units, TRUE_FALSE), first)
    assert lm.tokens_processed == 0 and cached.hits == len(demos)
