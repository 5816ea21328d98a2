"""The packed tree engine (`hf_packed`) scores exactly what the depth-first engine and the text
prompts score, with the same tokens, in fewer forward passes.

Same tiny random models as test_hf_prefix: a Llama-like one and a Gemma 3 one whose layers
alternate sliding-window (window 16) and full attention, with contexts of hundreds of tokens,
so the window is crossed many times inside the packed tree. Chunking is forced with small
`max_tokens` so that prefix prefills, packed siblings and single subtrees all occur.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from test_hf_prefix import build_model, make_demos, text_tree_loo

from elicit.backends.base import LM, TRUE_FALSE, Demo, LabelSet
from elicit.backends.hf import HFBackend, _LabelPlan
from elicit.backends.hf_packed import (
    MaskPlan,
    PackedChunk,
    PackedEngine,
    PackedUnsupported,
    TreeNode,
    loo_tree,
)
from elicit.backends.hf_prefix import Request
from elicit.backends.prompting import render_demo, tree_loo_orders
from elicit.errors import ConfigError

#: One torch thread for this module (tests/conftest.py says why).
ONE_TORCH_THREAD = True


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def lm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    path = build_model(tmp_path_factory.mktemp(f"packed-{request.param}"), request.param)
    return HFBackend(str(path), batch_size=4, progress=False)


def packed_loo(
    lm: HFBackend, demos: list[Demo], label_set: LabelSet = TRUE_FALSE, **options: Any
) -> tuple[np.ndarray, PackedEngine]:
    """Tree LOO log-odds through a `PackedEngine` built with `options`, as `loo_scores` does."""
    plan = _LabelPlan.of(lm.encoder, label_set)
    demo_ids = [lm.encoder.tokens(render_demo(d, label_set)) for d in demos]
    requests = [plan.requests(tuple(lm.encoder.tokens(d.prompt))) for d in demos]
    engine = PackedEngine(lm._engine(), **options)
    res = engine.tree_loo(lm.start_tokens(), demo_ids, requests, plan.singles_tensor)
    lp = plan.combine([r for rs in res for r in rs], len(demos))
    return lp[:, 1] - lp[:, 0], engine


def tree_loo(lm: HFBackend, demos: list[Demo], label_set: LabelSet = TRUE_FALSE) -> np.ndarray:
    """The depth-first engine's scores."""
    old, lm.loo_engine = lm.loo_engine, "tree"
    try:
        return lm.loo_scores(demos, label_set, order="tree")
    finally:
        lm.loo_engine = old


# ---------------------------------------------------------------- layout and masks


def test_layout_of_two_queries() -> None:
    # The module docstring's example: BOS, demos a and b of 2 tokens, query prompts of 1.
    bos, a, b, p, q = (1,), (10, 11), (20, 21), (30,), (40,)
    root, _, slots = loo_tree(bos, [a, b], [[Request(p, ())], [Request(q, ())]])
    chunk = PackedChunk.of([root], 0)
    assert chunk.ids == [1, 20, 21, 30, 10, 11, 40]
    assert chunk.positions == [0, 1, 2, 3, 1, 2, 3]
    assert chunk.ends == [7, 4, 4, 4, 7, 7, 7]
    assert chunk.reads == [3, 6] and [slots[s].request for s in chunk.slots] == [0, 1]
    expect = [
        [1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 0, 0, 0, 1, 0, 0],
        [1, 0, 0, 0, 1, 1, 0],
        [1, 0, 0, 0, 1, 1, 1],
    ]
    assert chunk.allowed(None).int().tolist() == expect
    # On a prefix of 2 tokens: every packed token sees the prefix, positions shift by 2, and a
    # window of 3 on path positions cuts the oldest keys.
    shifted = PackedChunk.of(root.children, 2)
    assert shifted.positions == [2, 3, 4, 2, 3, 4]
    mask = shifted.allowed(3).int().tolist()  # columns: 2 prefix tokens, then the 6 packed
    assert mask[2] == [0, 0, 1, 1, 1, 0, 0, 0]  # p at 4 sees positions 2-4: b1 b2 p
    assert mask[3] == [1, 1, 0, 0, 0, 1, 0, 0]  # a1 at 2 sees positions 0-2: prefix, a1
    assert mask[5] == [0, 0, 0, 0, 0, 1, 1, 1]  # q at 4 sees positions 2-4: a1 a2 q


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_tree_paths_are_the_tree_orders(n: int) -> None:
    """Walking the packed layout's mask from each query's last token back gives exactly BOS,
    the demos in `tree_loo_orders` order and the query, at positions 0, 1, 2, ..."""
    demos = [tuple(range(100 * j, 100 * j + 1 + j % 3)) for j in range(n)]  # uneven lengths
    queries = [[Request((1000 + i, 2000 + i), ())] for i in range(n)]
    root, _, slots = loo_tree((7,), demos, queries)
    chunk = PackedChunk.of([root], 0)
    mask = chunk.allowed(None)
    for read, slot in zip(chunk.reads, chunk.slots, strict=True):
        i = slots[slot].request
        seen = mask[read].nonzero().flatten().tolist()
        expect = [7, *[t for j in tree_loo_orders(n)[i] for t in demos[j]], 1000 + i, 2000 + i]
        assert [chunk.ids[k] for k in seen] == expect
        assert [chunk.positions[k] for k in seen] == list(range(len(expect)))
    assert root.size == len(chunk.ids)


