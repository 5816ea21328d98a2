"""The prefix-sharing scorer (`hf_prefix`) scores exactly the text prompts, on fewer tokens.

Tiny random models built offline: a Llama-like one and a Gemma 3 one whose layers alternate
sliding-window (window 16) and full attention, with contexts of hundreds of tokens, so the
window is crossed many times. Their byte-level tokenizer is trained on text with blank lines,
so "\\n\\n" is one token at the end of a text but two before a word (as in GPT-2-style
tokenizers): the tests see the tokenisation-boundary problem that `tokenisation_pieces`
settles, not a tokenizer where it happens not to arise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import build_tiny_model
from elicit.backends.base import LM, TRUE_FALSE, Demo, LabelSet
from elicit.backends.hf import HFBackend, _LabelPlan
from elicit.backends.prompting import (
    loo_prompts,
    render_context,
    render_demo,
    tokenisation_pieces,
)

WORDS = "the sky is blue grass red claim think true false what two plus four six movie good bad"
TRAIN_TEXT = [
    "Question: What is 2+2? Claim: 4. I think this claim is True\n\n"
    "Question: What is 2+3? Claim: 6. I think this claim is False\n\n",
    "The sky is blue. I think this claim is True\n\nThe grass is red. This is False\n\n",
    "true false TRUE FALSE True False the a an of to in is it that claim think",
] * 20
SLIDING_WINDOW = 16


def build_model(path: Path, arch: str) -> Path:
    """A random causal LM and a BPE tokenizer that learned "\\n\\n" as one token."""
    return build_tiny_model(
        path,
        arch,
        max_positions=1024,
        train_text=TRAIN_TEXT,
        vocab_size=420,
        initializer_range=0.2,
        sliding_window=SLIDING_WINDOW,
        layer_types=["sliding_attention", "full_attention"],
    )


#: One torch thread for this module (tests/conftest.py says why).
ONE_TORCH_THREAD = True


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def lm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    path = build_model(tmp_path_factory.mktemp(f"prefix-{request.param}"), request.param)
    return HFBackend(str(path), batch_size=4, progress=False)


def make_demos(n: int, seed: int = 0) -> list[Demo]:
    """n claims of varied lengths (a few words to a few dozen), labels mixed."""
    rng = np.random.default_rng(seed)
    words = WORDS.split()
    demos = []
    for i in range(n):
        body = " ".join(rng.choice(words, size=int(rng.integers(2, 30))))
        demos.append(Demo(f"Claim {i}: {body}.\nI think this claim is", int(rng.integers(2))))
    return demos


def text_tree_loo(lm: HFBackend, demos: list[Demo], label_set: LabelSet = TRUE_FALSE) -> np.ndarray:
    """The base class's text path: every tree-ordered prompt scored in full."""
    return LM.loo_scores(lm, demos, label_set, order="tree")


# ---------------------------------------------------------------- tokenisation


def test_pieces_cut_at_demo_boundaries() -> None:
    assert tokenisation_pieces("A is True\n\nB is") == ["A is True\n\n", "B is"]
    assert tokenisation_pieces("a\n\n\nb\nc\n\n") == ["a\n\n\n", "b\nc\n\n"]
    assert tokenisation_pieces("") == [""]
    demos = make_demos(5)
    text = render_context(demos, "Q is", LabelSet())
    pieces = [p for d in demos for p in tokenisation_pieces(render_demo(d, LabelSet()))]
    assert tokenisation_pieces(text) == [*pieces, "Q is"]


def test_context_tokens_are_the_demos_tokens(lm: HFBackend) -> None:
    demos = make_demos(4)
    label_set = LabelSet()
    text = render_context(demos, demos[0].prompt, label_set)
    parts = [lm.encoder.tokens(render_demo(d, label_set)) for d in demos]
    joined = [t for p in parts for t in p] + lm.encoder.tokens(demos[0].prompt)
    assert lm.encoder.tokens(text) == joined
    assert lm.encoder.encode(text) == [lm.tokenizer.bos_id, *joined]
    # Whole-text tokenisation would differ at every boundary: "\n\n" before a word is two
    # tokens, at the end of a text one. This is why the rule tokenises piece by piece.
    assert lm.tokenizer.encode(text) != joined
    assert len(lm.tokenizer.encode("is True\n\n")) < len(lm.tokenizer.encode("is True\n\nThe")) - 1


# ---------------------------------------------------------------- exactness


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_tree_loo_equals_text_prompts(lm: HFBackend, n: int) -> None:
    demos = make_demos(n, seed=n)
    fast = lm.loo_scores(demos, order="tree")
    np.testing.assert_allclose(fast, text_tree_loo(lm, demos), atol=1e-4)
    if n >= 8:  # the long contexts do cross the sliding window many times
        longest = max(len(lm.encoder.encode(p)) for p in loo_prompts(demos, LabelSet(), "tree"))
        assert longest > 10 * SLIDING_WINDOW


