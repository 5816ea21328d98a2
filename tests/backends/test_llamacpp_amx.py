"""Keeping llama.cpp off its crashing AMX kernels: reading a build's features, the opt-out, and
the load-time switch of llama-cpp-python's model parameters.

The end-to-end check is every real-model test in test_llamacpp.py: on an AMX CPU with an AMX
build they died of SIGSEGV at the first decode before this guard.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from elicit.backends import llamacpp_amx
from elicit.backends.llamacpp_amx import (
    KEEP_AMX_ENV,
    avoid_amx,
    uses_amx,
    without_extra_buffers,
)
from elicit.models import DEFAULT_MODEL, gguf_file

#: `llama_print_system_info()` of llama-cpp-python 0.3.36 built natively on a Sapphire Rapids
#: class Xeon, and of the same version built with -mno-amx-*.
WITH_AMX = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
    "AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | "
)
WITHOUT_AMX = WITH_AMX.replace("AMX_INT8 = 1 | ", "")


def fake_llama_cpp(info: str) -> Any:
    params = SimpleNamespace(use_extra_bufts=True)

    def defaults() -> SimpleNamespace:
        return SimpleNamespace(**vars(params))

    return SimpleNamespace(
        llama_print_system_info=lambda: info.encode(),
        llama_cpp=SimpleNamespace(llama_model_default_params=defaults),
    )


def test_uses_amx_reads_the_build_features() -> None:
    assert uses_amx(WITH_AMX)
    assert not uses_amx(WITHOUT_AMX)
    assert not uses_amx(WITH_AMX.replace("AMX_INT8 = 1", "AMX_INT8 = 0"))
    assert not uses_amx("")


def test_avoid_amx_warns_once_and_names_the_rebuild(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(KEEP_AMX_ENV, raising=False)
    monkeypatch.setattr(llamacpp_amx, "_warned", False)
    with caplog.at_level(logging.INFO, logger=llamacpp_amx.__name__):
        assert avoid_amx(fake_llama_cpp(WITH_AMX))
        assert avoid_amx(fake_llama_cpp(WITH_AMX))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "-mno-amx-int8" in warnings[0] and KEEP_AMX_ENV in warnings[0]
    assert not avoid_amx(fake_llama_cpp(WITHOUT_AMX))


def test_the_user_can_keep_amx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEEP_AMX_ENV, "1")
    assert not avoid_amx(fake_llama_cpp(WITH_AMX))


def test_without_extra_buffers_switches_the_defaults_only_meanwhile() -> None:
    module = fake_llama_cpp(WITH_AMX)
    original = module.llama_cpp.llama_model_default_params
    with without_extra_buffers(module):
        assert module.llama_cpp.llama_model_default_params().use_extra_bufts is False
    assert module.llama_cpp.llama_model_default_params is original
    assert original().use_extra_bufts is True


def test_without_extra_buffers_restores_after_an_error() -> None:
    module = fake_llama_cpp(WITH_AMX)
    original = module.llama_cpp.llama_model_default_params
    with pytest.raises(RuntimeError), without_extra_buffers(module):
        raise RuntimeError("load failed")
    assert module.llama_cpp.llama_model_default_params is original


@pytest.mark.llamacpp
def test_llama_takes_the_switched_parameters() -> None:
    """llama-cpp-python's `Llama` must still fill its model parameters from the function that
    `without_extra_buffers` wraps (checked on the default model, vocabulary only)."""
    import llama_cpp

    path = str(gguf_file(DEFAULT_MODEL, progress=False))
    with without_extra_buffers(llama_cpp):
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
    assert llm.model_params.use_extra_bufts is False
    llm.close()
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True