def test_block_mask_equals_dense_mask() -> None:
    from torch.nn.attention.flex_attention import create_mask

    demos = [tuple(range(10 * j, 10 * j + 3 + j)) for j in range(5)]
    queries = [[Request((500 + i,) * (1 + i % 2), ())] for i in range(5)]
    root, _, _ = loo_tree((1,), demos, queries)
    for forest, offset in (([root], 0), (root.children[0].children, 9)):
        chunk = PackedChunk.of(forest, offset)
        n = len(chunk.ids)
        for window in (None, 5):
            block = chunk.block_mask(window, torch.device("cpu"))
            dense = create_mask(block.mask_mod, 1, 1, n, offset + n, device="cpu")[0, 0]
            assert torch.equal(dense, chunk.allowed(window))


# ---------------------------------------------------------------- exactness


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16])
def test_packed_equals_tree_engine_and_text_prompts(lm: HFBackend, n: int) -> None:
    demos = make_demos(n, seed=n)
    tree = tree_loo(lm, demos)
    text = text_tree_loo(lm, demos)
    lm.loo_engine = "packed"
    try:
        packed = lm.loo_scores(demos, order="tree")
    finally:
        lm.loo_engine = "tree"
    np.testing.assert_allclose(packed, tree, atol=1e-4)
    np.testing.assert_allclose(packed, text, atol=1e-4)


def test_packed_with_fixed_context_equals_text_prompts(lm: HFBackend) -> None:
    demos, fixed = make_demos(5, seed=21), make_demos(3, seed=22)
    lm.loo_engine = "packed"
    try:
        packed = lm.loo_scores(demos, order="tree", context=fixed)
    finally:
        lm.loo_engine = "tree"
    text = LM.loo_scores(lm, demos, order="tree", context=fixed)
    np.testing.assert_allclose(packed, text, atol=1e-4)


@pytest.mark.parametrize("max_tokens", [1, 60, 300, 100_000])
def test_chunking_changes_nothing(lm: HFBackend, max_tokens: int) -> None:
    demos = make_demos(9, seed=9)
    assert lm.prefix_store is not None
    lm.prefix_store.clear()
    lm.tokens_processed = 0
    got, engine = packed_loo(lm, demos, max_tokens=max_tokens)
    packed_tokens = lm.tokens_processed
    np.testing.assert_allclose(got, text_tree_loo(lm, demos), atol=1e-4)
    if max_tokens == 100_000:
        assert engine.packed_calls == 1 and engine.prefills == 0  # the whole tree in one pass
    else:
        assert engine.prefills > 0
    # Same tokens as the depth-first engine from an empty store, however it is chunked.
    lm.prefix_store.clear()
    lm.tokens_processed = 0
    tree_loo(lm, demos)
    assert packed_tokens == lm.tokens_processed


