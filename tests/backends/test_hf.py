"""HFBackend on tiny random models: scores equal hand computations from raw logits, do not
depend on batching or padding, truncate on the left, and generation is reproducible."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from elicit.backends.base import Demo, GenerationConfig, LabelSet
from elicit.backends.hf import HFBackend
from elicit.backends.prompting import loo_prompt, spelling_variants
from elicit.errors import BackendError, ConfigError

PROMPTS = [
    "Question: What is 2+2? Claim: 4. I think this claim is",
    "The sky is blue. I think this claim is",
    "is",
    "Question: What is 2+3? Claim: 6. " * 6 + "I think this claim is",
    "true false the claim",
    "Question: What is 2+2? Claim: 5. The grass is red. I think this claim is",
]


@pytest.fixture(scope="module")
def lm(tiny_model_dir: Path) -> HFBackend:
    return HFBackend(str(tiny_model_dir), progress=False)


def raw_logprobs(lm: HFBackend, ids: list[int]) -> torch.Tensor:
    """log-softmax over the vocabulary at every position of one unpadded sequence."""
    with torch.inference_mode():
        logits = lm.model(torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits.double(), dim=-1)


def hand_ids(lm: HFBackend, text: str) -> list[int]:
    tok = lm.hf_tokenizer
    return [tok.bos_token_id, *tok(text, add_special_tokens=False).input_ids]


def test_label_logprobs_match_hand_computation(lm: HFBackend) -> None:
    tok = lm.hf_tokenizer
    assert lm.tokenizer.bos_id == tok.bos_token_id  # the tokenizer adds BOS by default
    got = lm.label_logprobs(PROMPTS)
    for i, prompt in enumerate(PROMPTS):
        lp = raw_logprobs(lm, hand_ids(lm, prompt))[-1]
        for k, word in enumerate((" False", " True")):
            ids = {
                tuple(tok(s, add_special_tokens=False).input_ids) for s in spelling_variants(word)
            }
            singles = [s[0] for s in ids if len(s) == 1]
            assert tok(word, add_special_tokens=False).input_ids[0] in singles
            expect = torch.logsumexp(lp[singles], dim=0).item()
            assert got[i, k] == pytest.approx(expect, abs=1e-5)
    np.testing.assert_allclose(lm.score(PROMPTS), got[:, 1] - got[:, 0], atol=1e-12)


def test_label_variants_found(lm: HFBackend) -> None:
    tok = lm.hf_tokenizer
    variants = lm.encoder.label_variants(LabelSet())
    true_ids = {s[0] for s in variants[1]}
    singles = []
    for s in spelling_variants(" True"):
        ids = tok(s, add_special_tokens=False).input_ids
        if len(ids) == 1:
            singles.append(ids[0])
    # " True", "True" and " true" at least are in the trained vocabulary.
    assert true_ids == set(singles) and len(singles) >= 3
    assert all(len(s) == 1 for seqs in variants for s in seqs)
    exact = lm.encoder.label_variants(LabelSet(variants=False))
    assert exact == [
        [tuple(tok(" False", add_special_tokens=False).input_ids)],
        [tuple(tok(" True", add_special_tokens=False).input_ids)],
    ]


@pytest.mark.parametrize("words", [(" Zebra", " Quokka"), (" False", " Quokka!")])
def test_multi_token_labels_match_teacher_forcing(lm: HFBackend, words: tuple[str, str]) -> None:
    tok = lm.hf_tokenizer
    labels = LabelSet(words, variants=False)
    got = lm.label_logprobs(PROMPTS, labels)
    for i, prompt in enumerate(PROMPTS):
        ctx = hand_ids(lm, prompt)
        for k, word in enumerate(words):
            cont = tok(word, add_special_tokens=False).input_ids
            lp = raw_logprobs(lm, ctx + cont)
            # logits at position t predict token t + 1
            expect = sum(lp[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont))
            assert got[i, k] == pytest.approx(expect, abs=1e-5)
    assert len(tok(" Quokka!", add_special_tokens=False).input_ids) > 1


@pytest.mark.parametrize("arch", ["llama", "gemma3"])
def test_scores_do_not_depend_on_batching(
    arch: str, tiny_model_dir: Path, tiny_gemma_dir: Path
) -> None:
    path = str(tiny_model_dir if arch == "llama" else tiny_gemma_dir)
    prompts = PROMPTS * 2 + ["claim " * 40]  # very different lengths, mixed
    labels = LabelSet((" False", " Quokka!"))  # one single-token and one multi-token word
    ref = None
    for side in ("left", "right"):
        for bs in (1, 3, 16):
            lm = HFBackend(path, batch_size=bs, padding_side=side, progress=False)
            got = np.concatenate(
                [lm.label_logprobs(prompts), lm.label_logprobs(prompts, labels)], 1
            )
            if ref is None:
                ref = got
            np.testing.assert_allclose(got, ref, atol=1e-4, err_msg=f"{side} {bs}")
    # Reordering the prompts reorders the scores and nothing else.
    lm = HFBackend(path, batch_size=4, progress=False)
    perm = np.random.default_rng(0).permutation(len(prompts))
    np.testing.assert_allclose(
        lm.label_logprobs([prompts[i] for i in perm]), ref[perm, :2], atol=1e-4
    )


def test_left_truncation_keeps_last_tokens_and_warns_once(
    tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lm = HFBackend(str(tiny_model_dir), max_length=16, progress=False)
    long = "Question: What is 2+3? Claim: 6. " * 5 + "I think this claim is"
    ids = hand_ids(lm, long)
    assert len(ids) > 16
    with caplog.at_level(logging.WARNING, logger="elicit"):
        got = lm.label_logprobs([long, long], LabelSet(variants=False))
    assert sum("left truncation" in r.message for r in caplog.records) == 1
    assert lm.encoder.n_truncated == 2
    kept = [ids[0], *ids[-15:]]  # BOS, then the last 15 tokens
    lp = raw_logprobs(lm, kept)[-1]
    tok = lm.hf_tokenizer
    for k, word in enumerate((" False", " True")):
        (tid,) = tok(word, add_special_tokens=False).input_ids
        assert got[0, k] == pytest.approx(lp[tid].item(), abs=1e-5)
    np.testing.assert_allclose(got[0], got[1])


def test_empty_and_loo(lm: HFBackend) -> None:
    assert lm.label_logprobs([]).shape == (0, 2)
    assert lm.score([]).shape == (0,)
    assert lm.generate([], GenerationConfig()) == []
    demos = [
        Demo("The sky is blue. I think this claim is", 1),
        Demo("2+2=5. I think this claim is", 0),
    ]
    # loo_scores shares the prefix of the prompts (hf_prefix): equal up to float rounding
    # (fp32 sums in another order: ~1e-5 on this model; the engine's stated bound is 1e-4).
    np.testing.assert_allclose(
        lm.loo_scores(demos),
        lm.score([loo_prompt(demos, i, LabelSet()) for i in range(2)]),
        atol=1e-4,
    )


def test_greedy_generation_is_deterministic_and_stops(lm: HFBackend) -> None:
    cfg = GenerationConfig(max_new_tokens=12)
    first = lm.generate(PROMPTS[:3], cfg)
    assert first == lm.generate(PROMPTS[:3], cfg)
    # Batched generation (left padding) matches one prompt at a time.
    one = HFBackend(lm.model.name_or_path, batch_size=1, progress=False)
    assert one.generate(PROMPTS[:3], cfg) == first
    text = first[0]
    assert len(text) > 2
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    cut = lm.generate(PROMPTS[:1], GenerationConfig(max_new_tokens=12, stop=(stop,)))[0]
    assert cut == text[: text.find(stop)]
    assert stop not in cut


def test_seeded_sampling_is_reproducible(lm: HFBackend) -> None:
    rng_state = torch.random.get_rng_state()
    cfg = GenerationConfig(max_new_tokens=10, temperature=1.0, seed=7)
    a = lm.generate(PROMPTS, cfg)
    assert a == lm.generate(PROMPTS, cfg)
    assert torch.equal(rng_state, torch.random.get_rng_state())  # global RNG untouched
    others = [
        lm.generate(PROMPTS, GenerationConfig(max_new_tokens=10, temperature=1.0, seed=s))
        for s in (1, 2)
    ]
    assert any(o != a for o in others)


def test_construction_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="neither a registered model"):
        HFBackend("no/such/model/anywhere")
    with pytest.raises(ConfigError, match="dtype"):
        HFBackend(str(tiny_model_dir), dtype="float8")
    with pytest.raises(ConfigError, match="exceeds"):
        HFBackend(str(tiny_model_dir), max_length=10_000)
    with pytest.raises(ConfigError, match="batch_size"):
        HFBackend(str(tiny_model_dir), batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="CUDA"):
            HFBackend(str(tiny_model_dir), device="cuda")
    lm = HFBackend(str(tiny_model_dir), progress=False)
    assert lm.max_length == 128  # the model's positions, below the 8192 cap
    assert lm.device.type in ("cpu", "cuda")
    assert lm.name == f"hf:{tiny_model_dir}"
