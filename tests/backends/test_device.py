"""`backends.device`: --device/--dtype/--max-length resolved one way for scoring and training,
and the import rules that made it a module of its own (no private names across modules, no
backend importing training)."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import elicit
from elicit.backends.device import (
    MAX_LENGTH_CAP,
    local_device,
    resolve_device,
    resolve_dtype,
    resolve_max_length,
)
from elicit.errors import BackendError, ConfigError

SRC = Path(elicit.__file__).parent


def test_dtypes_resolve_per_device() -> None:
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ConfigError, match="auto, float32, fp32"):
        resolve_dtype("float8", torch.device("cpu"))


def test_devices_resolve_and_refuse_missing_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="not a torch device"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(BackendError, match="CUDA is not available"):
        resolve_device("cuda")


def test_a_launched_process_takes_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert local_device(torch.device("cuda")) == torch.device("cuda")  # no job: unchanged
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert local_device(torch.device("cuda")) == torch.device("cuda", 1)
    assert local_device(torch.device("cuda", 0)) == torch.device("cuda", 0)  # asked for
    assert local_device(torch.device("cpu")) == torch.device("cpu")


def test_max_length_is_capped_and_checked() -> None:
    assert resolve_max_length(SimpleNamespace(max_position_embeddings=512), None) == 512
    assert resolve_max_length(SimpleNamespace(max_position_embeddings=10**6), None) == (
        MAX_LENGTH_CAP
    )
    assert resolve_max_length(SimpleNamespace(), None) == MAX_LENGTH_CAP
    with pytest.raises(ConfigError, match="at most 512"):
        resolve_max_length(SimpleNamespace(max_position_embeddings=512), 1024)


def _imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import)]


def test_no_module_imports_a_private_name_from_another() -> None:
    found = [
        f"{path.relative_to(SRC)}:{node.lineno} imports {alias.name} from {node.module}"
        for path in SRC.rglob("*.py")
        for node in _imports(path)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert found == []


def test_backends_import_nothing_above_them() -> None:
    above = ("elicit.training", "elicit.search", "elicit.evaluation", "elicit.cli")
    found = []
    for path in (SRC / "backends").rglob("*.py"):
        for node in _imports(path):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith(above)]
    assert found == []
