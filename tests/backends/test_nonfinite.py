"""NaN and infinite log-probs, empty top-k and over-long prompts, per backend: each is asked
again, refused with a `BackendError` naming the model and the prompt, or (truncation) logged,
and a non-finite score never reaches the caller or the score cache.

hf: a tiny random model whose logits are poisoned (one token's input embedding set to NaN, or
the output layer's logits overwritten), through plain, leave-one-out (both engines) and
many-shot scoring. llamacpp: the backend's scoring code over a scripted logits source, so no
GGUF model is needed. openai: the stub server of test_openai.py answering NaN, "+Infinity",
null or empty top-k. cache: a wrapped backend that returns NaN without checking.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_openai import Stub, keyword_top, serve

from elicit.backends.base import LM, TRUE_FALSE, Demo, FloatArray, GenerationConfig, LabelSet
from elicit.backends.cache import CachedLM
from elicit.backends.fake import ScriptedLM
from elicit.backends.hf import HFBackend
from elicit.backends.llamacpp import LlamaCppBackend
from elicit.backends.openai import OpenAIBackend
from elicit.backends.prompting import PromptEncoder
from elicit.errors import BackendError

#: One torch thread for this module (tests/conftest.py says why).
ONE_TORCH_THREAD = True
#: numpy's notice when it computes with the NaN these tests inject.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

CLEAN = [
    "The sky is blue. I think this claim is",
    "Question: What is 2+2? Claim: 4. I think this claim is",
]
POISONED = "The grass is red. I think this claim is"  # " grass" gets a NaN embedding
DEMOS = [Demo("The sky is blue. I think this claim is", 1), Demo(POISONED, 0), Demo(CLEAN[1], 1)]
NONFINITE = [math.nan, math.inf, -math.inf]


# ---------------------------------------------------------------------- hf


@pytest.fixture(scope="module", params=["tree", "packed"])
def hf(request: pytest.FixtureRequest, tiny_model_dir: Path) -> HFBackend:
    return HFBackend(str(tiny_model_dir), progress=False, loo_engine=request.param)


def token_ids(lm: HFBackend, word: str) -> list[int]:
    return [int(i) for i in lm.hf_tokenizer(word, add_special_tokens=False).input_ids]


@contextmanager
def poisoned_embedding(lm: HFBackend, word: str, value: float) -> Iterator[None]:
    """Every prompt holding `word` gets non-finite hidden states, hence logits, from there on."""
    weight = lm.model.get_input_embeddings().weight
    ids = token_ids(lm, word)
    saved = weight.data[ids].clone()
    weight.data[ids] = value
    assert lm.prefix_store is not None
    lm.prefix_store.clear()  # no clean states kept from an earlier call
    try:
        yield
    finally:
        weight.data[ids] = saved
        lm.prefix_store.clear()


@contextmanager
def overwritten_logits(lm: HFBackend, ids: Sequence[int], value: float) -> Iterator[None]:
    def hook(module: Any, args: Any, out: torch.Tensor) -> torch.Tensor:
        out = out.clone()
        out[..., list(ids)] = value
        return out

    handle = lm.model.get_output_embeddings().register_forward_hook(hook)
    assert lm.prefix_store is not None
    lm.prefix_store.clear()
    try:
        yield
    finally:
        handle.remove()
        lm.prefix_store.clear()


def test_hf_nan_names_the_model_and_the_prompt(hf: HFBackend) -> None:
    with poisoned_embedding(hf, " grass", math.nan):
        assert np.isfinite(hf.score(CLEAN)).all()  # other prompts are unaffected
        with pytest.raises(BackendError) as e:
            hf.label_logprobs([*CLEAN, POISONED])
        msg = str(e.value)
        assert hf.name in msg and "prompt 2 of 3" in msg and "nan" in msg and "--dtype" in msg
        with pytest.raises(BackendError, match="prompt 0 of 1"):
            hf.score([POISONED])
    assert np.isfinite(hf.score([POISONED])).all()  # the model itself was fine


@pytest.mark.parametrize("value", NONFINITE)
def test_hf_nonfinite_logits_are_refused(hf: HFBackend, value: float) -> None:
    # +-inf on every spelling of " True": NaN log-probs (+inf) or P(" True") = 0 (-inf);
    # NaN in one logit makes the whole log-softmax NaN.
    true_ids = [s[0] for s in hf.encoder.label_variants(TRUE_FALSE)[1]]
    ids = true_ids if value != math.inf else true_ids[:1]
    with overwritten_logits(hf, ids, value), pytest.raises(BackendError, match="non-finite"):
        hf.score(CLEAN)


def test_hf_leave_one_out_and_many_shot_refuse_nan(hf: HFBackend) -> None:
    with poisoned_embedding(hf, " grass", math.nan):
        for order in ("given", "tree"):
            with pytest.raises(BackendError, match="non-finite") as e:
                hf.loo_scores(DEMOS, order=order)
            assert hf.name in str(e.value)
        with pytest.raises(BackendError, match="query 0 of 2"):
            hf.context_scores(DEMOS, CLEAN)
        # A context without the poisoned demo scores as usual.
        assert np.isfinite(hf.context_scores([DEMOS[0], DEMOS[2]], CLEAN)).all()


# ---------------------------------------------------------------------- llamacpp


class WordTokenizer:
    """Words with their leading space (or a lone space) as tokens, ids handed out on first
    sight; BOS is 0."""

    bos_id = 0

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, text: str) -> list[int]:
        return [self.ids.setdefault(w, len(self.ids) + 1) for w in re.findall(r" ?[^ ]+| ", text)]


VOCAB = 512


def scripted_llama(poison: str, value: float) -> LlamaCppBackend:
    """The llama.cpp backend's scoring over scripted logits (no GGUF): seeded random logits of
    the context, with `value` at every position once the token `poison` was read."""
    lm = object.__new__(LlamaCppBackend)
    tokenizer = WordTokenizer()
    lm.name, lm.progress, lm.tokenizer = "llamacpp:scripted", False, tokenizer
    lm.encoder = PromptEncoder(tokenizer, max_length=256)
    bad = tokenizer.encode(poison)[0]

    def logits_after(ids: list[int]) -> np.ndarray[Any, np.dtype[np.float32]]:
        out = np.random.default_rng(len(ids) * 7919 + sum(ids)).normal(size=VOCAB)
        if bad in ids:
            out[: VOCAB // 2] = value
        return out.astype(np.float32)

    lm._logits_after = logits_after  # type: ignore[method-assign]
    return lm


@pytest.mark.parametrize("value", NONFINITE)
def test_llamacpp_nonfinite_logits_name_the_prompt(value: float) -> None:
    lm = scripted_llama(" grass", value)
    assert np.isfinite(lm.score(CLEAN)).all()
    with pytest.raises(BackendError) as e:
        lm.label_logprobs([*CLEAN, POISONED])
    assert "llamacpp:scripted" in str(e.value) and "prompt 2 of 3" in str(e.value)
    with pytest.raises(BackendError, match="leave-one-out prompt of demo 0 of 3"):
        lm.loo_scores(DEMOS, order="tree")
    with pytest.raises(BackendError, match="query 0 of 2"):
        lm.context_scores(DEMOS, CLEAN)


# ---------------------------------------------------------------------- openai


def poisoned_top(value: Any) -> Any:
    """Top-k log-probs as the stub serves them, with `value` as " True"'s for the prompt that
    mentions grass."""

    def top(prompt: str) -> dict[str, Any]:
        out: dict[str, Any] = dict(keyword_top(prompt))
        if "grass" in prompt:
            out[" True"] = value
        return out

    return top


@pytest.mark.parametrize("value", [math.nan, math.inf, "NaN", "+Infinity", "lots", 2.5, [0.1]])
def test_openai_nan_is_asked_again_then_refused(
    value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """NaN, +inf, a positive number or no number at all is not a log-prob: the prompt is asked
    once more, then the call fails naming the model and the prompt."""
    stub = Stub(top=poisoned_top(value))
    with serve(stub) as url, caplog.at_level(logging.WARNING, logger="elicit"):
        lm = OpenAIBackend(f"openai:{url}/stub-model", batch_size=2)
        assert np.isfinite(lm.score(CLEAN)).all()
        stub.requests.clear()
        with pytest.raises(BackendError) as e:
            lm.score([*CLEAN, POISONED])
    msg = str(e.value)
    assert "stub-model" in msg and "prompt 2 of 3" in msg and "twice" in msg and url in msg
    assert sum(p.get("prompt") == POISONED for _, p in stub.requests) == 2
    assert "asking again" in caplog.text


def test_openai_transient_nan_is_retried() -> None:
    answers = iter([math.nan])  # the first answer for the grass prompt is NaN, then all is well

    def top(prompt: str) -> dict[str, Any]:
        out: dict[str, Any] = dict(keyword_top(prompt))
        if "grass" in prompt:
            out[" True"] = next(answers, out[" True"])
        return out

    with serve(Stub(top=top)) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model", batch_size=1)
        scores = lm.score([POISONED, CLEAN[0]])
    np.testing.assert_allclose(scores, [math.log(0.2 / 0.65)] * 2)


@pytest.mark.parametrize("top", [{}, {" True": None, " False": None}, {" True": "-Infinity"}])
def test_openai_empty_top_k_is_refused(top: dict[str, Any]) -> None:
    """No entry, or only tokens of probability 0 (-inf; llama.cpp writes it as null): nothing
    to score the label words from."""
    stub = Stub(top=lambda prompt: top if "grass" in prompt else keyword_top(prompt))
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model")
        with pytest.raises(BackendError, match="prompt 0 of 1 twice with no top-k log-probs"):
            lm.score([POISONED])


def test_openai_probability_zero_tokens_are_left_out() -> None:
    """-inf (or null) for one token is probability 0: the rest of the top-k still scores."""
    top = {" True": math.log(0.6), " False": None, " the": "-Infinity", " a": math.log(0.1)}
    with serve(Stub(top=lambda prompt: top)) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model")
        [score] = lm.score(["x"])
    # " False" is absent: its floor is half of min(smallest top-k prob, the rest) = 0.1 / 2.
    assert score == pytest.approx(math.log(0.6) - math.log(0.05))


def test_openai_prompt_longer_than_the_server_context() -> None:
    stub = Stub()
    with serve(stub) as url:
        lm = OpenAIBackend(f"openai:{url}/stub-model")
        stub.bad_request = "request (4476 tokens) exceeds the available context size (4096 tokens)"
        with pytest.raises(BackendError, match="too long for the server's context"):
            lm.score(["x" * 10_000])


# ---------------------------------------------------------------------- cache


class UncheckedLM(LM):
    """A backend that returns whatever its rule says, NaN included, without looking."""

    def __init__(self, bad: str) -> None:
        self.name = "unchecked"
        self.bad = bad
        self.asked: list[str] = []

    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        self.asked.extend(prompts)
        return np.array([[-1.0, math.nan if self.bad in p else -0.5] for p in prompts])

    def score(self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE) -> FloatArray:
        lp = self.label_logprobs(prompts, label_set)
        return np.asarray(lp[:, 1] - lp[:, 0])

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return ["" for _ in prompts]


def stored(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [v for (v,) in conn.execute("SELECT value FROM entries")]


@pytest.mark.parametrize("method", ["score", "label_logprobs", "loo_scores"])
def test_cache_never_stores_a_nonfinite_score(tmp_path: Path, method: str) -> None:
    inner = UncheckedLM("grass")
    lm = CachedLM(inner, tmp_path / "c.sqlite")
    with pytest.raises(BackendError) as e:
        if method == "loo_scores":
            lm.loo_scores(DEMOS)
        else:
            getattr(lm, method)([*CLEAN, POISONED])
    assert "unchecked" in str(e.value) and "not cached" in str(e.value)
    values = stored(tmp_path / "c.sqlite")
    assert not any("NaN" in v or "Infinity" in v for v in values)
    if method != "loo_scores":  # the finite scores are kept: a rerun asks only for the rest
        assert len(values) == 2
        inner.bad = "nothing"
        inner.asked.clear()
        getattr(lm, method)([*CLEAN, POISONED])
        assert inner.asked == [POISONED]


def test_cache_recomputes_a_nonfinite_entry_written_before(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    lm = CachedLM(ScriptedLM(lambda p: 1.5), path)
    lm.score(CLEAN)
    with sqlite3.connect(path) as conn:  # as an older elicit could have stored it
        conn.execute("UPDATE entries SET value = 'NaN'")
    again = CachedLM(ScriptedLM(lambda p: 2.5), path)
    np.testing.assert_array_equal(again.score(CLEAN), [2.5, 2.5])
    assert (again.hits, again.misses) == (0, 2)
    assert "NaN" not in stored(path)


def test_scripted_lm_nan_is_refused_before_the_cache(tmp_path: Path) -> None:
    """Backends without their own check go through `LM.score`'s."""
    lm = CachedLM(ScriptedLM(lambda p: math.nan if "grass" in p else 0.5), tmp_path / "c.sqlite")
    with pytest.raises(BackendError, match=r"model fake .*prompt 1 of 2"):
        lm.score([CLEAN[0], POISONED])
