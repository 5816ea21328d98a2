"""Re-scoring after a small change (`hf_prefix.PrefixCache`): exact, and only what changed.

The engine keeps the key and value states of the prefixes it computes across calls. After a
label flip or an added example, every score must still equal the plain forward pass over its
text prompt, and the model must be fed exactly the prefixes no earlier call stored plus the
leaf rows. The expected token counts are derived here from `tree_loo_orders` alone: the walk
stores, for each query, every prefix of its order up to where its leaf's rows begin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import numpy as np
import pytest
import torch
from test_hf_prefix import build_model, make_demos, text_tree_loo

from elicit.backends.base import TRUE_FALSE, Demo
from elicit.backends.hf import HFBackend
from elicit.backends.hf_prefix import TREE_LEAF, PrefixCache
from elicit.backends.prompting import render_demo, tree_loo_orders
from elicit.errors import ConfigError

Path = tuple[tuple[int, ...], ...]  # a stored prefix: the token ids of its demos, in order


#: One torch thread for this module (tests/conftest.py says why).
ONE_TORCH_THREAD = True


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def lm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    path = build_model(tmp_path_factory.mktemp(f"incremental-{request.param}"), request.param)
    return HFBackend(str(path), batch_size=4, progress=False)


def flip(demos: Sequence[Demo], j: int) -> list[Demo]:
    return [replace(d, label=1 - d.label) if i == j else d for i, d in enumerate(demos)]


class Ledger:
    """What the store should hold after each call, and what each call should feed the model."""

    def __init__(self, lm: HFBackend) -> None:
        self.lm = lm
        self.stored: set[Path] = set()
        assert lm.prefix_store is not None
        lm.prefix_store.clear()

    def ids(self, demos: Sequence[Demo]) -> list[tuple[int, ...]]:
        return [tuple(self.lm.encoder.tokens(render_demo(d, TRUE_FALSE))) for d in demos]

    def expect(self, paths: set[Path], rows: int) -> int:
        """Tokens to feed: the paths' last demos not stored yet (and BOS once), plus rows."""
        new = paths - self.stored
        tokens = sum(len(p[-1]) for p in new) + (0 if self.stored else 1)
        self.stored |= paths
        return tokens + rows

    def tree(self, demos: Sequence[Demo]) -> int:
        n, ids = len(demos), self.ids(demos)
        orders = tree_loo_orders(n)
        rows_from = dict(leaf_starts(n))
        paths = {
            tuple(ids[j] for j in orders[i][:k])
            for i in range(n)
            for k in range(1, rows_from[i] + 1)
        }
        queries = sum(len(self.lm.encoder.tokens(d.prompt)) for d in demos)
        rest = sum(len(ids[j]) for i in range(n) for j in orders[i][rows_from[i] :])
        return self.expect(paths, rest + queries)

    def context(self, demos: Sequence[Demo], queries: Sequence[str]) -> int:
        ids = self.ids(demos)
        paths = {tuple(ids[:k]) for k in range(1, len(ids) + 1)}
        return self.expect(paths, sum(len(self.lm.encoder.tokens(q)) for q in queries))


def leaf_starts(n: int, leaf: int = TREE_LEAF) -> Iterator[tuple[int, int]]:
    """(query, how many demos of its order the walk stores before its leaf's rows)."""

    def split(lo: int, hi: int) -> Iterator[tuple[int, int]]:
        if hi - lo <= leaf:
            yield from ((i, n - (hi - lo)) for i in range(lo, hi))
            return
        mid = (lo + hi) // 2
        yield from split(lo, mid)
        yield from split(mid, hi)

    return split(0, n)


def fed(lm: HFBackend, run: Callable[[], np.ndarray]) -> tuple[int, np.ndarray]:
    """The tokens the model was fed while `run` ran, and what it returned."""
    lm.tokens_processed = 0
    out = run()
    return lm.tokens_processed, out


# ---------------------------------------------------------------- exact, and only what changed


def test_flips_and_additions_rescore_exactly_and_only_what_changed(lm: HFBackend) -> None:
    ledger = Ledger(lm)
    demos = make_demos(13, seed=11)
    extra = make_demos(14, seed=12)[13]
    steps: list[list[Demo]] = [demos]
    for j in (12, 0, 6):  # the last, the first and a middle demo
        steps.append(flip(steps[-1], j))
    steps.append([*steps[-1][:5], extra, *steps[-1][5:]])  # one example added
    steps.append(steps[-1][:-1])  # and one removed
    costs = []
    for step in steps:
        expected = ledger.tree(step)
        tokens, scores = fed(lm, lambda step=step: lm.loo_scores(step, order="tree"))
        assert tokens == expected
        np.testing.assert_allclose(scores, text_tree_loo(lm, step), atol=1e-4)
        costs.append(expected)
    full = costs[0]
    assert all(c < full for c in costs[1:])
    # The same set again feeds only the leaf rows.
    rows = ledger.tree(steps[-1])
    assert fed(lm, lambda: lm.loo_scores(steps[-1], order="tree"))[0] == rows < full / 2
    assert lm.prefix_store is not None and not any(n.pins for n in lm.prefix_store.nodes())


