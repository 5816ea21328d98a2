"""The llama.cpp backend: errors without the package or the model, and (slow) the real default
model's GGUF against the transformers backend on the same weights.

The real-model tests run in CI (scripts/setup.sh installs the llamacpp extra). They are skipped
only when llama-cpp-python is missing and ELICIT_REQUIRE_LLAMACPP is unset; with it set, a
missing package fails them instead.

Measured tolerances (gemma-3-270m, Q4_K_M in llama.cpp vs the same weights dequantised to fp32
in transformers) are noted at each assertion; the bounds leave room for other CPUs' kernels.
docs/BACKENDS.md has the numbers on 100 SST-2 claims.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import elicit.backends.llamacpp as llamacpp_module
from elicit import models
from elicit.backends import backend_status, load_lm
from elicit.backends.base import Demo, GenerationConfig, LabelSet
from elicit.backends.hf import HFBackend
from elicit.backends.llamacpp import LlamaCppBackend
from elicit.backends.prompting import loo_prompts, render_context, render_demo
from elicit.cli.main import main
from elicit.errors import BackendError, ConfigError
from elicit.models import gguf_file

#: A task whose sample ships with elicit, with short claims.
TASK = "ethics-justice"

HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


def claim(question: str, answer: str) -> str:
    return f"Question: {question}\nClaim: {answer}\nI think this claim is"


DEMOS = [
    Demo(claim("What is 1+1?", "2"), 1),
    Demo(claim("What is 3+3?", "7"), 0),
    Demo(claim("What is the capital of Italy?", "Rome"), 1),
    Demo(claim("What is the capital of Spain?", "Berlin"), 0),
    Demo(claim("What is 5+5?", "10"), 1),
    Demo(claim("How many days are in a week?", "3"), 0),
]
CLAIMS = [
    claim("What is 2+2?", "4"),
    claim("What is 2+2?", "5"),
    claim("What is the capital of France?", "Paris"),
    claim("What is the capital of France?", "London"),
    claim("How many legs does a spider have?", "8"),
    claim("What color is the sky on a clear day?", "green"),
]


def _hide_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "llama_cpp" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


# ---------------------------------------------------------------------- no model needed


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_llama_cpp(monkeypatch)
    with pytest.raises(BackendError, match=r"needs the package 'llama_cpp'.*elicit\[llamacpp\]"):
        LlamaCppBackend("gemma-3-270m")
    with pytest.raises(BackendError, match=r"elicit\[llamacpp\]"):
        load_lm("gemma-3-270m", backend="llamacpp")
    assert backend_status("llamacpp") == (
        "needs llama_cpp (install: pip install 'elicit[llamacpp]')"
    )


@pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="needs llama-cpp-python")
def test_progress_flag_reaches_the_model_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    # `--no-progress` must silence the download bar of a first use too.
    seen: list[bool] = []

    def fetch(model: str, *, progress: bool = True) -> Any:
        seen.append(progress)
        raise RuntimeError("stop after the fetch")

    monkeypatch.setattr(llamacpp_module, "gguf_file", fetch)
    for progress in (False, True):
        with pytest.raises(RuntimeError, match="stop after the fetch"):
            LlamaCppBackend("gemma-3-270m", progress=progress)
    assert seen == [False, True]


def test_backend_status() -> None:
    assert backend_status("fake") is None
    assert (backend_status("llamacpp") is None) == HAVE_LLAMA_CPP
    with pytest.raises(ConfigError, match="unknown backend"):
        backend_status("nope")


def test_models_command_lists_backends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _hide_llama_cpp(monkeypatch)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert (
        "not available: needs llama_cpp (install: pip install 'elicit[llamacpp]')"
        in (rows["llamacpp"])
    )
    assert "--model openai:<base_url>/<model>" in rows["openai"]
    assert {"hf", "fake"} <= set(rows)


def test_missing_model_path(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"'.*nope\.gguf' is not a file.*gemma-3-270m"):
        gguf_file(str(tmp_path / "nope.gguf"))
    with pytest.raises(BackendError, match="is a directory"):
        gguf_file(str(tmp_path))
    if HAVE_LLAMA_CPP:
        with pytest.raises(BackendError, match=r"nope\.gguf' is not a file"):
            LlamaCppBackend(str(tmp_path / "nope.gguf"))


def test_gguf_file_assembles_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registered model in parts is assembled once into the cache (atomically); a model
    shipped whole is used where its package keeps it."""
    monkeypatch.setenv("ELICIT_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[Path] = []

    def assemble(scratch: Path) -> Path:
        calls.append(scratch)
        out = scratch / "model.gguf"
        out.write_bytes(b"GGUF parts")
        return out

    shipped = tmp_path / "pkg" / "whole.gguf"
    shipped.parent.mkdir()
    shipped.write_bytes(b"GGUF whole")
    recipes = dict(models._RECIPES)
    recipes["gemma-3-270m"] = dataclasses.replace(recipes["gemma-3-270m"], locate_gguf=assemble)
    recipes["smollm2-135m-instruct"] = dataclasses.replace(
        recipes["smollm2-135m-instruct"], locate_gguf=lambda scratch: shipped
    )
    monkeypatch.setattr(models, "_RECIPES", recipes)
    first = gguf_file("gemma-3-270m")
    assert first == tmp_path / "cache" / "gguf" / "gemma-3-270m.gguf"
    assert first.read_bytes() == b"GGUF parts" and gguf_file("gemma-3-270m") == first
    assert len(calls) == 1 and not calls[0].exists()  # the scratch directory is gone
    assert gguf_file("smollm2-135m-instruct") == shipped
    assert sorted(p.name for p in first.parent.iterdir() if not p.name.endswith(".lock")) == [
        "gemma-3-270m.gguf"
    ]


@pytest.mark.llamacpp
def test_not_a_gguf_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_text("this is not a GGUF file")
    with pytest.raises(BackendError, match=r"llama.cpp could not load .*bad\.gguf"):
        LlamaCppBackend(str(bad), n_threads=1)


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="GGUF file fixes the weight types"):
        LlamaCppBackend("gemma-3-270m", dtype="bfloat16")
    with pytest.raises(ConfigError, match="min_chunk"):
        LlamaCppBackend("gemma-3-270m", min_chunk=0)
    with pytest.raises(ConfigError, match="batch_size"):
        LlamaCppBackend("gemma-3-270m", batch_size=0)


