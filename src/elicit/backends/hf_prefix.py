"""Exact prefix sharing for the transformers backend: many prompts, one KV cache.

ICM scores every labelled example with all the others in context. Built prompt by prompt that
is N prompts of ~N*L tokens. The prompts share long prefixes of demos, and a causal model's keys
and values for a prefix do not depend on what follows it, so the engine here computes each
shared prefix once and runs only what differs on top of it:

    tree LOO   (`tree_loo`)   depth-first over `prompting.tree_loo_orders`' recursive split:
                              extend the cache with the right half, recurse into the left half,
                              crop back, extend with the left half, recurse into the right.
                              O(N L log N) tokens instead of O(N^2 L).
    given LOO  (`given_loo`)  prompt i shares demos[:i] with prompt i + 1: ~N^2 L / 2 tokens.
    many-shot  (`context`)    one context, every query on top of it.

    n = 4:   cache BOS d2 d3   rows  d1 q0     (one batch of two rows on the cached prefix)
                                     d0 q1
             crop to BOS, extend with d0 d1
             cache BOS d0 d1   rows  d3 q2
                                     d2 q3

    query 0 is scored on BOS d2 d3 d1 q0, its `tree_loo_orders` prompt, and so on.

Nothing is approximated: every query is scored on the token sequence of its text prompt
(`PromptEncoder.encode(render_context(...))`, which tokenises demo by demo, see `prompting`)
with the same positions, so the scores equal the backend's plain `score` of the text prompts up
to floating-point rounding (checked to 1e-4 in fp32 by the tests).

How the cache is kept. `KVPrefix` holds one sequence's keys and values per layer in buffers
preallocated for the longest prefix; extending writes the new positions in place and cropping
only moves the length back, so the depth-first walk keeps one copy of the deepest prefix, not
one per level. Each forward pass gets a fresh `DynamicCache` of plain (full) layers viewing the
buffers (transformers concatenates the new keys onto that view: a transient copy per pass). Plain layers
matter for sliding-window models (Gemma 3's local layers, window 512): the cache a model builds
for itself keeps only the last `window` keys of those layers, which cannot be cropped back below
the window; plain layers keep every key, and transformers' masks apply the window by absolute
position (key index > query index - window), which is correct because a prefix's keys sit at
their own positions 0..P-1.

Leaf rows on top of a prefix go in one batch: the prefix is broadcast across the batch and the
rows are right-padded, so every real token keeps its index (a pad in the middle would shift the
sliding window) and, being causal, never sees a pad. The logits of the positions that are read
are picked per row through transformers' 2D `logits_to_keep`, so a batch of rows of different
lengths does not materialise (rows x length x vocabulary) floats. Rows per call are capped so
that the broadcast keys and values stay under `KV_BUDGET_BYTES`.

Across calls (`PrefixCache`). ICM evaluates a labelled set, then the same set with one label
flipped or one example added, thousands of times. The engine keeps the keys and values it
computes in a radix tree whose edges are segments (BOS, one rendered demo) and whose nodes hold
their segment's states, computed after every segment on their path; each extension first walks
the tree as far as its segments match and copies those states instead of running the model.
Keys are the token ids themselves, so a hit is the same token sequence at the same positions,
and the states are what the model would compute again (up to rounding). A flipped label changes
one segment, so every node after it on a path misses and every node before it hits:

    n = 8, demo 3 flipped   query 0: BOS 4 5 6 7 2 | 3 1      hits up to 2, recomputes from 3
                            query 4: BOS 0 1 2 | 3 6 7 5      hits up to 2: queries 4-7 share
                                                              the miss from 3 on

Most of a tree's tokens sit below a block that holds any given demo (a query's context holds
every other demo, and the shared blocks come first), so a flip at a random position still
recomputes ~75-80% of a full evaluation, and no order of the prompts could do much better (see
docs/BENCHMARKS.md); what it saves outright is everything before the change, the many-shot
context of the current set (its path is the last query's path plus the last demo) and states
revisited by the search. The memory is bounded (`PREFIX_CACHE_BYTES`): when full, the least
recently used leaf node goes first (a node's states are useless without its parent's), and
nodes on the path being extended are pinned.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from elicit.backends.base import FloatArray
from elicit.backends.prompting import tree_loo_orders

#: The most prefix tokens one forward pass adds to the cache (a chunked prefill is exact and
#: bounds the attention scores' memory).
PREFILL_CHUNK = 2048
#: Memory allowed for the keys and values of one batch of rows (prefix broadcast + rows).
KV_BUDGET_BYTES = 1 << 30
#: Nodes of the split with at most this many queries score their rows in one batch instead of
#: recursing. With 2 the rows hold exactly the tokens the recursion would feed, in one call.
TREE_LEAF = 2
#: Default memory for the keys and values kept across calls (`PrefixCache`): gemma-3-270m
#: holds ~36 KB per token in fp32, so 2 GiB keeps ~58k tokens, about three tree evaluations of
#: 64 SST-2 claims.
PREFIX_CACHE_BYTES = 2 << 30

#: One segment's keys and values per layer, each (1, kv heads, segment length, head dim); None
#: for a layer that keeps no cache.
SegmentKV = list[tuple[torch.Tensor, torch.Tensor] | None]


@dataclass(frozen=True)
class Request:
    """One scored sequence: `context` then `continuation`, scoring the continuation's tokens.

    An empty continuation asks only for the next-token distribution after the context. On a
    prefix cache, `context` holds the tokens after the prefix.
    """

    context: tuple[int, ...]
    continuation: tuple[int, ...]

    @property
    def inputs(self) -> tuple[int, ...]:
        # The last continuation token is predicted, never fed.
        return self.context + self.continuation[:-1]

    @property
    def n_scored(self) -> int:
        return max(1, len(self.continuation))


def read_scores(
    logits: torch.Tensor, first: int, request: Request, singles: torch.Tensor
) -> FloatArray:
    """What a request asks of its row of logits, whose column `first` predicts the token after
    the context: log P of every id in `singles` (empty continuation) or [sum of the
    continuation's token log-probs]."""
    if not request.continuation:
        lp = torch.log_softmax(logits[first].float(), dim=-1)
        return np.asarray(lp[singles.to(lp.device)].double().cpu().numpy(), dtype=np.float64)
    cols = logits[first : first + len(request.continuation)].float()
    lp = torch.log_softmax(cols, dim=-1)
    target = torch.tensor(request.continuation, device=lp.device)
    return np.array([float(lp.gather(-1, target[:, None]).sum())])


def cache_argument(model: Any) -> str:
    """The keyword under which `model.forward` takes a KV cache.

    transformers 5.x renamed `past_key_values` to `cache` and warns (FutureWarning) on every
    call that still passes the old name, which it will remove; older releases know only
    `past_key_values`. The signature says which one this model's forward takes.
    """
    forward: Any = getattr(type(model), "forward", None)
    return _cache_argument(forward)


@functools.cache
def _cache_argument(forward: Any) -> str:
    try:
        params = inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def positional_logits_supported() -> bool:
    """Whether this transformers picks logits per row from a 2D `logits_to_keep` (>= 5.0)."""
    from transformers import modeling_utils

    return hasattr(modeling_utils, "slice_logits_to_keep")


class _Node:
    """A node of `PrefixCache`: the states of `segment`'s tokens after its ancestors' tokens."""

    __slots__ = ("children", "end", "kv", "nbytes", "parent", "pins", "segment", "tick")

    def __init__(
        self, segment: tuple[int, ...], parent: _Node | None, kv: SegmentKV, end: int
    ) -> None:
        self.segment = segment
        self.parent = parent
        self.kv = kv
        self.end = end  # tokens on the path from the root up to and including this node
        self.nbytes = sum(
            k.numel() * k.element_size() + v.numel() * v.element_size()
            for k, v in (pair for pair in kv if pair is not None)
        )
        self.children: dict[tuple[int, ...], _Node] = {}
        self.pins = 0  # prefixes standing on this node; a pinned node is never evicted
        self.tick = 0  # last use


class PrefixCache:
    """Keys and values of segment-aligned prefixes, kept across calls (see the module docs).

    budget_bytes: the most memory the stored states may take (the engine's working buffers
    come on top). Counters for benchmarks: `reused_tokens` (states copied instead of computed),
    `stored_tokens`, `evicted_tokens`.
    """

    def __init__(self, budget_bytes: int = PREFIX_CACHE_BYTES) -> None:
        if budget_bytes < 0:
            raise ValueError(f"budget_bytes must be >= 0, got {budget_bytes}")
        self.budget_bytes = budget_bytes
        self.clear()

    def clear(self) -> None:
        """Forget every state (needed if the model's weights change)."""
        self.root = _Node((), None, [], 0)
        self.nbytes = 0
        self.n_nodes = 0
        self.reused_tokens = 0
        self.stored_tokens = 0
        self.evicted_tokens = 0
        self._tick = 0
        # Eviction candidates, oldest first, stale entries skipped when popped; the counter
        # breaks ties (a node pushed twice with one tick) so that nodes are never compared.
        self._heap: list[tuple[int, int, _Node]] = []
        self._count = itertools.count()

    def lookup(self, node: _Node, segment: tuple[int, ...]) -> _Node | None:
        child = node.children.get(segment)
        if child is not None:
            self._touch(child)
        return child

    def insert(self, parent: _Node, segment: tuple[int, ...], kv: SegmentKV) -> _Node | None:
        """Store `segment`'s states under `parent` (which must be pinned or the root), evicting
        least recently used leaves as needed; None when they do not fit."""
        node = _Node(segment, parent, kv, parent.end + len(segment))
        if node.nbytes > self.budget_bytes:
            return None
        while self.nbytes + node.nbytes > self.budget_bytes:
            if not self._evict_one():
                return None
        parent.children[segment] = node
        self.nbytes += node.nbytes
        self.n_nodes += 1
        self.stored_tokens += len(segment)
        self._touch(node)
        return node

    def pin(self, node: _Node) -> None:
        node.pins += 1

    def unpin(self, node: _Node) -> None:
        node.pins -= 1
        if not node.pins and not node.children:
            self._push(node)

    def nodes(self) -> Iterator[_Node]:
        """Every stored node, parents before children."""
        stack = list(self.root.children.values())
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.children.values())

    def _touch(self, node: _Node) -> None:
        self._tick += 1
        node.tick = self._tick
        if not node.children:
            self._push(node)

    def _push(self, node: _Node) -> None:
        if len(self._heap) > 4 * self.n_nodes + 1024:  # mostly stale entries: rebuild
            self._heap = [(n.tick, next(self._count), n) for n in self.nodes() if not n.children]
            heapq.heapify(self._heap)
        heapq.heappush(self._heap, (node.tick, next(self._count), node))

    def _evict_one(self) -> bool:
        """Drop the least recently used unpinned leaf; False when there is none."""
        while self._heap:
            tick, _, node = heapq.heappop(self._heap)
            parent = node.parent
            if parent is None or node.tick != tick or node.children or node.pins:
                continue  # evicted already, used since, or not a leaf now
            del parent.children[node.segment]
            node.parent, node.kv = None, []
            self.nbytes -= node.nbytes
            self.n_nodes -= 1
            self.evicted_tokens += len(node.segment)
            if parent is not self.root and not parent.children and not parent.pins:
                self._push(parent)
            return True
        return False


