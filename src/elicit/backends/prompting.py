"""Prompt rendering and tokenisation rules, written once for every backend.

Rendering (text level):

    demo     = prompt + label_word + "\\n\\n"         e.g. "...I think this claim is True\\n\\n"
    context  = demo_1 + demo_2 + ... + query_prompt   (query ends with "I think this claim is")

The label word carries its own leading space (" True"), so nothing is inserted between the
prompt and the word; the model's next token after the query is where the label is read.

Tokenisation (token level), applied by `PromptEncoder` for backends that tokenise locally:

- Text is tokenised in pieces, cut after every run of two or more newlines (the demo
  separator), each piece alone and without special tokens (`tokenisation_pieces`). This is
  exactly the whole-text tokenisation for Gemma 3 (no token of its vocabulary joins a newline
  to anything but newlines) and, at demo boundaries, for Llama 3 / Qwen-style tokenizers
  (their pre-tokenisation regex makes "\\n\\n" before a word a pre-token of its own).
  GPT-2-style byte-level tokenizers (GPT-2, SmolLM2, Pythia) differ: "\\n\\n" at the end of a
  text is one token, before a word two, so with them a demo boundary is fed as the one-token
  "\\n\\n" rather than the two "\\n" of running text. That small shift buys an exact rule for
  every tokenizer: a context's tokens are the concatenation of its demos' tokens and its
  query's, so a backend can encode each demo once and share the key and value states of a
  common prefix of demos (`hf_prefix`) while scoring exactly the tokens of the text prompt.
- The prompt is tokenised without special tokens; the label word is a separate
  continuation (context/continuation split), so " True" is scored as the token that follows
  "is" exactly as it would be in a demo.
- BOS is prepended exactly once when the model expects it.
- A prompt longer than the model's context keeps its *last* tokens (left truncation): the query
  and its nearest demos survive, the oldest demos are cut. A warning is logged the first time,
  and `n_truncated` counts every occurrence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from elicit.backends.base import Demo, LabelSet, LooUnit
from elicit.errors import ConfigError

log = logging.getLogger("elicit")

DEMO_SEPARATOR = "\n\n"
#: A cut between two tokenisation pieces: after two newlines, before a character that is not one.
_PIECE_CUT = re.compile(r"(?<=\n\n)(?=[^\n])")


def render_demo(demo: Demo, label_set: LabelSet) -> str:
    if not 0 <= demo.label < len(label_set.words):
        raise ConfigError(f"label {demo.label} is outside the label words {label_set.words!r}")
    return demo.prompt + label_set.words[demo.label] + DEMO_SEPARATOR


def render_context(demos: Sequence[Demo], query: str, label_set: LabelSet) -> str:
    """All `demos` in order, then the query prompt."""
    return "".join(render_demo(d, label_set) for d in demos) + query


def loo_prompt(demos: Sequence[Demo], i: int, label_set: LabelSet) -> str:
    """The prompt for demo i with every other demo, in order, in context."""
    others = [d for j, d in enumerate(demos) if j != i]
    return render_context(others, demos[i].prompt, label_set)


def tree_loo_orders(n: int) -> list[list[int]]:
    """For each query i in range(n), the order of the other n - 1 demos in its context.

    Recursive split: the queries of the left half [lo, mid) see the right half [mid, hi) first,
    then the order built recursively inside the left half, and vice versa. Every query's
    context holds all other demos exactly once, and all queries under one node of the split
    share the prefix built so far, so a depth-first walk with a prefix (KV) cache processes
    each demo once per level: O(N log N) demo encodings instead of O(N^2).

        n = 4:  query 0 <- [2, 3, 1]   query 1 <- [2, 3, 0]
                query 2 <- [0, 1, 3]   query 3 <- [0, 1, 2]
    """
    orders: list[list[int]] = [[] for _ in range(n)]

    def split(lo: int, hi: int, prefix: list[int]) -> None:
        if hi - lo == 1:
            orders[lo] = prefix
            return
        mid = (lo + hi) // 2
        split(lo, mid, prefix + list(range(mid, hi)))
        split(mid, hi, prefix + list(range(lo, mid)))

    if n:
        split(0, n, [])
    return orders


def loo_orders(n: int, order: str = "given") -> list[list[int]]:
    """For each of n queries, the indices of the other demos in its leave-one-out context:
    in their given order, or by the recursive split of `tree_loo_orders`."""
    if order == "given":
        return [[j for j in range(n) if j != i] for i in range(n)]
    if order == "tree":
        return tree_loo_orders(n)
    raise ConfigError(f"unknown leave-one-out order {order!r}; use 'given' or 'tree'")


def loo_prompts(
    demos: Sequence[Demo], label_set: LabelSet, order: str = "given", context: Sequence[Demo] = ()
) -> list[str]:
    """The leave-one-out prompt of every demo, with the others in `order` ("given"/"tree"),
    after the fixed `context` demos."""
    head = "".join(render_demo(d, label_set) for d in context)
    return [
        head + render_context([demos[j] for j in others], demos[i].prompt, label_set)
        for i, others in enumerate(loo_orders(len(demos), order))
    ]


def solo_units(n: int) -> list[LooUnit]:
    """Plain leave-one-out as units: demo i alone, shown and asked."""
    return [LooUnit((i,), (i,)) for i in range(n)]


def check_units(units: Sequence[LooUnit], n: int) -> None:
    """Raise ValueError unless every one of n demos is asked by exactly one unit and no demo
    is shown twice (`LooUnit`)."""
    asked = sorted(i for u in units for i in u.asked)
    if asked != list(range(n)):
        raise ValueError(f"every one of the {n} demos must be asked by exactly one unit")
    shown = [i for u in units for i in u.shown]
    if len(set(shown)) != len(shown) or any(not 0 <= i < n for i in shown):
        raise ValueError(f"shown demos must be distinct indices in range({n})")


def asked_order(units: Sequence[LooUnit]) -> list[int]:
    """The demos in the order a unit walk scores them: unit by unit, each unit's asked ones."""
    return [i for u in units for i in u.asked]


