"""The token layer under the backends that tokenise locally (transformers, llama.cpp).

`TokenLM` turns the LM protocol's text calls into token-level scoring once for every such
backend, as lm-evaluation-harness's `TemplateLM` turns `loglikelihood` requests into token
requests for `_loglikelihood_tokens`. For each call it

1. renders the demos and queries as text (`prompting.render_demo`),
2. tokenises every demo and query once, piece by piece (`PromptEncoder.tokens`),
3. checks that joining those pieces gives exactly the tokens of the text prompts
   (`PromptEncoder.joins_exactly`: no segment starting with a newline, no empty query, no
   truncation), and
4. hands the pieces to the backend's token-level scoring, or, when the check fails, scores
   the text prompts instead (`LM`'s defaults, through `label_logprobs`).

So a backend writes only how it scores token contexts:

    token_logprobs(contexts, variants)                   (n, k)  every context in full
    token_loo_logprobs(start, shown, asked, order, ...)  (n, k)  leave-one-out by units
    token_context_logprobs(start, demos, queries, ...)   (m, k)  many-shot, shared demos

Only `token_logprobs` is required; the other two assemble every context and call it, and a
backend with a prefix engine overrides them to compute shared prefixes once. A leave-one-out
context of a query asked by unit u is

    start (BOS, fixed context demos) | shown[v] for v in loo_orders(U, order)[u] | query

which is the token form of `prompting.unit_loo_prompts`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from elicit.backends.base import (
    LM,
    TRUE_FALSE,
    Demo,
    FloatArray,
    LabelSet,
    LooOrder,
    LooUnit,
    check_finite,
)
from elicit.backends.prompting import (
    PromptEncoder,
    asked_order,
    check_units,
    loo_orders,
    render_demo,
    solo_units,
)
from elicit.errors import ConfigError

#: For each label word, the token sequences whose probabilities are summed
#: (`PromptEncoder.label_variants`).
Variants = list[list[tuple[int, ...]]]


def label_reserve(variants: Variants) -> int:
    """Context tokens left free for the longest label continuation (minus its last token,
    which is predicted, not fed)."""
    return max(len(s) for seqs in variants for s in seqs) - 1


def loo_contexts(
    start: Sequence[int],
    shown: Sequence[Sequence[int]],
    asked: Sequence[Sequence[Sequence[int]]],
    order: LooOrder,
) -> list[list[int]]:
    """Every leave-one-out context in full, unit by unit and each unit's queries in turn:
    `start`, the shown tokens of every other unit in `order`, then the query's tokens."""
    return [
        [*start, *(t for v in others for t in shown[v]), *query]
        for u, others in enumerate(loo_orders(len(shown), order))
        for query in asked[u]
    ]


