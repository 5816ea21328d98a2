"""Packed tree leave-one-out: the whole recursion tree of one evaluation in a few forward passes.

The depth-first engine (`hf_prefix.PrefixEngine.tree_loo`) feeds the model O(N L log N) tokens
but in ~N small calls (one prefill per split node, one batch of rows per leaf pair). On a GPU a
call of a few hundred tokens runs at a small fraction of the model's prefill throughput, so the
14x saving in tokens turns into only ~4x in time. Here the tree is laid out as ONE packed token
sequence, every node's tokens once, and run in one forward pass with a tree attention mask:

    n = 2, demos a (2 tokens) and b (2 tokens), query prompts p and q (1 token each):
    `tree_loo_orders(2)` gives  query 0: BOS b p    query 1: BOS a q

          BOS                    index     0    1   2   3   4   5   6
         /   \\                  token     BOS  b1  b2  p   a1  a2  q
        b     a                  position  0    1   2   3   1   2   3
        |     |                  node end  7    4   4   4   7   7   7   (exclusive)
        p     q
                                 mask  (row attends to column)
                                           BOS  b1  b2  p   a1  a2  q
                                 BOS       x
                                 b1        x    x
                                 b2        x    x   x
                                 p         x    x   x   x
                                 a1        x                x
                                 a2        x                x   x
                                 q         x                x   x   x

- Layout: nodes in depth-first preorder, so a node's subtree is one contiguous interval.
- Position ids: a token's index along its own root-to-leaf path, i.e. its index in its query's
  text prompt (q is at 3, as in "BOS a1 a2 q"), which is what rotary embeddings see.
- Mask: token i attends to token j iff j <= i < end(j), where end(j) is the end of the subtree
  of j's node. i >= j inside the subtree interval means j's node is i's node or one of its
  ancestors (causal inside a node, full to ancestor nodes); siblings and cousins are invisible.
  One lookup tensor (end per token) expresses the whole mask, which is what FlexAttention's
  `mask_mod` needs. Sliding-window layers (Gemma 3) also require pos(i) - pos(j) < window on
  path positions, the same rule transformers applies to an ordinary prompt.

Every query therefore sees exactly its tree-ordered prompt at its own positions, and its label
logits (read at its last token through a 1D `logits_to_keep`) equal a plain forward pass over
that prompt up to rounding (checked to 1e-4 in fp32 by tests/backends/test_hf_packed.py).

Chunks. A whole tree of N = 256 claims is ~180k tokens; with a dense mask that is far too much
memory and even FlexAttention wants a bound. A subtree larger than `max_tokens` is not packed:
its root node's tokens are appended to a `hf_prefix.KVPrefix` (a plain prefill, using and
filling the engine's radix `PrefixCache`) and its children are packed on top of that prefix,
whose keys every packed token sees in full (subject to the window); siblings that fit are packed
together. So the calls are a handful of large prefills and packed passes instead of ~N small ones.

Masks. transformers 5 passes a 4D mask through unchanged (`masking_utils`: a 4D tensor or a
BlockMask is "already prepared"), and models with several layer kinds (Gemma 2/3, Qwen 2/3,
SmolLM3, ...) take a dict {"full_attention": mask, "sliding_attention": mask}. Models that build
their masks another way (chunked or linear attention layers, a window applied by a mask function
the dict cannot carry) are refused with `PackedUnsupported`; the backend then uses the
depth-first engine. On CUDA the masks are FlexAttention BlockMasks (block-sparse: a 128-token
query block skips every key block outside its ancestors) and the model runs with
`attn_implementation="flex_attention"` for the packed passes only; on CPU they are dense boolean
(SDPA) or additive (eager) masks of T x (prefix + T).

    >>> from elicit.backends.hf import HFBackend
    >>> lm = HFBackend("gemma-3-270m", loo_engine="packed")
    >>> lm.loo_scores(demos, order="tree")        # same scores as loo_engine="tree"

Benchmark against the depth-first engine and plain prefill: benchmarks/loo_gpu.py.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from elicit.backends.base import FloatArray
from elicit.backends.hf_prefix import (
    KVPrefix,
    PrefixEngine,
    Request,
    cache_argument,
    read_scores,
)
from elicit.errors import BackendError

Attention = Literal["auto", "dense", "flex"]

#: Packed tokens per forward pass with a dense mask: the mask and SDPA's scores are
#: T x (prefix + T) per head, ~0.1-0.5 GB at this size.
DENSE_TOKENS = 2048
#: Packed tokens per forward pass with FlexAttention: the BlockMask is small and the kernel
#: skips masked blocks, so the bound is activation memory (for a 1B model ~50 KB per token).
FLEX_TOKENS = 65536
#: FlexAttention's block size; lookup tensors are padded by this much so that a kernel reading
#: past the end of a partial block stays inside them.
_FLEX_BLOCK = 128
_LAYER_KINDS = frozenset({"full_attention", "sliding_attention"})


class PackedUnsupported(BackendError):
    """The model cannot take the packed engine's tree masks (see the module docs)."""