def unit_loo_prompts(
    demos: Sequence[Demo],
    units: Sequence[LooUnit],
    label_set: LabelSet,
    order: str = "tree",
    context: Sequence[Demo] = (),
) -> list[str]:
    """The prompt of every demo (indexed like `demos`): the fixed `context` demos, then the
    shown demos of every other unit, units in `order` (`loo_orders` over the units), then the
    demo's own prompt. With `solo_units` this is `loo_prompts`.

        units (t0 f0 | t1 f1 | t2 f2), tree:  t0, f0 <- t1 f1 t2 f2    t1, f1 <- t2 f2 t0 f0 ...
    """
    check_units(units, len(demos))
    head = "".join(render_demo(d, label_set) for d in context)
    out = [""] * len(demos)
    for u, others in enumerate(loo_orders(len(units), order)):
        shown = "".join(render_demo(demos[j], label_set) for v in others for j in units[v].shown)
        for i in units[u].asked:
            out[i] = head + shown + demos[i].prompt
    return out


def tokenisation_pieces(text: str) -> list[str]:
    """`text` cut after every run of two or more newlines that is followed by more text.

    Each piece is tokenised on its own. A cut depends only on the two characters before it and
    the one after, so for texts `a` ending in "\\n\\n" and `b` not starting with "\\n",
    pieces(a + b) == pieces(a) + pieces(b): a rendered context is cut exactly at its demo
    boundaries (and wherever its prompts hold blank lines themselves).

        "A is True\\n\\nB is" -> ["A is True\\n\\n", "B is"]
    """
    return _PIECE_CUT.split(text)


class Tokenizer(Protocol):
    """What the encoder needs from a tokenizer. `encode` must add no special tokens."""

    @property
    def bos_id(self) -> int | None: ...

    def encode(self, text: str) -> list[int]: ...


