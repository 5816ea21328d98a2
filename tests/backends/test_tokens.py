"""The token layer (`backends.tokens.TokenLM`) on a scripted word tokenizer and scorer.

The scorer is a function of the token context alone, so a score computed from joined token
pieces equals the text prompt's exactly when the pieces are the prompt's tokens. Every test
compares against `LM`'s text-prompt defaults, and checks which path ran.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest

from elicit.backends.base import (
    LM,
    TRUE_FALSE,
    Demo,
    FloatArray,
    GenerationConfig,
    LooOrder,
    LooUnit,
)
from elicit.backends.prompting import (
    PromptEncoder,
    loo_prompts,
    render_context,
    solo_units,
    unit_loo_prompts,
)
from elicit.backends.tokens import TokenLM, Variants, label_reserve, loo_contexts
from elicit.errors import ConfigError
from elicit.search.energy import balanced_units

WORD = re.compile(r" ?[A-Za-z0-9]+|\n|[^A-Za-z0-9\n]")


class WordTokenizer:
    """One token per word (with its leading space), newline or other character; ids are
    handed out on first sight, so the same text always gets the same ids."""

    def __init__(self, bos: int | None = 0) -> None:
        self._bos = bos
        self.vocab: dict[str, int] = {}

    @property
    def bos_id(self) -> int | None:
        return self._bos

    def encode(self, text: str) -> list[int]:
        return [self.vocab.setdefault(w, len(self.vocab) + 1) for w in WORD.findall(text)]


class ScriptedTokenLM(TokenLM):
    """Scores a token context by a fixed function of its ids; records what it was asked."""

    def __init__(self, *, bos: int | None = 0, max_length: int = 512, assemble: bool = True):
        self.name = "scripted-tokens"
        self.max_length = max_length
        self.encoder = PromptEncoder(WordTokenizer(bos), max_length, add_bos=True)
        self.assemble = assemble
        self.scored: list[tuple[int, ...]] = []  # every context token_logprobs saw
        self.token_loo_calls = 0
        self.token_context_calls = 0

    def token_logprobs(self, contexts: Sequence[list[int]], variants: Variants) -> FloatArray:
        self.scored.extend(tuple(c) for c in contexts)
        out = np.zeros((len(contexts), len(variants)))
        for i, ctx in enumerate(contexts):
            h = sum((j + 1) * t for j, t in enumerate(ctx))
            out[i] = [-((h * (k + 3)) % 101) / 17 for k in range(len(variants))]
        return out

    def token_loo_logprobs(
        self,
        start: list[int],
        shown: Sequence[list[int]],
        asked: Sequence[Sequence[list[int]]],
        order: LooOrder,
        variants: Variants,
    ) -> FloatArray:
        self.token_loo_calls += 1
        return super().token_loo_logprobs(start, shown, asked, order, variants)

    def token_context_logprobs(
        self,
        start: list[int],
        demos: Sequence[list[int]],
        queries: Sequence[list[int]],
        variants: Variants,
    ) -> FloatArray:
        self.token_context_calls += 1
        return super().token_context_logprobs(start, demos, queries, variants)

    def can_assemble(self) -> bool:
        return self.assemble

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return ["" for _ in prompts]


def claims(n: int, first: str = "") -> list[Demo]:
    return [
        Demo(f"{first}Claim {i}: item {i * 7 % 5} is red. I think this is", i % 2) for i in range(n)
    ]


def encoded(lm: ScriptedTokenLM, prompts: Sequence[str]) -> set[tuple[int, ...]]:
    reserve = label_reserve(lm.encoder.label_variants(TRUE_FALSE))
    return {tuple(lm.encoder.encode(p, reserve=reserve)) for p in prompts}


@pytest.mark.parametrize("order", ["given", "tree"])
@pytest.mark.parametrize("bos", [0, None])
def test_loo_joins_tokens_when_exact(order: LooOrder, bos: int | None) -> None:
    lm = ScriptedTokenLM(bos=bos)
    demos, fixed = claims(6), claims(2, first="Known. ")
    got = lm.loo_scores(demos, order=order, context=fixed)
    assert lm.token_loo_calls == 1
    # Exactly the tokens of the text prompts, BOS once at the front where the model uses one.
    prompts = loo_prompts(demos, TRUE_FALSE, order, fixed)
    assert set(lm.scored) == encoded(lm, prompts) and len(lm.scored) == len(demos)
    assert all((c[0] == bos) == (bos is not None) and c.count(0) <= 1 for c in lm.scored)
    lm.scored.clear()
    want = LM.loo_scores(lm, demos, order=order, context=fixed)
    np.testing.assert_array_equal(got, want)


def test_unit_loo_joins_tokens_when_exact() -> None:
    lm = ScriptedTokenLM()
    demos = claims(7)
    units = balanced_units([d.label for d in demos])
    got = lm.unit_loo_scores(demos, units, order="tree")
    assert lm.token_loo_calls == 1
    prompts = unit_loo_prompts(demos, units, TRUE_FALSE, "tree")
    assert set(lm.scored) == encoded(lm, prompts)
    np.testing.assert_array_equal(got, LM.unit_loo_scores(lm, demos, units, order="tree"))


def test_context_scores_join_tokens_when_exact() -> None:
    lm = ScriptedTokenLM()
    demos, queries = claims(4), [d.prompt for d in claims(3, first="New. ")]
    got = lm.context_scores(demos, queries)
    assert lm.token_context_calls == 1
    assert set(lm.scored) == encoded(lm, [render_context(demos, q, TRUE_FALSE) for q in queries])
    np.testing.assert_array_equal(got, LM.context_scores(lm, demos, queries))


def test_loo_contexts_are_the_unit_prompts_in_walk_order() -> None:
    shown = [[1], [2, 3], [4]]
    asked = [[[10]], [[20], [21]], [[30]]]
    assert loo_contexts([0], shown, asked, "given") == [
        [0, 2, 3, 4, 10],
        [0, 1, 4, 20],
        [0, 1, 4, 21],
        [0, 1, 2, 3, 30],
    ]


def fallback_cases() -> list[tuple[str, ScriptedTokenLM, list[Demo]]]:
    return [
        # A demo starting with a newline: its text prompt is cut differently.
        ("newline", ScriptedTokenLM(), claims(4, first="\n")),
        # Prompts longer than the context: the text prompts are left-truncated.
        ("truncated", ScriptedTokenLM(max_length=40), claims(4)),
        # The backend cannot assemble token contexts now (hf without prefix sharing).
        ("backend", ScriptedTokenLM(assemble=False), claims(4)),
    ]


@pytest.mark.parametrize(("why", "lm", "demos"), fallback_cases())
def test_falls_back_to_the_text_prompts(why: str, lm: ScriptedTokenLM, demos: list[Demo]) -> None:
    fixed = claims(1, first="Known. ")
    loo = lm.loo_scores(demos, order="tree", context=fixed)
    units = lm.unit_loo_scores(demos, solo_units(len(demos)), order="given")
    ctx = lm.context_scores(demos[:2], [d.prompt for d in demos[2:]])
    assert lm.token_loo_calls == lm.token_context_calls == 0
    np.testing.assert_array_equal(loo, LM.loo_scores(lm, demos, order="tree", context=fixed))
    np.testing.assert_array_equal(
        units, LM.unit_loo_scores(lm, demos, solo_units(len(demos)), order="given")
    )
    np.testing.assert_array_equal(
        ctx, LM.context_scores(lm, demos[:2], [d.prompt for d in demos[2:]])
    )
    assert (lm.encoder.n_truncated > 0) is (why == "truncated")


def test_non_binary_and_empty_calls_take_the_protocol_defaults() -> None:
    lm = ScriptedTokenLM()
    assert lm.loo_scores([]).shape == (0,)
    assert lm.context_scores(claims(2), []).shape == (0,)
    assert lm.label_logprobs([]).shape == (0, 2)
    with pytest.raises(ValueError, match="asked by exactly one unit"):
        lm.unit_loo_scores(claims(2), [LooUnit((0,), (0,))])
    assert lm.token_loo_calls == lm.token_context_calls == 0


def test_label_logprobs_and_count_tokens() -> None:
    lm = ScriptedTokenLM()
    text = "Claim: the sky is blue.\n\nI think this is"
    assert lm.count_tokens(text) == len(lm.encoder.tokens(text)) == 13
    assert lm.start_tokens() == [0] and ScriptedTokenLM(bos=None).start_tokens() == []
    lm.label_logprobs([text])
    assert lm.scored == [(0, *lm.encoder.tokens(text))]
    with pytest.raises(ConfigError, match="empty prompt"):
        ScriptedTokenLM(bos=None).label_logprobs([""])
    assert lm.native_loo and lm.max_length == 512