@dataclass(eq=False)
class TreeNode:
    """A node of the packed tree: its tokens (as segments: BOS, one demo each, a query prompt
    or a continuation), its children, and the logits it is read at.

    reads: (token offset in this node, slot) pairs; a slot is one (request, column) whose
    logits are read at that token (see `PackedEngine.tree_loo`).
    """

    segments: list[tuple[int, ...]]
    children: list[TreeNode] = field(default_factory=list)
    reads: list[tuple[int, int]] = field(default_factory=list)
    #: Tokens in this node and all its descendants (set by `_sizes`).
    size: int = 0

    @property
    def tokens(self) -> list[int]:
        return [t for s in self.segments for t in s]


@dataclass(frozen=True)
class Slot:
    """One logits row to read: column `column` of request `request` (flat request index)."""

    request: int
    column: int


def loo_tree(
    start: Sequence[int],
    demos: Sequence[Sequence[int]],
    queries: Sequence[Sequence[Request]],
) -> tuple[TreeNode, list[Request], list[Slot]]:
    """The recursion tree of `prompting.tree_loo_orders` as nodes, with the reads of every
    request: (root, the requests flattened in query order, the slots).

    Split node [lo, hi): its left child holds demos [mid, hi) and the subtree of [lo, mid),
    its right child demos [lo, mid) and the subtree of [mid, hi), exactly as the orders
    are built. Query i's node hangs below the last split and holds its context tokens; a
    request with a continuation of k > 1 tokens gets a child node with the first k - 1 of
    them (fed, not scored: the last one is only predicted), read at every token.
    """
    flat: list[Request] = []
    slots: list[Slot] = []
    root = TreeNode([tuple(start)] if start else [])

    def attach(parent: TreeNode, i: int) -> None:
        by_context: dict[tuple[int, ...], TreeNode] = {}
        for request in queries[i]:
            if not request.context:
                raise ValueError("a packed request needs at least one context token")
            node = by_context.get(request.context)
            if node is None:
                node = by_context[request.context] = TreeNode([request.context])
                parent.children.append(node)
            r = len(flat)
            flat.append(request)
            # Column 0 (the token after the context) is predicted by the context's last token,
            # column c by the continuation's token c - 1.
            slots.append(Slot(r, 0))
            node.reads.append((len(request.context) - 1, len(slots) - 1))
            fed = request.continuation[:-1]
            if fed:
                cont = TreeNode([fed])
                node.children.append(cont)
                for c in range(len(fed)):
                    slots.append(Slot(r, c + 1))
                    cont.reads.append((c, len(slots) - 1))

    def split(lo: int, hi: int, parent: TreeNode) -> None:
        if hi - lo == 1:
            attach(parent, lo)
            return
        mid = (lo + hi) // 2
        for (a, b), block in (((lo, mid), range(mid, hi)), ((mid, hi), range(lo, mid))):
            child = TreeNode([tuple(demos[j]) for j in block])
            parent.children.append(child)
            split(a, b, child)

    if demos:
        split(0, len(demos), root)
    _sizes(root)
    return root, flat, slots


def _sizes(node: TreeNode) -> int:
    node.size = len(node.tokens) + sum(_sizes(c) for c in node.children)
    return node.size