def spelling_variants(word: str) -> list[str]:
    """Spellings of `word` that differ only in case and in one leading space, word first."""
    core = word.strip()
    cores = [core, core.lower(), core.capitalize(), core.upper(), core.title()]
    out: list[str] = []
    for c in cores:
        for s in (" " + c, c):
            if s not in out:
                out.append(s)
    if word in out:
        out.remove(word)
    return [word, *out]


@dataclass
class PromptEncoder:
    """Turns prompt text and label words into token ids under the rules above."""

    tokenizer: Tokenizer
    max_length: int
    add_bos: bool = True
    n_truncated: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.max_length < 8:
            raise ConfigError(f"max_length {self.max_length} is too small to hold a prompt")

    def tokens(self, text: str) -> list[int]:
        """Token ids of `text` piece by piece (`tokenisation_pieces`): no BOS, no truncation."""
        return [t for piece in tokenisation_pieces(text) for t in self.tokenizer.encode(piece)]

    def encode(self, text: str, reserve: int = 0) -> list[int]:
        """Token ids of `text` (BOS first when the model uses one), left-truncated so that
        `reserve` more tokens (e.g. a multi-token label word) still fit in the context."""
        ids = self.tokens(text)
        bos = self.tokenizer.bos_id if self.add_bos else None
        budget = self.max_length - reserve - (1 if bos is not None else 0)
        if len(ids) > budget:
            if self.n_truncated == 0:
                log.warning(
                    "prompt of %d tokens exceeds the model context of %d; keeping its last %d "
                    "tokens (left truncation: the oldest in-context examples are cut). "
                    "Use fewer or shorter examples, or a model with a longer context.",
                    len(ids),
                    self.max_length,
                    budget,
                )
            self.n_truncated += 1
            ids = ids[len(ids) - budget :]
        return [bos, *ids] if bos is not None else ids

    def joins_exactly(
        self,
        segments: Sequence[str],
        query_ids: Sequence[Sequence[int]],
        longest: int,
        reserve: int,
    ) -> bool:
        """Whether prompts assembled from separately tokenised `segments` (demos, queries)
        carry exactly the tokens `encode` gives their full text, so a backend may build them
        from cached pieces.

        Not when a segment starts with a newline (its text prompt would be cut differently,
        see `tokenisation_pieces`), a query has no tokens (its label would be read at the
        prefix's last position), or a prompt would be left-truncated (`longest` tokens without
        BOS, with `reserve` tokens kept free for a label continuation): then the caller scores
        the text prompts and `encode`'s truncation warning says what happened.
        """
        bos = 1 if self.add_bos and self.tokenizer.bos_id is not None else 0
        return (
            not any(s.startswith("\n") for s in segments)
            and all(query_ids)
            and longest <= self.max_length - reserve - bos
        )

    def label_variants(self, label_set: LabelSet) -> list[list[tuple[int, ...]]]:
        """For each label word, the token sequences whose probabilities are summed.

        With `label_set.variants`, every spelling from `spelling_variants` that is a single token
        counts; when no spelling of a word is a single token, the word's own (multi-token)
        encoding is used alone. Without variants, only the word's own encoding counts.
        """
        out: list[list[tuple[int, ...]]] = []
        for word in label_set.words:
            own = tuple(self.tokenizer.encode(word))
            if not own:
                raise ConfigError(f"label word {word!r} encodes to no tokens")
            seqs: list[tuple[int, ...]] = [own]
            if label_set.variants:
                singles: list[tuple[int, ...]] = []
                for s in spelling_variants(word):
                    ids = tuple(self.tokenizer.encode(s))
                    if len(ids) == 1 and ids not in singles:
                        singles.append(ids)
                if singles:
                    seqs = singles
            out.append(seqs)
        seen: dict[tuple[int, ...], str] = {}
        for word, seqs in zip(label_set.words, out, strict=True):
            for seq in seqs:
                if seq in seen:
                    raise ConfigError(
                        f"label words {seen[seq]!r} and {word!r} share the token sequence "
                        f"{seq}; choose words that the tokenizer tells apart"
                    )
                seen[seq] = word
        return out
