"""load_lm and the backend registry: lazy imports, and errors that say how to fix them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import elicit.backends as backends
from elicit.backends import BACKENDS, load_lm
from elicit.backends.fake import ScriptedLM
from elicit.errors import BackendError, ConfigError


def test_importing_backends_does_not_import_torch() -> None:
    code = "import sys, elicit.backends, elicit.models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_registry_and_fake() -> None:
    assert set(BACKENDS) >= {"hf", "fake"}
    lm = load_lm("my-fake", backend="fake", score=lambda p: 1.0)
    assert isinstance(lm, ScriptedLM) and lm.name == "fake:my-fake"  # never a real name
    assert lm.score(["x"])[0] == pytest.approx(1.0)


def test_unknown_backend() -> None:
    with pytest.raises(ConfigError, match=r"unknown backend 'vllm2'.*hf.*fake"):
        load_lm("gemma-3-270m", backend="vllm2")


def test_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> None:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(backends.importlib, "import_module", fail)
    with pytest.raises(BackendError, match=r"pip install 'elicit\[hf\]'"):
        load_lm("gemma-3-270m")


def test_auto_loads_hf(tiny_model_dir: Path) -> None:
    from elicit.backends.hf import HFBackend

    lm = load_lm(str(tiny_model_dir), batch_size=2, progress=False)
    assert isinstance(lm, HFBackend) and lm.batch_size == 2
    with pytest.raises(BackendError, match=r"neither a registered model.*gemma-3-270m"):
        load_lm(str(tiny_model_dir / "missing"))