@dataclass(frozen=True)
class PackedChunk:
    """A forest of subtrees laid out for one forward pass on top of a prefix of `offset` tokens.

    Per packed token: its id, its path position (prefix included) and the end (exclusive,
    chunk-local) of its node's subtree; then the chunk-local indices whose logits are read and
    their slots.
    """

    offset: int
    ids: list[int]
    positions: list[int]
    ends: list[int]
    reads: list[int]
    slots: list[int]

    @classmethod
    def of(cls, forest: Sequence[TreeNode], offset: int) -> PackedChunk:
        ids: list[int] = []
        positions: list[int] = []
        ends: list[int] = []
        reads: list[int] = []
        slots: list[int] = []

        def place(node: TreeNode, depth: int) -> None:
            first, tokens = len(ids), node.tokens
            ids.extend(tokens)
            positions.extend(range(depth, depth + len(tokens)))
            ends.extend([first + node.size] * len(tokens))
            for off, slot in node.reads:
                reads.append(first + off)
                slots.append(slot)
            for child in node.children:
                place(child, depth + len(tokens))

        for node in forest:
            place(node, offset)
        return cls(offset, ids, positions, ends, reads, slots)

    def allowed(self, window: int | None, device: torch.device | None = None) -> torch.Tensor:
        """The dense boolean mask (T, offset + T): True where a row may attend to a column."""
        n, p = len(self.ids), self.offset
        q = torch.arange(n, device=device)[:, None]
        k = torch.arange(n, device=device)[None, :]
        end = torch.tensor(self.ends, device=device)[None, :]
        tree = (k <= q) & (q < end)
        mask = torch.cat([torch.ones((n, p), dtype=torch.bool, device=device), tree], dim=1)
        if window is not None:
            pos = torch.tensor(self.positions, device=device)
            key_pos = torch.cat([torch.arange(p, device=device), pos])
            mask &= (pos[:, None] - key_pos[None, :]) < window
        return mask

    def block_mask(self, window: int | None, device: torch.device) -> Any:
        """The same mask as a FlexAttention BlockMask, from per-token lookups."""
        from torch.nn.attention.flex_attention import create_block_mask

        n, p = len(self.ids), self.offset
        pad = (-n) % _FLEX_BLOCK + _FLEX_BLOCK
        end = torch.tensor(self.ends + [0] * pad, device=device)
        pos = torch.tensor(self.positions + [0] * pad, device=device)

        def mask_mod(b: Any, h: Any, q: Any, kv: Any) -> Any:
            j = (kv - p).clamp(min=0)  # chunk-local index of a packed key
            seen = (kv < p) | ((j <= q) & (q < end[j]))
            if window is None:
                return seen
            key_pos = torch.where(kv < p, kv, pos[j])
            return seen & (pos[q] - key_pos < window)

        return create_block_mask(
            mask_mod, None, None, n, p + n, device=device, _compile=device.type == "cuda"
        )


@dataclass(frozen=True)
class MaskPlan:
    """How a model takes custom masks: one 4D mask for all layers ("tensor") or a dict keyed by
    layer kind ("dict"), and the sliding window of its "sliding_attention" layers."""

    style: Literal["tensor", "dict"]
    kinds: frozenset[str]
    window: int | None

    @classmethod
    def of(cls, model: Any) -> MaskPlan:
        """The plan for `model`, or `PackedUnsupported` saying why there is none."""
        config = model.config
        name = getattr(config, "model_type", type(model).__name__)
        kinds = frozenset(getattr(config, "layer_types", None) or ["full_attention"])
        if not kinds <= _LAYER_KINDS:
            raise PackedUnsupported(
                f"{name} has attention layers of kinds {sorted(kinds - _LAYER_KINDS)}, which a "
                "tree mask cannot describe; use loo_engine='tree'"
            )
        if getattr(config, "use_bidirectional_attention", False):
            raise PackedUnsupported(f"{name} attends bidirectionally; use loo_engine='tree'")
        takes = _takes_masks(model.base_model.__class__)
        style: Literal["tensor", "dict"]
        if takes == "dict":
            style = "dict"
        elif takes == "causal" and kinds == {"full_attention"}:
            style = "tensor"
        else:
            raise PackedUnsupported(
                f"{name}'s forward builds its attention masks in a way the packed engine does "
                "not know how to replace; use loo_engine='tree'"
            )
        window: int | None = None
        if "sliding_attention" in kinds:
            window = getattr(config, "sliding_window", None)
            if not window:
                raise PackedUnsupported(f"{name} has sliding layers but no sliding_window")
        return cls(style, kinds, int(window) if window else None)