def topology(root: Path, siblings: dict[int, str]) -> Path:
    for cpu, text in siblings.items():
        (root / f"cpu{cpu}" / "topology").mkdir(parents=True)
        (root / f"cpu{cpu}" / "topology" / "thread_siblings_list").write_text(text + "\n")
    return root


def test_threads_default_to_the_physical_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hyperthread siblings count once; only the CPUs this process may use count; an
    unreadable topology leaves the choice to llama-cpp-python (None)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    paired = topology(tmp_path / "ht", {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"})
    assert llamacpp_module.physical_cores(paired) == 2
    single = topology(tmp_path / "vm", {c: str(c) for c in range(4)})
    assert llamacpp_module.physical_cores(single) == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {1, 3})
    assert llamacpp_module.physical_cores(paired) == 1
    assert llamacpp_module.physical_cores(tmp_path / "missing") is None


@pytest.mark.llamacpp
def test_default_threads_reach_llama_cpp() -> None:
    """Prompts and generation both get the physical cores (llama-cpp-python alone would give
    generation half the logical CPUs)."""
    lm = LlamaCppBackend("gemma-3-270m", progress=False)
    cores = llamacpp_module.physical_cores()
    if cores is not None:
        assert lm._llm.n_threads == lm._llm.n_threads_batch == cores
    lm.close()


def test_decode_calls_depend_only_on_the_prefix() -> None:
    """`_calls` must split a shared prefix the same way in every prompt: the exactness of
    prefix reuse rests on it."""
    lm = object.__new__(LlamaCppBackend)
    lm.n_batch, lm.min_chunk = 7, 3
    lm._separators = np.asarray([0], dtype=np.intc)
    rng = random.Random(0)
    for _ in range(300):
        ids = [rng.choice([0, 1, 2, 3]) for _ in range(rng.randint(1, 40))]
        calls = lm._calls(ids)
        assert calls[0] == 0 and calls[-1] == len(ids)
        assert all(0 < b - a <= lm.n_batch for a, b in itertools.pairwise(calls))
        for n in range(1, len(ids) + 1):
            assert lm._calls(ids[:n])[:-1] == [b for b in calls if b < n]


# ---------------------------------------------------------------------- the real model


@pytest.fixture(scope="module")
def llama_lm() -> Iterator[LlamaCppBackend]:
    # Through load_lm with the options the CLI passes every backend.
    lm = load_lm(
        "gemma-3-270m",
        backend="llamacpp",
        device="auto",
        dtype="auto",
        batch_size=8,
        max_length=None,
        progress=False,
        n_threads=1,
    )
    assert isinstance(lm, LlamaCppBackend)
    yield lm
    lm.close()


@pytest.mark.slow
@pytest.mark.llamacpp
def test_same_tokens_as_hf(llama_lm: LlamaCppBackend, gemma_lm: HFBackend) -> None:
    assert llama_lm.name == "llamacpp:gemma-3-270m"
    assert llama_lm.tokenizer.bos_id == gemma_lm.tokenizer.bos_id == 2
    assert llama_lm.max_length == gemma_lm.max_length == 8192
    texts = [*CLAIMS, render_context(DEMOS, CLAIMS[0], LabelSet()), "Ünïcödé \t x\n\n\ny"]
    for text in texts:
        assert llama_lm.encoder.encode(text) == gemma_lm.encoder.encode(text)
        assert llama_lm.count_tokens(text) == gemma_lm.count_tokens(text)
    labels = LabelSet()
    assert llama_lm.encoder.label_variants(labels) == gemma_lm.encoder.label_variants(labels)
    for lm in (llama_lm, gemma_lm):  # a base model: its GGUF carries no chat template
        with pytest.raises(BackendError, match="has no chat template"):
            lm.chat_prompt("Hi there")


@pytest.mark.slow
@pytest.mark.llamacpp
def test_log_odds_agree_with_hf(llama_lm: LlamaCppBackend, gemma_lm: HFBackend) -> None:
    prompts = [*CLAIMS, *(render_context(DEMOS, c, LabelSet()) for c in CLAIMS)]
    ours, ref = llama_lm.label_logprobs(prompts), gemma_lm.label_logprobs(prompts)
    # Measured: log-probs correlate 0.990, differ by <= 0.52; log-odds correlate 0.93 and
    # differ by <= 0.60 (the short zero-shot prompts differ most, the 6-shot ones < 0.2).
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.97
    assert np.abs(ours - ref).max() < 0.8
    odds, ref_odds = ours[:, 1] - ours[:, 0], ref[:, 1] - ref[:, 0]
    assert np.corrcoef(odds, ref_odds)[0, 1] > 0.85
    assert np.abs(odds - ref_odds).max() < 1.0
    assert np.abs(odds - ref_odds)[len(CLAIMS) :].max() < 0.4
    # Multi-token label words (no single-token spelling) go through continuation scoring.
    words = LabelSet((" Nope", " Yesss"), variants=False)
    assert any(len(seqs[0]) > 1 for seqs in llama_lm.encoder.label_variants(words))
    multi_ours, multi_ref = (
        llama_lm.label_logprobs(CLAIMS[:2], words),
        gemma_lm.label_logprobs(CLAIMS[:2], words),
    )
    assert np.abs(multi_ours - multi_ref).max() < 1.0  # measured <= 0.56


@pytest.mark.slow
@pytest.mark.llamacpp
def test_loo_equals_text_prompts(llama_lm: LlamaCppBackend) -> None:
    """Leave-one-out with prefix reuse scores exactly the text prompts, bit for bit."""
    labels = LabelSet()
    try:
        for order in ("given", "tree"):
            llama_lm.prefix_cache = True
            reused = llama_lm.loo_scores(DEMOS, labels, order=order)
            llama_lm.prefix_cache = False
            fresh = llama_lm.score(loo_prompts(DEMOS, labels, order), labels)
            np.testing.assert_array_equal(reused, fresh)
            llama_lm.prefix_cache = True
            fixed = [Demo(c, 1) for c in CLAIMS[:2]]
            reused = llama_lm.loo_scores(DEMOS, labels, order=order, context=fixed)
            llama_lm.prefix_cache = False
            fresh = llama_lm.score(loo_prompts(DEMOS, labels, order, fixed), labels)
            np.testing.assert_array_equal(reused, fresh)
    finally:
        llama_lm.prefix_cache = True


@pytest.mark.slow
@pytest.mark.llamacpp
def test_many_shot_after_loo_reuses_its_last_prompt(llama_lm: LlamaCppBackend) -> None:
    """Leave-one-out ends on the last query, whose context is every other demo in order, so an
    ICM proposal's many-shot call over the same demos evaluates only the last demo and its
    query, and still scores exactly the text prompt."""
    labels = LabelSet()
    query = CLAIMS[0]
    for order in ("given", "tree"):
        llama_lm.loo_scores(DEMOS, labels, order=order)
        llama_lm.tokens_processed = 0
        many = llama_lm.context_scores(DEMOS, [query], labels)
        last = llama_lm.count_tokens(render_demo(DEMOS[-1], labels))
        assert llama_lm.tokens_processed == last + llama_lm.count_tokens(query)
        llama_lm.prefix_cache = False
        try:
            fresh = llama_lm.score([render_context(DEMOS, query, labels)], labels)
            np.testing.assert_array_equal(many, fresh)
        finally:
            llama_lm.prefix_cache = True


@pytest.mark.slow
@pytest.mark.llamacpp
def test_prefix_reuse_evaluates_fewer_tokens(llama_lm: LlamaCppBackend) -> None:
    labels = LabelSet()
    fed: dict[str, int] = {}
    for order in ("given", "tree"):
        llama_lm.tokens_processed = 0
        llama_lm.loo_scores(DEMOS, labels, order=order)
        fed[order] = llama_lm.tokens_processed
    everything = sum(len(llama_lm.encoder.encode(p)) for p in loo_prompts(DEMOS, labels))
    assert fed["tree"] < fed["given"] < 0.8 * everything

    # Many-shot: the shared context is evaluated once, then only each query (every demo here
    # holds at least min_chunk tokens, so every demo boundary ends a decode call).
    assert all(llama_lm.count_tokens(d.prompt) >= llama_lm.min_chunk for d in DEMOS)
    context = llama_lm.count_tokens("".join(render_demo(d, labels) for d in DEMOS))
    queries = CLAIMS[:3]
    texts = [render_context(DEMOS, q, labels) for q in queries]
    llama_lm._llm.reset()  # start from an empty cache
    llama_lm.tokens_processed = 0
    many = llama_lm.context_scores(DEMOS, queries, labels)
    assert llama_lm.tokens_processed == 1 + context + sum(map(llama_lm.count_tokens, queries))
    llama_lm.prefix_cache = False
    try:
        np.testing.assert_array_equal(many, llama_lm.score(texts, labels))
    finally:
        llama_lm.prefix_cache = True


@pytest.mark.slow
@pytest.mark.llamacpp
def test_scores_do_not_depend_on_company_or_order(llama_lm: LlamaCppBackend) -> None:
    prompts = [render_context(DEMOS[:3], c, LabelSet()) for c in CLAIMS[:3]] + CLAIMS[:2]
    together = llama_lm.label_logprobs(prompts)
    alone = np.concatenate([llama_lm.label_logprobs([p]) for p in reversed(prompts)])[::-1]
    np.testing.assert_array_equal(together, alone)
    # Generation leaves its own tokens in llama.cpp's cache; scoring must not reuse them.
    llama_lm.generate([prompts[0]], GenerationConfig(max_new_tokens=3))
    np.testing.assert_array_equal(llama_lm.label_logprobs(prompts[:1]), together[:1])
    # Nor a cache split into decode calls by another rule (here the 3-shot contexts become one
    # call instead of one per demo).
    llama_lm.label_logprobs(prompts[:1])
    ids = llama_lm.encoder.encode(prompts[0])
    assert llama_lm._cached_prefix(ids) == len(ids)
    default = llama_lm.min_chunk
    llama_lm.min_chunk = 64
    try:
        assert llama_lm._cached_prefix(ids) == 0
        reused = llama_lm.label_logprobs(prompts)
        llama_lm.prefix_cache = False
        np.testing.assert_array_equal(reused, llama_lm.label_logprobs(prompts))
    finally:
        llama_lm.min_chunk = default
        llama_lm.prefix_cache = True


@pytest.mark.slow
@pytest.mark.llamacpp
def test_generate(llama_lm: LlamaCppBackend) -> None:
    prompt = "Question: What is the capital of France?\nAnswer:"
    greedy = GenerationConfig(max_new_tokens=12, stop=("\n",))
    first = llama_lm.generate([prompt, prompt], greedy)
    assert first[0] == first[1] and first[0].strip() and "\n" not in first[0]
    assert "paris" in first[0].lower()
    sampled = GenerationConfig(max_new_tokens=8, temperature=1.0, seed=3)
    assert llama_lm.generate([prompt], sampled) == llama_lm.generate([prompt], sampled)
    assert llama_lm.generate([], greedy) == []


@pytest.mark.slow
@pytest.mark.llamacpp
def test_left_truncation(caplog: pytest.LogCaptureFixture) -> None:
    lm = LlamaCppBackend("gemma-3-270m", max_length=24, n_threads=1, progress=False)
    try:
        long = render_context(DEMOS, CLAIMS[0], LabelSet())
        with caplog.at_level("WARNING", logger="elicit"):
            cut = lm.score([long])
        assert "left truncation" in caplog.text and lm.encoder.n_truncated == 1
        tail = lm.encoder.encode(long)
        assert len(tail) == 24 and tail[0] == 2
        assert np.isfinite(cut).all()
    finally:
        lm.close()
    lm.close()  # safe twice
    with pytest.raises(ConfigError, match="exceeds the model's 32768 positions"):
        LlamaCppBackend("gemma-3-270m", max_length=40000, n_threads=1)


@pytest.mark.slow
@pytest.mark.llamacpp
def test_chat_model() -> None:
    lm = LlamaCppBackend("smollm2-135m-instruct", n_threads=1, progress=False)
    try:
        text = lm.chat_prompt("Is the sky blue?")
        assert "<|im_start|>user\nIs the sky blue?<|im_end|>" in text
        assert text.endswith("<|im_start|>assistant\n")
        assert lm.tokenizer.bos_id is None  # a GPT-2-style tokenizer adds no BOS
        assert np.isfinite(lm.score([text + "The sky is"])).all()
    finally:
        lm.close()
    assert llamacpp_module.MAX_LENGTH_CAP == 8192


@pytest.mark.llamacpp
@pytest.mark.slow
def test_label_and_eval_commands_with_llamacpp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    label = tmp_path / "label"
    backend = ["--backend", "llamacpp", "--no-progress"]
    args = ["label", "--task", TASK, "--n", "3", "--iterations", "1", "--init-size", "3"]
    assert main([*args, *backend, "--out", str(label)]) == 0
    labels = (label / "labels.jsonl").read_text().splitlines()
    assert len(labels) == 3
    args = ["eval", "--task", TASK, "--n", "2", "--pool-n", "2", "--labels", str(label)]
    args += ["--methods", "zero-shot,golden", *backend, "--out", str(tmp_path / "eval")]
    assert main(args) == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert {r["method"] for r in results} >= {"zero-shot", "golden"}
    assert all(r["model"] == "llamacpp:gemma-3-270m" for r in results)  # names the backend