class KVPrefix:
    """The keys and values of one token sequence, per layer, in preallocated buffers.

    `length` tokens are valid; `crop` moves it back, `absorb` and `write` add positions in
    place. With a `PrefixCache` (`store`), `trail` lists the cache nodes whose segments make up
    the start of the sequence, pinned while they do (`release` unpins them all).
    """

    def __init__(self, capacity: int, store: PrefixCache | None = None) -> None:
        self.capacity = capacity
        self.length = 0
        self.store = store
        self.trail: list[_Node] = []
        # Per layer (None for a layer that keeps no cache, e.g. a KV-sharing consumer).
        self._keys: list[torch.Tensor | None] = []
        self._values: list[torch.Tensor | None] = []

    @property
    def bytes_per_token(self) -> int:
        return sum(
            t.shape[1] * t.shape[3] * t.element_size()
            for t in (*self._keys, *self._values)
            if t is not None
        )

    @property
    def node(self) -> _Node | None:
        """The store's node this sequence ends at; None without a store, or when the sequence
        goes on past its trail (a segment did not fit in the store)."""
        if self.store is None:
            return None
        last = self.trail[-1] if self.trail else self.store.root
        return last if last.end == self.length else None

    def cache(self, batch: int) -> Any:
        """A DynamicCache of plain layers viewing the prefix, broadcast to `batch` rows.

        The model's forward appends to it by concatenation, which allocates new tensors: the
        buffers are never written through it."""
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache: Any = DynamicCache()
        if self.length == 0:
            return cache
        make_layer: Any = DynamicLayer  # untyped in transformers
        for k, v in zip(self._keys, self._values, strict=True):
            layer: Any = make_layer()
            if k is not None and v is not None:
                kk = k[:, :, : self.length].expand(batch, -1, -1, -1)
                vv = v[:, :, : self.length].expand(batch, -1, -1, -1)
                layer.lazy_initialization(kk, vv)
                layer.keys, layer.values = kk, vv
            cache.layers.append(layer)
        return cache

    def absorb(self, cache: Any, n_new: int) -> None:
        """Take the last `n_new` positions of a batch-1 `cache` built by `self.cache(1)`."""
        start = self.length
        self.write(
            [
                (layer.keys[:, :, start : start + n_new], layer.values[:, :, start : start + n_new])
                if getattr(layer, "is_initialized", False) and layer.keys is not None
                else None
                for layer in cache.layers
            ],
            n_new,
        )

    def write(self, kv: SegmentKV, n_new: int) -> None:
        """Append `n_new` positions whose states per layer are `kv`."""
        start, end = self.length, self.length + n_new
        if end > self.capacity:
            raise RuntimeError(f"prefix of {end} tokens overflows its buffer of {self.capacity}")
        if not self._keys:
            self._keys = [self._buffer(pair[0]) if pair else None for pair in kv]
            self._values = [self._buffer(pair[1]) if pair else None for pair in kv]
        for kbuf, vbuf, pair in zip(self._keys, self._values, kv, strict=True):
            if kbuf is not None and vbuf is not None and pair is not None:
                kbuf[:, :, start:end] = pair[0]
                vbuf[:, :, start:end] = pair[1]
        self.length = end

    def segment(self, start: int, end: int) -> SegmentKV:
        """A copy of the states of positions start..end-1 (for the store)."""
        return [
            (k[:, :, start:end].clone(), v[:, :, start:end].clone())
            if k is not None and v is not None
            else None
            for k, v in zip(self._keys, self._values, strict=True)
        ]

    def enter(self, node: _Node) -> None:
        """Record that the sequence goes on with `node`'s segment (pins it)."""
        assert self.store is not None, "a prefix without a store has no trail"
        parent = self.trail[-1] if self.trail else self.store.root
        assert node.parent is parent and node.end <= self.length
        self.store.pin(node)
        self.trail.append(node)

    def crop(self, length: int) -> None:
        if not 0 <= length <= self.length:
            raise RuntimeError(f"cannot crop a prefix of {self.length} tokens to {length}")
        self.length = length
        while self.trail and self.trail[-1].end > length:
            node = self.trail.pop()
            if self.store is not None:
                self.store.unpin(node)

    def release(self) -> None:
        """Crop to nothing, unpinning every node of the trail."""
        self.crop(0)

    def _buffer(self, like: torch.Tensor) -> torch.Tensor:
        b, h, _, d = like.shape
        return like.new_empty((b, h, self.capacity, d))