@functools.cache
def _takes_masks(base: Any) -> Literal["dict", "causal", "other"]:
    """What a transformers base model's forward does with `attention_mask`, from its source
    (checked against transformers 5.x): "dict" when it skips mask creation for a dict keyed by
    layer kind (Gemma 2/3, Qwen 2/3, SmolLM3, ...), "causal" when it only calls
    `create_causal_mask`, which returns a 4D mask unchanged (Llama, OLMo 2, ...)."""
    try:
        source = inspect.getsource(base.forward)
    except (OSError, TypeError, AttributeError):
        return "other"
    if "causal_mask_mapping := attention_mask, dict" in source:
        return "dict"
    others = ("create_sliding_window_causal_mask", "create_chunked_causal_mask")
    if "create_causal_mask(" in source and not any(f in source for f in others):
        return "causal"
    return "other"


class PackedEngine:
    """Tree leave-one-out in a few packed forward passes (see the module docs).

    engine: the depth-first engine whose model, device, token counter and prefix store are used
        (prefixes of subtrees too large to pack are extended through it).
    attention: "flex" (FlexAttention BlockMasks, for CUDA), "dense" (4D masks for SDPA or
        eager attention) or "auto" (flex on CUDA, dense elsewhere).
    max_tokens: the most packed tokens per forward pass (default DENSE_TOKENS or FLEX_TOKENS).
    """

    def __init__(
        self,
        engine: PrefixEngine,
        *,
        attention: Attention = "auto",
        max_tokens: int | None = None,
    ) -> None:
        if attention not in ("auto", "dense", "flex"):
            raise ValueError(f"attention must be auto, dense or flex, got {attention!r}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.engine = engine
        self.model = engine.model
        self.device = engine.device
        self.plan = MaskPlan.of(self.model)
        if attention == "auto":
            attention = "flex" if self.device.type == "cuda" else "dense"
        self.attention: Literal["dense", "flex"] = "flex" if attention == "flex" else "dense"
        default = FLEX_TOKENS if self.attention == "flex" else DENSE_TOKENS
        self.max_tokens = max_tokens or default
        #: Forward passes run, packed (`packed_calls`) and prefix prefills (`prefills`).
        self.packed_calls = 0
        self.prefills = 0

    def tree_loo(
        self,
        start: Sequence[int],
        demos: Sequence[Sequence[int]],
        queries: Sequence[Sequence[Request]],
        singles: torch.Tensor,
    ) -> list[list[FloatArray]]:
        """Query i's requests on `start` + the demos in `tree_loo_orders(n)[i]` order: the same
        arguments and results as `PrefixEngine.tree_loo`."""
        root, requests, slots = loo_tree(start, demos, queries)
        flat: list[FloatArray | None] = [None] * len(requests)
        prefix = KVPrefix(len(start) + sum(len(d) for d in demos), self.engine.store)
        try:
            self._run(prefix, [root], requests, slots, singles, flat)
        finally:
            prefix.release()
        out: list[list[FloatArray]] = []
        k = 0
        for q in queries:
            row: list[FloatArray] = []
            for _ in q:
                result = flat[k]
                assert result is not None, "every request is read by one packed pass"
                row.append(result)
                k += 1
            out.append(row)
        return out

    def _run(
        self,
        prefix: KVPrefix,
        forest: Sequence[TreeNode],
        requests: Sequence[Request],
        slots: Sequence[Slot],
        singles: torch.Tensor,
        out: list[FloatArray | None],
    ) -> None:
        """Score every subtree of `forest` on the prefix: pack siblings while they fit, and
        descend (prefilling the node's own tokens) into a subtree that does not."""
        group: list[TreeNode] = []
        size = 0
        for node in forest:
            # A node read by a request is never prefilled: its logits come from a packed pass.
            if node.size > self.max_tokens and node.children and not node.reads:
                mark = prefix.length
                if node.segments:
                    self.engine.extend(prefix, node.segments)
                    self.prefills += 1
                self._run(prefix, node.children, requests, slots, singles, out)
                prefix.crop(mark)
                continue
            if group and size + node.size > self.max_tokens:
                self._forward(prefix, group, requests, slots, singles, out)
                group, size = [], 0
            group.append(node)
            size += node.size
        if group:
            self._forward(prefix, group, requests, slots, singles, out)

    def _forward(
        self,
        prefix: KVPrefix,
        forest: Sequence[TreeNode],
        requests: Sequence[Request],
        slots: Sequence[Slot],
        singles: torch.Tensor,
        out: list[FloatArray | None],
    ) -> None:
        chunk = PackedChunk.of(forest, prefix.length)
        if not chunk.ids:
            return
        kwargs: dict[str, Any] = {
            "input_ids": torch.tensor([chunk.ids], device=self.device),
            "position_ids": torch.tensor([chunk.positions], device=self.device),
            "attention_mask": self._masks(chunk),
            # Only the read positions get logits (a 1D index keeps them for the one row).
            "logits_to_keep": torch.tensor(chunk.reads, dtype=torch.long, device=self.device),
        }
        if prefix.length:
            kwargs.update({cache_argument(self.model): prefix.cache(1), "use_cache": True})
        else:
            kwargs.update(use_cache=False)
        with torch.inference_mode(), self._implementation():
            logits = self.model(**kwargs).logits[0]  # (reads, vocabulary)
        self.packed_calls += 1
        self.engine.count(len(chunk.ids))
        rows: dict[int, list[tuple[int, int]]] = {}
        for row, slot in enumerate(chunk.slots):
            s = slots[slot]
            rows.setdefault(s.request, []).append((s.column, row))
        for r, cols in rows.items():
            request = requests[r]
            # A request's context node is never prefilled, so its whole subtree (all of its
            # columns) is in this chunk.
            assert len(cols) == request.n_scored
            picked = logits[torch.tensor([row for _, row in sorted(cols)], device=logits.device)]
            out[r] = read_scores(picked, 0, request, singles)

    def _masks(self, chunk: PackedChunk) -> Any:
        def one(window: int | None) -> Any:
            if self.attention == "flex":
                return chunk.block_mask(window, self.device)
            allowed = chunk.allowed(window, self.device)[None, None]
            if self._implementation_name() == "eager":
                # Eager attention adds the mask to the scores: 0 where allowed, -inf-ish not.
                dtype = self.model.dtype
                return torch.zeros(allowed.shape, dtype=dtype, device=self.device).masked_fill(
                    ~allowed, torch.finfo(dtype).min
                )
            return allowed  # SDPA: True = attend

        if self.plan.style == "tensor":
            return one(None)
        return {
            kind: one(self.plan.window if kind == "sliding_attention" else None)
            for kind in self.plan.kinds
        }

    def _implementation_name(self) -> str:
        wanted = "flex_attention" if self.attention == "flex" else None
        current = str(self.model.config._attn_implementation)
        if wanted is None:
            return current if current in ("sdpa", "eager") else "sdpa"
        return wanted

    @contextmanager
    def _implementation(self) -> Iterator[None]:
        """Run with the attention implementation the masks are made for (flex attention for
        BlockMasks; SDPA for dense masks when the model uses neither SDPA nor eager), restoring
        the model's own afterwards, so the other engines' calls are unchanged."""
        current = str(self.model.config._attn_implementation)
        wanted = self._implementation_name()
        if wanted == current:
            yield
            return
        self.model.set_attn_implementation(wanted)
        try:
            yield
        finally:
            self.model.set_attn_implementation(current)


def tree_positions(root: TreeNode) -> Iterator[int]:
    """The path position of every token of the tree, in packed order (for FLOP counts)."""
    chunk = PackedChunk.of([root], 0)
    yield from chunk.positions