def test_the_sliding_window_is_applied_on_path_positions(lm: HFBackend) -> None:
    if lm.model.config.model_type != "gemma3_text":
        pytest.skip("no sliding window")
    demos = make_demos(8, seed=8)
    got, engine = packed_loo(lm, demos, max_tokens=100_000)
    assert engine.plan.style == "dict" and engine.plan.window == 16
    np.testing.assert_allclose(got, text_tree_loo(lm, demos), atol=1e-4)
    # The packed index of a deep query's tokens is far beyond its path position: a window on
    # packed indices (or none) would score differently.
    no_window = PackedEngine(lm._engine(), max_tokens=100_000)
    no_window.plan = replace(no_window.plan, window=None)
    plan = _LabelPlan.of(lm.encoder, TRUE_FALSE)
    res = no_window.tree_loo(
        lm.start_tokens(),
        [lm.encoder.tokens(render_demo(d, TRUE_FALSE)) for d in demos],
        [plan.requests(tuple(lm.encoder.tokens(d.prompt))) for d in demos],
        plan.singles_tensor,
    )
    lp = plan.combine([r for rs in res for r in rs], len(demos))
    assert np.abs(lp[:, 1] - lp[:, 0] - got).max() > 0.05


def test_multi_token_labels(lm: HFBackend) -> None:
    demos = make_demos(7, seed=3)
    label_set = LabelSet((" False", " Quokka!"))  # one single-token, one multi-token word
    assert len(lm.tokenizer.encode(" Quokka!")) > 2  # a continuation node of 2+ tokens
    for max_tokens in (40, 100_000):
        got, _ = packed_loo(lm, demos, label_set, max_tokens=max_tokens)
        np.testing.assert_allclose(got, text_tree_loo(lm, demos, label_set), atol=1e-4)


def test_eager_attention_takes_additive_masks(lm: HFBackend) -> None:
    demos = make_demos(5, seed=5)
    lm.model.set_attn_implementation("eager")
    try:
        got, _ = packed_loo(lm, demos, max_tokens=80)
    finally:
        lm.model.set_attn_implementation("sdpa")
    np.testing.assert_allclose(got, text_tree_loo(lm, demos), atol=1e-4)