class PrefixEngine:
    """Scores requests on shared prefixes with one model.

    model: a transformers causal LM whose forward takes a KV cache (`cache`, or
        `past_key_values` before transformers 5.x: `cache_argument`), `position_ids` and a
        2D `logits_to_keep` (see `positional_logits_supported`).
    count: called with the number of real tokens of every forward pass (the backend's
        `tokens_processed` counter).
    store: keys and values kept across calls (see `PrefixCache`); None keeps nothing.
    """

    def __init__(
        self,
        model: Any,
        *,
        device: torch.device,
        pad_id: int,
        batch_size: int,
        count: Callable[[int], None],
        kv_budget_bytes: int = KV_BUDGET_BYTES,
        store: PrefixCache | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.pad_id = pad_id
        self.batch_size = batch_size
        self.count = count
        self.kv_budget_bytes = kv_budget_bytes
        self.store = store

    # ------------------------------------------------------------------ the three layouts

    def tree_loo(
        self,
        start: Sequence[int],
        demos: Sequence[Sequence[int]],
        queries: Sequence[Sequence[Request]],
        singles: torch.Tensor,
        *,
        leaf: int = TREE_LEAF,
    ) -> list[list[FloatArray]]:
        """Query i's requests on `start` (BOS) + the demos in `tree_loo_orders(n)[i]` order.

        demos: token ids of each rendered demo; queries: each query's requests, their contexts
        holding the query prompt's tokens. Returns the results per query, per request. With a
        store, the prefixes an earlier call computed are copied, not computed (module docs)."""
        n = len(demos)
        orders = tree_loo_orders(n)
        prefix = self._prefix(len(start) + sum(len(d) for d in demos))
        results: list[list[FloatArray]] = [[] for _ in range(n)]
        cached: list[int] = []  # demos in the cache after `start`, in order

        def visit(lo: int, hi: int) -> None:
            if hi - lo <= leaf:
                rows: list[Request] = []
                owner: list[int] = []
                for i in range(lo, hi):
                    assert orders[i][: len(cached)] == cached  # the cache is i's prompt so far
                    rest = tuple(t for j in orders[i][len(cached) :] for t in demos[j])
                    rows.extend(Request(rest + r.context, r.continuation) for r in queries[i])
                    owner.extend(i for _ in queries[i])
                for i, res in zip(owner, self.score(prefix, rows, singles), strict=True):
                    results[i].append(res)
                return
            mid = (lo + hi) // 2
            # As in `tree_loo_orders`: the left half's queries see the right half first.
            for (a, b), block in (((lo, mid), range(mid, hi)), ((mid, hi), range(lo, mid))):
                mark, depth = prefix.length, len(cached)
                self.extend(prefix, [demos[j] for j in block])
                cached.extend(block)
                visit(a, b)
                del cached[depth:]
                prefix.crop(mark)

        try:
            self.extend(prefix, [start])
            if n:
                visit(0, n)
        finally:
            prefix.release()
        return results

    def given_loo(
        self,
        start: Sequence[int],
        demos: Sequence[Sequence[int]],
        queries: Sequence[Sequence[Request]],
        singles: torch.Tensor,
    ) -> list[list[FloatArray]]:
        """Query i's requests on `start` + every demo but i, in the given order: prompt i + 1
        reuses prompt i's prefix (demos[:i]) and adds demo i to it."""
        prefix = self._prefix(len(start) + sum(len(d) for d in demos))
        results: list[list[FloatArray]] = []
        try:
            self.extend(prefix, [start])
            for i in range(len(demos)):
                if i:
                    self.extend(prefix, [demos[i - 1]])
                # The demos after i go through the cache too (then cropped off): a chunked
                # prefill bounds the memory of a long prompt, where one row would not.
                mark = prefix.length
                self.extend(prefix, demos[i + 1 :])
                results.append(self.score(prefix, queries[i], singles))
                prefix.crop(mark)
        finally:
            prefix.release()
        return results

    def context(
        self,
        segments: Sequence[Sequence[int]],
        requests: Sequence[Request],
        singles: torch.Tensor,
    ) -> list[FloatArray]:
        """Every request on top of the same context, the concatenated `segments` (BOS, demos).

        After `tree_loo` of the same demos the context is mostly stored: the last query's
        tree prompt is every demo but the last, in order."""
        prefix = self._prefix(sum(len(s) for s in segments))
        try:
            self.extend(prefix, segments)
            return self.score(prefix, requests, singles)
        finally:
            prefix.release()

    # ------------------------------------------------------------------ forward passes

    def extend(self, prefix: KVPrefix, segments: Sequence[Sequence[int]]) -> None:
        """Append the segments' tokens to the prefix: the stored ones are copied from the store,
        the rest computed in one batch-1 prefill (in chunks) and stored."""
        segs = [tuple(s) for s in segments if len(s)]
        store, node = self.store, prefix.node
        k = 0
        if store is not None and node is not None:
            while k < len(segs) and (hit := store.lookup(node, segs[k])) is not None:
                prefix.write(hit.kv, len(segs[k]))
                prefix.enter(hit)
                store.reused_tokens += len(segs[k])
                node, k = hit, k + 1
        if k == len(segs):
            return
        mark = prefix.length
        self._prefill(prefix, [t for s in segs[k:] for t in s])
        if store is None or node is None:
            return
        for s in segs[k:]:
            child = store.insert(node, s, prefix.segment(mark, mark + len(s)))
            if child is None:
                return  # the store is full of pinned nodes: go on without storing
            prefix.enter(child)
            node, mark = child, mark + len(s)

    def _prefill(self, prefix: KVPrefix, ids: Sequence[int]) -> None:
        """Append `ids` to the prefix (a batch-1 prefill in chunks)."""
        for s in range(0, len(ids), PREFILL_CHUNK):
            chunk = list(ids[s : s + PREFILL_CHUNK])
            cache = prefix.cache(1)
            positions = torch.arange(prefix.length, prefix.length + len(chunk), device=self.device)
            with torch.inference_mode():
                self.model(
                    input_ids=torch.tensor([chunk], device=self.device),
                    position_ids=positions[None],
                    **{cache_argument(self.model): cache},
                    use_cache=True,
                    logits_to_keep=1,  # the logits are not needed; 0 would mean all of them
                )
            prefix.absorb(cache, len(chunk))
            self.count(len(chunk))

    def _prefix(self, capacity: int) -> KVPrefix:
        return KVPrefix(capacity, self.store)

    def score(
        self, prefix: KVPrefix, requests: Sequence[Request], singles: torch.Tensor
    ) -> list[FloatArray]:
        """Each request's result (see `read_scores`) with the prefix before its context, in
        request order. Every request's context must hold at least one token."""
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].inputs))
        out: list[FloatArray] = [np.zeros(0)] * len(requests)
        i = 0
        while i < len(order):
            width = len(requests[order[i]].inputs)  # the longest row left
            batch = order[i : i + self._rows_per_call(prefix, width)]
            i += len(batch)
            for j, res in zip(
                batch, self._score_rows(prefix, [requests[j] for j in batch], singles), strict=True
            ):
                out[j] = res
        return out

    def _rows_per_call(self, prefix: KVPrefix, width: int) -> int:
        per_row = prefix.bytes_per_token * (prefix.length + width)
        fit = self.kv_budget_bytes // per_row if per_row else self.batch_size
        return max(1, min(self.batch_size, fit))

    def _score_rows(
        self, prefix: KVPrefix, rows: Sequence[Request], singles: torch.Tensor
    ) -> list[FloatArray]:
        if any(not r.context for r in rows):
            raise ValueError("a request on a prefix cache needs at least one context token")
        width = max(len(r.inputs) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for b, r in enumerate(rows):
            ids[b, : len(r.inputs)] = torch.tensor(r.inputs, dtype=torch.long)
        positions = torch.arange(prefix.length, prefix.length + width).expand(len(rows), -1)
        # Per row, the columns whose logits are read: the one predicting the first continuation
        # token (the last context token) and on; shorter rows repeat their last column.
        n_keep = max(r.n_scored for r in rows)
        keep = torch.tensor(
            [[len(r.context) - 1 + min(c, r.n_scored - 1) for c in range(n_keep)] for r in rows]
        )
        with torch.inference_mode():
            logits = self.model(
                input_ids=ids.to(self.device),
                position_ids=positions.to(self.device),
                **{cache_argument(self.model): prefix.cache(len(rows))},
                use_cache=True,
                logits_to_keep=keep.to(self.device),
            ).logits  # (rows, n_keep, vocabulary)
        self.count(sum(len(r.inputs) for r in rows))
        return [read_scores(logits[b], 0, r, singles) for b, r in enumerate(rows)]