def test_the_many_shot_context_reuses_the_last_tree_path(lm: HFBackend) -> None:
    ledger = Ledger(lm)
    demos = make_demos(9, seed=13)
    queries = [d.prompt for d in make_demos(3, seed=14)]
    lm.loo_scores(demos, order="tree")
    ledger.tree(demos)
    expected = ledger.context(demos, queries)
    tokens, got = fed(lm, lambda: lm.context_scores(demos, queries))
    assert tokens == expected
    # Only the demos after the last query's stored path (its leaf's rows), and the queries.
    tail = ledger.ids(demos)[dict(leaf_starts(9))[8] :]
    assert expected == sum(map(len, tail)) + sum(len(lm.encoder.tokens(q)) for q in queries)
    fresh = HFBackend(lm.model.name_or_path, prefix_cache_bytes=0, progress=False)
    np.testing.assert_allclose(got, fresh.context_scores(demos, queries), atol=1e-4)


def test_given_order_rescoring_feeds_only_the_queries(lm: HFBackend) -> None:
    Ledger(lm)
    demos = make_demos(6, seed=15)
    first = lm.loo_scores(demos, order="given")
    queries = sum(len(lm.encoder.tokens(d.prompt)) for d in demos)
    tokens, again = fed(lm, lambda: lm.loo_scores(demos, order="given"))
    assert tokens == queries
    np.testing.assert_allclose(again, first, atol=1e-4)


# ---------------------------------------------------------------- the memory bound


def test_a_small_budget_evicts_least_recently_used_leaves_and_stays_exact(lm: HFBackend) -> None:
    demos = make_demos(12, seed=16)
    probe = HFBackend(lm.model.name_or_path, progress=False)
    fresh_tokens, _ = fed(probe, lambda: probe.loo_scores(demos, order="tree"))
    assert probe.prefix_store is not None
    whole = probe.prefix_store.nbytes  # what one evaluation stores
    try:
        lm.prefix_store = store = PrefixCache(whole // 3)
        steps = [demos, flip(demos, 3), flip(flip(demos, 3), 9), demos]
        for step in steps:
            np.testing.assert_allclose(
                lm.loo_scores(step, order="tree"), text_tree_loo(lm, step), atol=1e-4
            )
            assert 0 < store.nbytes <= store.budget_bytes
            check_tree(store)
        assert store.evicted_tokens > 0 and store.reused_tokens > 0
        # A budget below one demo's states stores nothing: every call feeds a full evaluation.
        lm.prefix_store = PrefixCache(16)
        for step in steps[:2]:
            assert fed(lm, lambda step=step: lm.loo_scores(step, order="tree"))[0] == fresh_tokens
        assert lm.prefix_store.n_nodes == 0
    finally:
        lm.prefix_store = PrefixCache()


def check_tree(store: PrefixCache) -> None:
    """Every node hangs from a stored parent, nothing is pinned, the bytes add up."""
    total = 0
    for node in store.nodes():
        assert node.parent is not None and node.parent.children[node.segment] is node
        assert node.end == node.parent.end + len(node.segment) and not node.pins
        total += node.nbytes
    assert total == store.nbytes


def test_eviction_order_is_least_recently_used_leaf_first() -> None:
    def kv(n: int) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        return [(torch.zeros(1, 1, n, 2), torch.zeros(1, 1, n, 2)), None]

    store = PrefixCache(budget_bytes=6 * 16)  # six tokens of 16 bytes (keys + values)
    a = store.insert(store.root, (1, 2), kv(2))
    assert a is not None
    b = store.insert(a, (3,), kv(1))
    c = store.insert(store.root, (4,), kv(1))
    assert b is not None and c is not None and store.nbytes == 4 * 16
    assert store.lookup(store.root, (1, 2)) is a  # a is used, but it is not a leaf
    store.pin(c)
    d = store.insert(store.root, (5, 6, 7), kv(3))  # needs one token more: b goes, not pinned c
    assert d is not None and store.lookup(a, (3,)) is None and store.lookup(store.root, (4,)) is c
    store.unpin(c)
    assert store.insert(store.root, (8,), kv(1)) is not None  # a, now a leaf, is the oldest
    assert store.lookup(store.root, (1, 2)) is None and store.evicted_tokens == 3
    assert store.insert(store.root, (9,), kv(7)) is None  # larger than the budget
    check_tree(store)


def test_the_budget_option(lm: HFBackend) -> None:
    off = HFBackend(lm.model.name_or_path, prefix_cache_bytes=0, progress=False)
    assert off.prefix_store is None
    demos = make_demos(5, seed=17)
    np.testing.assert_allclose(
        off.loo_scores(demos, order="tree"), text_tree_loo(off, demos), atol=1e-4
    )
    with pytest.raises(ConfigError, match="prefix_cache_bytes"):
        HFBackend(lm.model.name_or_path, prefix_cache_bytes=-1, progress=False)


# ---------------------------------------------------------------- the real model


@pytest.mark.slow
def test_real_model_rescoring_after_a_flip(gemma_lm: HFBackend) -> None:
    from elicit.tasks import load_task, sample

    data = sample(load_task("ethics-justice"), 8, seed=2)
    demos = [Demo(ex.prompt, i % 2) for i, ex in enumerate(data.examples)]
    flipped = flip(demos, 5)
    ledger = Ledger(gemma_lm)
    ledger.tree(demos)
    gemma_lm.loo_scores(demos, order="tree")
    expected = ledger.tree(flipped)
    tokens, got = fed(gemma_lm, lambda: gemma_lm.loo_scores(flipped, order="tree"))
    assert tokens == expected
    np.testing.assert_allclose(got, text_tree_loo(gemma_lm, flipped), atol=1e-3)