def test_the_sliding_window_is_exercised(lm: HFBackend) -> None:
    if lm.model.config.model_type != "gemma3_text":
        pytest.skip("no sliding window")
    demos = make_demos(8, seed=8)
    fast = lm.loo_scores(demos, order="tree")
    config = lm.model.config
    assert config.sliding_window == SLIDING_WINDOW
    try:
        config.sliding_window = 4096  # the same model without the window scores differently
        wide = text_tree_loo(lm, demos)
    finally:
        config.sliding_window = SLIDING_WINDOW
    assert np.abs(wide - fast).max() > 0.05
    np.testing.assert_allclose(fast, text_tree_loo(lm, demos), atol=1e-4)


def test_given_loo_and_many_shot_equal_text_prompts(lm: HFBackend) -> None:
    demos = make_demos(6, seed=1)
    label_set = LabelSet()
    np.testing.assert_allclose(
        lm.loo_scores(demos, order="given"), LM.loo_scores(lm, demos, order="given"), atol=1e-4
    )
    queries = [d.prompt for d in make_demos(7, seed=2)]
    naive = lm.score([render_context(demos, q, label_set) for q in queries])
    np.testing.assert_allclose(lm.context_scores(demos, queries), naive, atol=1e-4)
    np.testing.assert_allclose(
        lm.context_scores([], queries), lm.score(queries), atol=1e-4
    )  # BOS alone as the shared prefix
    assert lm.context_scores(demos, []).shape == (0,)
    assert lm.loo_scores([], order="tree").shape == (0,)


def test_loo_with_fixed_context_equals_text_prompts(lm: HFBackend) -> None:
    """Fixed context demos (anchored ICM's context mode) are one shared prefix of every prompt,
    reused from the prefix store on the next call, and the scores stay the text prompts'."""
    demos, fixed = make_demos(6, seed=4), make_demos(5, seed=5)
    for order in ("tree", "given"):
        fast = lm.loo_scores(demos, order=order, context=fixed)
        text = LM.loo_scores(lm, demos, order=order, context=fixed)
        np.testing.assert_allclose(fast, text, atol=1e-4)
    assert np.abs(fast - lm.loo_scores(demos, order="given")).max() > 1e-3  # context matters
    if lm.prefix_store is not None:
        before, reused = lm.tokens_processed, lm.prefix_store.reused_tokens
        lm.loo_scores(demos[1:], order="tree", context=fixed)
        context_tokens = sum(len(lm.encoder.tokens(render_demo(d, LabelSet()))) for d in fixed)
        assert lm.prefix_store.reused_tokens - reused >= context_tokens
        assert lm.tokens_processed - before < sum(
            len(lm.encoder.encode(p)) for p in loo_prompts(demos[1:], LabelSet(), "tree", fixed)
        )


def test_multi_token_labels_and_leaf_sizes(lm: HFBackend) -> None:
    demos = make_demos(7, seed=3)
    label_set = LabelSet((" False", " Quokka!"))  # one single-token, one multi-token word
    assert len(lm.tokenizer.encode(" Quokka!")) > 1
    np.testing.assert_allclose(
        lm.loo_scores(demos, label_set, order="tree"),
        text_tree_loo(lm, demos, label_set),
        atol=1e-4,
    )
    # Any leaf size gives the same scores, and batches of one row too.
    engine = lm._engine()
    plan = _LabelPlan.of(lm.encoder, LabelSet())
    demo_ids = [lm.encoder.tokens(render_demo(d, LabelSet())) for d in demos]
    requests = [plan.requests(tuple(lm.encoder.tokens(d.prompt))) for d in demos]
    runs = []
    for leaf, batch in ((1, 4), (2, 1), (3, 4), (7, 2)):
        engine.batch_size = batch
        res = engine.tree_loo(lm.start_tokens(), demo_ids, requests, plan.singles_tensor, leaf=leaf)
        runs.append(plan.combine([r for rs in res for r in rs], len(demos)))
    for other in runs[1:]:
        np.testing.assert_allclose(other, runs[0], atol=1e-4)


