"""Prompt rendering and tokenisation rules shared by every backend."""

from __future__ import annotations

import logging

import pytest

from elicit.backends.base import TRUE_FALSE, Demo, LabelSet
from elicit.backends.prompting import (
    PromptEncoder,
    loo_prompt,
    render_context,
    render_demo,
    spelling_variants,
)
from elicit.errors import ConfigError


class WordTokenizer:
    """A whitespace-aware word tokenizer: ' True' and 'True' are different tokens."""

    def __init__(self, vocab: list[str], bos: int | None = 0) -> None:
        self.vocab = {w: i for i, w in enumerate(vocab)}
        self._bos = bos

    @property
    def bos_id(self) -> int | None:
        return self._bos

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        word = ""
        for ch in text:
            if ch == " " and word.strip():
                ids.extend(self._word(word))
                word = ""
            word += ch
        if word:
            ids.extend(self._word(word))
        return ids

    def _word(self, w: str) -> list[int]:
        if w in self.vocab:
            return [self.vocab[w]]
        return [self.vocab.setdefault(c, len(self.vocab)) for c in w]  # spell it out


VOCAB = ["<bos>", " True", " False", "True", " true", "false", " TRUE", "a", " b"]


def test_render_demo_and_context() -> None:
    demos = [Demo("A is", 1), Demo("B is", 0)]
    assert render_demo(demos[0], TRUE_FALSE) == "A is True\n\n"
    assert render_context(demos, "C is", TRUE_FALSE) == "A is True\n\nB is False\n\nC is"
    assert loo_prompt(demos, 0, TRUE_FALSE) == "B is False\n\nA is"
    assert loo_prompt(demos, 1, TRUE_FALSE) == "A is True\n\nB is"
    with pytest.raises(ConfigError, match="outside the label words"):
        render_demo(Demo("x", 2), TRUE_FALSE)


def test_spelling_variants_word_first_unique() -> None:
    v = spelling_variants(" True")
    assert v[0] == " True"
    assert {"True", " true", "true", " TRUE", "TRUE"} <= set(v)
    assert len(v) == len(set(v))


def test_label_variants_single_tokens() -> None:
    enc = PromptEncoder(WordTokenizer(VOCAB), max_length=64)
    got = enc.label_variants(TRUE_FALSE)
    # label 0 = " False": single-token spellings " False" (2) and "false" (5)
    assert got[0] == [(2,), (5,)]
    # label 1 = " True": " True" (1), "True" (3), " true" (4), " TRUE" (6)
    assert sorted(got[1]) == [(1,), (3,), (4,), (6,)]
    exact = enc.label_variants(LabelSet(variants=False))
    assert exact == [[(2,)], [(1,)]]


def test_label_variants_multi_token_word_uses_own_encoding() -> None:
    tok = WordTokenizer(VOCAB)
    enc = PromptEncoder(tok, max_length=64)
    got = enc.label_variants(LabelSet(words=(" b", " Maybe")))
    assert got[0][0] == (8,)  # the word as given comes first; single-char spellings follow
    assert len(got[1]) == 1 and len(got[1][0]) > 1
    assert got[1][0] == tuple(tok.encode(" Maybe"))


def test_labels_sharing_tokens_are_refused() -> None:
    tok = WordTokenizer(VOCAB)
    tok.vocab[" Yes"] = tok.vocab[" True"]  # a tokenizer that cannot tell the words apart
    enc = PromptEncoder(tok, max_length=64)
    with pytest.raises(ConfigError, match="share the token sequence"):
        enc.label_variants(LabelSet(words=(" Yes", " True"), variants=False))


def test_bos_once_and_left_truncation(caplog: pytest.LogCaptureFixture) -> None:
    enc = PromptEncoder(WordTokenizer(VOCAB), max_length=8)
    assert enc.encode("a b") == [0, 7, 8]
    with caplog.at_level(logging.WARNING, logger="elicit"):
        ids = enc.encode("a" + " b" * 20)
        ids2 = enc.encode("a" + " b" * 30, reserve=2)
    assert ids == [0] + [8] * 7  # BOS kept, last tokens kept
    assert len(ids2) == 6
    assert enc.n_truncated == 2
    assert sum("left truncation" in r.message for r in caplog.records) == 1
    no_bos = PromptEncoder(WordTokenizer(VOCAB, bos=None), max_length=8)
    assert no_bos.encode("a b") == [7, 8]


def test_label_set_validation() -> None:
    with pytest.raises(ConfigError, match="at least two"):
        LabelSet(words=(" True",))
    with pytest.raises(ConfigError, match="collide"):
        LabelSet(words=(" True", "true"))
    assert LabelSet(words=(" True", "true"), variants=False).binary
    with pytest.raises(ConfigError, match="blank"):
        LabelSet(words=(" ", " True"))