def test_flex_attention_on_cpu_equals_dense(lm: HFBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """FlexAttention with BlockMasks, run eagerly: transformers would torch.compile it first
    (~30 s on this CPU), which only the GPU benchmark needs."""
    import transformers.integrations.flex_attention as hf_flex
    from torch.nn.attention.flex_attention import flex_attention

    calls = []

    def eager(q: Any, k: Any, v: Any, training: bool = False, **kw: Any) -> Any:
        calls.append(kw["block_mask"])
        return flex_attention(q, k, v, **kw)

    monkeypatch.setattr(hf_flex, "compile_friendly_flex_attention", eager)
    demos = make_demos(3, seed=11)
    dense, _ = packed_loo(lm, demos, attention="dense", max_tokens=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: flex attention run eagerly is slow
        flex, engine = packed_loo(lm, demos, attention="flex", max_tokens=100)
    assert engine.packed_calls > 1 and engine.prefills > 0  # with a prefix in the cache too
    layers = lm.model.config.num_hidden_layers
    assert len(calls) == engine.packed_calls * layers and all(m is not None for m in calls)
    np.testing.assert_allclose(flex, dense, atol=1e-4)
    assert lm.model.config._attn_implementation == "sdpa"  # restored


def test_the_engines_pass_the_kv_cache_under_its_supported_name(lm: HFBackend) -> None:
    # transformers 5.x renamed forward's `past_key_values` to `cache` and warns (FutureWarning)
    # on every call that uses the old name; both engines must pass the name the model takes.
    demos = make_demos(3, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        packed, engine = packed_loo(lm, demos, attention="dense", max_tokens=100)
        tree = tree_loo(lm, demos)
    assert engine.prefills > 0 and engine.packed_calls > 1  # forward passes on a KV prefix
    np.testing.assert_allclose(packed, tree, atol=1e-4)


# ---------------------------------------------------------------- refusal and fallback


class _Config:
    model_type = "test"
    sliding_window = 8

    def __init__(self, layer_types: list[str] | None) -> None:
        self.layer_types = layer_types


class _FakeModel:
    def __init__(self, layer_types: list[str] | None, base: Any) -> None:
        self.config = _Config(layer_types)
        self.base_model = base


def test_models_whose_masks_cannot_be_replaced_are_refused(lm: HFBackend) -> None:
    base = lm.model.base_model
    with pytest.raises(PackedUnsupported, match="chunked_attention"):
        MaskPlan.of(_FakeModel(["chunked_attention", "full_attention"], base))
    if lm.model.config.model_type == "llama":
        # Llama's forward takes one 4D mask for all layers: it cannot apply a window per layer.
        with pytest.raises(PackedUnsupported, match="builds its attention masks"):
            MaskPlan.of(_FakeModel(["sliding_attention", "full_attention"], base))
        assert MaskPlan.of(lm.model).style == "tensor"
    else:
        assert MaskPlan.of(lm.model) == MaskPlan(
            "dict", frozenset({"sliding_attention", "full_attention"}), 16
        )


def test_backend_falls_back_to_the_tree_engine(
    lm: HFBackend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(model: Any) -> MaskPlan:
        raise PackedUnsupported("not this one")

    monkeypatch.setattr(MaskPlan, "of", refuse)
    monkeypatch.setattr(lm, "loo_engine", "packed")
    monkeypatch.setattr(lm, "_packed_refused", None)
    demos = make_demos(4, seed=4)
    with caplog.at_level(logging.WARNING, logger="elicit"):
        got = lm.loo_scores(demos, order="tree")
    assert "not this one" in caplog.text
    np.testing.assert_allclose(got, text_tree_loo(lm, demos), atol=1e-4)


def test_loo_engine_is_validated() -> None:
    with pytest.raises(ConfigError, match="loo_engine"):
        HFBackend("unused", loo_engine="fast")  # type: ignore[arg-type]


def test_empty_and_bos_less_trees() -> None:
    root, requests, _ = loo_tree((), [], [])
    assert root.size == 0 and not requests
    root, _, _ = loo_tree((), [(5, 6)], [[Request((7,), ())]])
    assert isinstance(root, TreeNode) and PackedChunk.of([root], 0).ids == [7]


# ---------------------------------------------------------------- CUDA


def random_model(arch: str, device: str) -> Any:
    """A random model with head_dim 16 (FlexAttention's CUDA kernels need at least 16)."""
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, LlamaConfig

    common: dict[str, Any] = dict(
        vocab_size=300,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        initializer_range=0.2,
    )
    if arch == "llama":
        config: Any = LlamaConfig(**common)
    else:
        layer_types = ["sliding_attention", "full_attention"]
        config = Gemma3TextConfig(**common, head_dim=16, sliding_window=40, layer_types=layer_types)
    torch.manual_seed(0)
    make: Any = AutoModelForCausalLM.from_config
    return make(config).to(device).eval()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_flex_on_cuda_equals_tree_engine(arch: str) -> None:
    from elicit.backends.hf_prefix import PrefixEngine

    device = torch.device("cuda")
    model = random_model(arch, "cuda")
    rng = np.random.default_rng(0)
    n = 16
    demos = [
        [int(t) for t in rng.integers(3, 300, size=int(rng.integers(5, 40)))] for _ in range(n)
    ]
    requests = [[Request(tuple(d[:-2]), ())] for d in demos]
    singles = torch.tensor([7, 8])
    engine = PrefixEngine(model, device=device, pad_id=0, batch_size=4, count=lambda _: None)

    def log_odds(results: list[list[Any]]) -> np.ndarray:
        return np.array([r[0][1] - r[0][0] for r in results])

    tree = log_odds(engine.tree_loo([1], demos, requests, singles))
    for attention, max_tokens in (("flex", None), ("flex", 150), ("dense", 150)):
        packed = PackedEngine(engine, attention=attention, max_tokens=max_tokens)  # type: ignore[arg-type]
        assert packed.attention == attention
        got = log_odds(packed.tree_loo([1], demos, requests, singles))
        np.testing.assert_allclose(got, tree, atol=1e-4)
    assert model.config._attn_implementation == "sdpa"