def test_kv_budget_limits_rows_per_call(lm: HFBackend) -> None:
    demos = make_demos(5, seed=4)
    queries = [d.prompt for d in demos]
    engine = lm._engine()
    engine.kv_budget_bytes = 1  # one row per call
    plan = _LabelPlan.of(lm.encoder, LabelSet())
    segments = [lm.start_tokens()] + [lm.encoder.tokens(render_demo(d, LabelSet())) for d in demos]
    requests = [r for q in queries for r in plan.requests(tuple(lm.encoder.tokens(q)))]
    got = plan.combine(engine.context(segments, requests, plan.singles_tensor), len(queries))
    np.testing.assert_allclose(got[:, 1] - got[:, 0], lm.context_scores(demos, queries), atol=1e-4)


# ---------------------------------------------------------------- fallbacks


def test_falls_back_when_a_prompt_would_be_truncated(lm: HFBackend) -> None:
    short = HFBackend(lm.model.name_or_path, max_length=64, progress=False)
    demos = make_demos(5, seed=5)
    assert max(len(short.encoder.tokens(p)) for p in loo_prompts(demos, LabelSet(), "tree")) > 64
    before = short.encoder.n_truncated
    np.testing.assert_allclose(
        short.loo_scores(demos, order="tree"), text_tree_loo(short, demos), atol=1e-12
    )
    assert short.encoder.n_truncated > before  # the text path ran, and truncated


def test_falls_back_for_a_leading_newline_and_when_disabled(lm: HFBackend) -> None:
    demos = [*make_demos(3, seed=6), Demo("\nstarts with a newline. I think this claim is", 1)]
    np.testing.assert_allclose(
        lm.loo_scores(demos, order="tree"), text_tree_loo(lm, demos), atol=1e-12
    )
    off = HFBackend(lm.model.name_or_path, prefix_cache=False, progress=False)
    demos = make_demos(4, seed=7)
    np.testing.assert_allclose(
        off.loo_scores(demos, order="tree"), text_tree_loo(off, demos), atol=1e-12
    )


# ---------------------------------------------------------------- cost


def test_tree_feeds_n_log_n_tokens(lm: HFBackend) -> None:
    demos = make_demos(16, seed=8)
    assert lm.prefix_store is not None
    lm.prefix_store.clear()  # earlier tests stored some of these prefixes: count from scratch
    lm.tokens_processed = 0
    fast = lm.loo_scores(demos, order="tree")
    tree_tokens = lm.tokens_processed
    lm.tokens_processed = 0
    naive = text_tree_loo(lm, demos)
    naive_tokens = lm.tokens_processed
    np.testing.assert_allclose(fast, naive, atol=1e-4)
    assert naive_tokens == sum(
        len(lm.encoder.encode(p)) for p in loo_prompts(demos, LabelSet(), "tree")
    )
    # Each demo is fed once per level of the split (log2 16 = 4 levels), each query once.
    demo_tokens = sum(len(lm.encoder.tokens(render_demo(d, LabelSet()))) for d in demos)
    query_tokens = sum(len(lm.encoder.tokens(d.prompt)) for d in demos)
    assert tree_tokens == 1 + 4 * demo_tokens + query_tokens
    assert tree_tokens < 0.4 * naive_tokens
    # Given order with a prefix cache: each prompt adds one demo to the previous prompt's
    # prefix, then feeds the demos after its own and its query (about half, plus the queries).
    lm.prefix_store.clear()
    lm.tokens_processed = 0
    lm.loo_scores(demos, order="given")
    given_tokens = 1 + demo_tokens - len(lm.encoder.tokens(render_demo(demos[-1], LabelSet())))
    given_tokens += query_tokens + sum(
        len(lm.encoder.tokens(render_demo(d, LabelSet()))) * i for i, d in enumerate(demos)
    )
    assert lm.tokens_processed == given_tokens < 0.7 * naive_tokens


# ---------------------------------------------------------------- the real model


@pytest.mark.slow
def test_real_model_tree_loo_equals_text_prompts(gemma_lm: HFBackend) -> None:
    from elicit.tasks import load_task, sample

    data = sample(load_task("ethics-justice"), 8, seed=0)
    demos = [Demo(ex.prompt, i % 2) for i, ex in enumerate(data.examples)]
    # Gemma 3's tokenizer has no token joining a newline to what follows, so cutting into
    # pieces changes nothing: the pieces' tokens are the whole text's.
    text = render_context(demos, demos[0].prompt, LabelSet())
    assert gemma_lm.encoder.tokens(text) == gemma_lm.tokenizer.encode(text)
    fast = gemma_lm.loo_scores(demos, order="tree")
    np.testing.assert_allclose(fast, text_tree_loo(gemma_lm, demos), atol=1e-3)
    queries = [ex.prompt for ex in sample(load_task("ethics-justice"), 3, seed=1).examples]
    naive = gemma_lm.score([render_context(demos, q, LabelSet()) for q in queries])
    np.testing.assert_allclose(gemma_lm.context_scores(demos, queries), naive, atol=1e-3)