class TokenLM(LM):
    """An LM that tokenises locally with a `PromptEncoder` and scores token contexts.

    Subclasses set `encoder` (and `max_length`, the encoder's) and implement
    `token_logprobs`; see the module docstring for what they may override.
    """

    #: Leave-one-out runs on token pieces (shared prefixes), not on the text prompts.
    native_loo = True
    #: Always known: the encoder left-truncates prompts to it.
    max_length: int
    encoder: PromptEncoder

    # ------------------------------------------------------------------ token-level scoring

    @abc.abstractmethod
    def token_logprobs(self, contexts: Sequence[list[int]], variants: Variants) -> FloatArray:
        """(n, k) log P(label word k | context) for every token context (BOS included,
        already truncated; never empty), summing each word's variants."""

    def token_loo_logprobs(
        self,
        start: list[int],
        shown: Sequence[list[int]],
        asked: Sequence[Sequence[list[int]]],
        order: LooOrder,
        variants: Variants,
    ) -> FloatArray:
        """(n, k) log-probs of the leave-one-out queries, unit by unit (`asked[u]` in turn),
        each after `start` and the `shown` tokens of every other unit in `order` (see
        `loo_contexts`). This default scores every context in full."""
        return self.token_logprobs(loo_contexts(start, shown, asked, order), variants)

    def token_context_logprobs(
        self,
        start: list[int],
        demos: Sequence[list[int]],
        queries: Sequence[list[int]],
        variants: Variants,
    ) -> FloatArray:
        """(m, k) log-probs of every query after `start` and all `demos` in order. This
        default scores every context in full."""
        prefix = start + [t for d in demos for t in d]
        return self.token_logprobs([prefix + q for q in queries], variants)

    def can_assemble(self) -> bool:
        """Whether this backend scores contexts assembled from token pieces now (the hf
        backend: when prefix sharing is on and possible); False sends every call to the text
        prompts."""
        return True

    def start_tokens(self) -> list[int]:
        """What every context starts with: [BOS] when the model uses one, else []."""
        bos = self.encoder.tokenizer.bos_id if self.encoder.add_bos else None
        return [bos] if bos is not None else []

    # ------------------------------------------------------------------ the LM protocol

    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        variants = self.encoder.label_variants(label_set)
        if len(prompts) == 0:
            return np.zeros((0, len(label_set.words)))
        # The context leaves room for the longest label continuation, and is the same for
        # every variant of a prompt.
        reserve = label_reserve(variants)
        contexts = [self.encoder.encode(p, reserve=reserve) for p in prompts]
        if any(not c for c in contexts):
            raise ConfigError("an empty prompt cannot be scored by a model without a BOS token")
        return check_finite(self.token_logprobs(contexts, variants), self.name, prompts)

    def loo_scores(
        self,
        demos: Sequence[Demo],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: LooOrder = "given",
        context: Sequence[Demo] = (),
    ) -> FloatArray:
        """`LM.loo_scores` from token pieces: `unit_loo_scores` with one unit per demo."""
        if len(demos) == 0 or order not in ("given", "tree") or not label_set.binary:
            return super().loo_scores(demos, label_set, order=order, context=context)
        return self.unit_loo_scores(
            demos, solo_units(len(demos)), label_set, order=order, context=context
        )

    def unit_loo_scores(
        self,
        demos: Sequence[Demo],
        units: Sequence[LooUnit],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: LooOrder = "tree",
        context: Sequence[Demo] = (),
    ) -> FloatArray:
        """`LM.unit_loo_scores` from token pieces: each demo, fixed `context` demo and query
        tokenised once, a unit's shown demos one segment, its asked demos its queries
        (`token_loo_logprobs`). Same tokens as the text prompts, which it scores instead when
        joining would not give them (`PromptEncoder.joins_exactly`)."""
        check_units(units, len(demos))
        if len(demos) == 0 or order not in ("given", "tree") or not label_set.binary:
            return super().unit_loo_scores(demos, units, label_set, order=order, context=context)
        texts = [render_demo(d, label_set) for d in demos]
        fixed = [render_demo(d, label_set) for d in context]
        variants = self.encoder.label_variants(label_set)
        demo_ids = [self.encoder.tokens(t) for t in texts]
        shown = [[t for i in u.shown for t in demo_ids[i]] for u in units]
        fixed_ids = [t for text in fixed for t in self.encoder.tokens(text)]
        walk = asked_order(units)
        queries = [demos[i].prompt for i in walk]
        query_ids = [self.encoder.tokens(q) for q in queries]
        by_demo = dict(zip(walk, query_ids, strict=True))
        total = len(fixed_ids) + sum(len(s) for s in shown)
        longest = max(
            total - len(shown[u]) + len(by_demo[i])
            for u, unit in enumerate(units)
            for i in unit.asked
        )
        if not self._assembles(fixed + texts + queries, query_ids, longest, variants):
            return super().unit_loo_scores(demos, units, label_set, order=order, context=context)
        asked = [[by_demo[i] for i in u.asked] for u in units]
        lp = self.token_loo_logprobs(self.start_tokens() + fixed_ids, shown, asked, order, variants)
        lp = check_finite(lp, self.name, queries, what="leave-one-out prompt of demo")
        out = np.zeros(len(demos))
        out[walk] = lp[:, 1] - lp[:, 0]
        return out

    def context_scores(
        self, demos: Sequence[Demo], queries: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        """`LM.context_scores` tokenising the shared demos once (`token_context_logprobs`),
        or scoring the text prompts when joining would not give their tokens."""
        if len(queries) == 0 or not label_set.binary:
            return super().context_scores(demos, queries, label_set)
        texts = [render_demo(d, label_set) for d in demos]
        variants = self.encoder.label_variants(label_set)
        demo_ids = [self.encoder.tokens(text) for text in texts]
        query_ids = [self.encoder.tokens(q) for q in queries]
        longest = sum(len(d) for d in demo_ids) + max(len(q) for q in query_ids)
        if not self._assembles(texts + list(queries), query_ids, longest, variants):
            return super().context_scores(demos, queries, label_set)
        lp = self.token_context_logprobs(self.start_tokens(), demo_ids, query_ids, variants)
        lp = check_finite(lp, self.name, queries, what="query")
        return np.asarray(lp[:, 1] - lp[:, 0], dtype=np.float64)

    def count_tokens(self, text: str) -> int:
        # Exact: the encoder's tokens without BOS or truncation (encoder.encode would add BOS
        # and cut at max_length, which is what a budget check must not do).
        return len(self.encoder.tokens(text))

    def _assembles(
        self,
        segments: Sequence[str],
        query_ids: Sequence[Sequence[int]],
        longest: int,
        variants: Variants,
    ) -> bool:
        """Whether to score assembled token pieces: the backend can (`can_assemble`) and they
        are exactly the text prompts' tokens (`PromptEncoder.joins_exactly`)."""
        return self.can_assemble() and self.encoder.joins_exactly(
            segments, query_ids, longest, label_reserve(variants)
        )
