"""Shared fixtures: tiny random transformers built offline, and the real default model (slow).

The tiny models use a byte-level BPE tokenizer trained in-process on a few sentences, so
" True" and " False" are single tokens (as in real tokenizers) while rarer words split into
several tokens; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

TRAIN_TEXT = [
    "Question: What is 2+2? Claim: 4. I think this claim is True",
    "Question: What is 2+3? Claim: 6. I think this claim is False",
    "The sky is blue. I think this claim is True. The grass is red. This is False.",
    "true false TRUE FALSE True False the a an of to in is it that claim think",
] * 20


def build_tiny_model(
    path: Path,
    arch: str = "llama",
    max_positions: int = 128,
    *,
    train_text: list[str] | None = None,
    vocab_size: int = 400,
    initializer_range: float = 0.5,
    sliding_window: int = 8,
    layer_types: list[str] | None = None,
) -> Path:
    """Save a randomly initialised causal LM + tokenizer under `path`; return `path`.

    The tokenizer is a byte-level BPE trained on `train_text` (default TRAIN_TEXT); "gemma"
    builds a Gemma 3 config with the given sliding window and layer types.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import (
        AutoModelForCausalLM,
        Gemma3TextConfig,
        GenerationConfig,
        LlamaConfig,
        PreTrainedTokenizerFast,
    )

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(train_text or TRAIN_TEXT, trainer)
    # Add BOS by default, like Gemma and Llama tokenizers do.
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    common = dict(
        vocab_size=tok.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        # A wide init makes the next-token distributions peaked, so greedy decoding and
        # score differences are far from ties.
        initializer_range=initializer_range,
    )
    if arch == "llama":
        config = LlamaConfig(**common)
    else:
        extra = {"layer_types": layer_types} if layer_types else {}
        config = Gemma3TextConfig(**common, head_dim=8, sliding_window=sliding_window, **extra)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    # Sampling defaults like a hub model's; the backend must not let them leak into decoding
    # (with top_k=1 every seed would give the greedy text).
    model.generation_config = GenerationConfig(
        bos_token_id=1, eos_token_id=2, do_sample=True, top_k=1, top_p=0.5
    )
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def tiny_gemma_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gemma3"), "gemma3")


@pytest.fixture(scope="session")
def gemma_lm() -> Iterator[object]:
    """The real default model, converted into the user cache once (~1 min), then shared."""
    from elicit.backends.hf import HFBackend

    lm = HFBackend("gemma-3-270m", progress=False)
    yield lm
    lm.close()


#: Test folders whose tests train models run with one torch thread, as does any test module
#: that sets `ONE_TORCH_THREAD = True`: matrices of tiny test models gain nothing from threads,
#: and on the shared 2-core CI box two threads per tiny matmul run far slower than one.
ONE_THREAD_FOLDERS = {"training", "w2s"}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    wanted = getattr(request.module, "ONE_TORCH_THREAD", False)
    if not wanted and request.path.parent.name not in ONE_THREAD_FOLDERS:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def data_as_a_new_user_has_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Every test sees what a fresh install sees: no $ELICIT_DATA_DIR, an empty Hugging Face
    cache and no Hub, so tasks read the bundled samples (a test that needs more sets it up)."""
    monkeypatch.delenv("ELICIT_DATA_DIR", raising=False)
    from elicit.tasks import hub

    monkeypatch.setattr(hub, "hub_reachable", lambda: False)
    try:
        import huggingface_hub.constants
    except ImportError:  # pragma: no cover - the hub extra is not installed
        return
    empty = tmp_path_factory.getbasetemp() / "empty-hf-cache"
    empty.mkdir(exist_ok=True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(empty))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `llamacpp` need llama-cpp-python: skipped when it is missing, unless
    ELICIT_REQUIRE_LLAMACPP is set (where the package must be there: a missing one then fails them)."""
    if importlib.util.find_spec("llama_cpp") is not None or os.environ.get(
        "ELICIT_REQUIRE_LLAMACPP"
    ):
        return
    skip = pytest.mark.skip(
        reason="llama-cpp-python is not installed (pip install 'elicit[llamacpp]')"
    )
    for item in items:
        if item.get_closest_marker("llamacpp") is not None:
            item.add_marker(skip)
