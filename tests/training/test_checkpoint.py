"""Training checkpoints hold data only: resuming never unpickles, and a planted pickle (the
old `checkpoint.pt`, or a pickle posing as the tensor file) runs nothing.

A tiny linear model stands in for a language model: the checkpoint code does not care what
the trainable parameters belong to."""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from elicit.errors import ConfigError  # noqa: E402
from elicit.training.checkpoint import CHECKPOINT_FILE, LEGACY_FILE  # noqa: E402
from elicit.training.config import FitOptions  # noqa: E402
from elicit.training.loop import FitResult, FitRun, FitTask, train  # noqa: E402

X = torch.linspace(-1, 1, 16).reshape(16, 1)
Y = (X[:, 0] > 0).float()


class Payload:
    """Unpickling this writes `marker`: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('code from the file ran')",))


class Interrupt(Exception):
    pass


def _train(folder: Path, *, max_steps: int, resume: bool, stop_at: int | None = None) -> FitResult:
    """`train` a 1-d logistic regression; `stop_at`: raise at that micro-batch (a crash)."""
    model = torch.nn.Linear(1, 1)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    calls = []

    def make_batch(ix: Sequence[int]) -> tuple[Any, Any]:
        calls.append(ix)
        if stop_at is not None and len(calls) > stop_at:
            raise Interrupt
        return X[list(ix)], Y[list(ix)]

    def loss(batch: tuple[Any, Any], _frac: float) -> Any:
        x, y = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)

    options = FitOptions(lr=0.1, max_steps=max_steps, train_batch_size=4, checkpoint_every=2)
    run = FitRun(
        seed=0,
        device=torch.device("cpu"),
        checkpoint_dir=folder,
        resume=resume,
        progress=False,
        fingerprint={"data": "x>0"},
    )
    return train(FitTask(model, 16, make_batch, loss), options, run)


def _no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("resume unpickled a file")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def test_resume_is_exact_and_reads_no_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = _train(tmp_path / "full", max_steps=6, resume=False)
    _train(tmp_path / "cut", max_steps=6, resume=False)
    saved = json.loads((tmp_path / "cut" / CHECKPOINT_FILE).read_text())
    assert saved["step"] == 6 and saved["tensors"] == "checkpoint-000006.safetensors"
    assert [p.name for p in (tmp_path / "cut").glob("*.safetensors")] == [saved["tensors"]]
    # A run that crashed in step 5, after its step-4 checkpoint, resumes to the same losses.
    with pytest.raises(Interrupt):
        _train(tmp_path / "part", max_steps=6, resume=False, stop_at=4)
    _no_unpickling(monkeypatch)
    again = _train(tmp_path / "part", max_steps=6, resume=True)
    assert again.resumed_from == 4
    assert again.losses == pytest.approx(full.losses, rel=1e-6)


def test_a_planted_pickle_checkpoint_runs_nothing(tmp_path: Path) -> None:
    """The file older elicit wrote and read with torch.load(weights_only=False)."""
    marker = tmp_path / "pwned"
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save({"step": 1, "fingerprint": Payload(marker)}, folder / LEGACY_FILE)
    with pytest.raises(ConfigError, match="pickle") as e:
        _train(folder, max_steps=4, resume=True)
    assert not marker.exists(), "resuming ran code from the checkpoint"
    assert "--force" in str(e.value) and LEGACY_FILE in str(e.value)


def test_a_pickle_posing_as_the_tensor_file_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    folder = tmp_path / "checkpoints"
    _train(folder, max_steps=2, resume=False)
    meta = json.loads((folder / CHECKPOINT_FILE).read_text())
    evil = folder / meta["tensors"]
    evil.write_bytes(pickle.dumps(Payload(marker)))
    meta["tensors_sha256"] = hashlib.sha256(evil.read_bytes()).hexdigest()  # a consistent forgery
    (folder / CHECKPOINT_FILE).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="safetensors"):
        _train(folder, max_steps=2, resume=True)
    assert not marker.exists()


def test_the_fingerprint_is_checked_before_any_tensor_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    _train(folder, max_steps=2, resume=False)
    meta = json.loads((folder / CHECKPOINT_FILE).read_text())
    (folder / meta["tensors"]).write_bytes(b"\x80garbage")  # would fail if it were opened
    meta["fingerprint"]["data"] = "someone else's data"
    (folder / CHECKPOINT_FILE).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="other settings or data"):
        _train(folder, max_steps=2, resume=True)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"step": -3}, "non-negative"),
        ({"step": 99}, "past this run's"),
        ({"step": "2"}, "non-negative"),
        ({"tensors": "../../../etc/passwd"}, "checkpoint-<step>.safetensors"),
        ({"tensors_sha256": "0" * 64}, "SHA-256"),
        ({"losses": [float("nan")]}, "finite"),
        ({"format": "pickle"}, "not an elicit training checkpoint"),
    ],
)
def test_tampered_checkpoints_are_refused_with_the_fix(
    tmp_path: Path, edit: dict[str, Any], message: str
) -> None:
    folder = tmp_path / "checkpoints"
    _train(folder, max_steps=2, resume=False)
    meta = json.loads((folder / CHECKPOINT_FILE).read_text())
    (folder / CHECKPOINT_FILE).write_text(json.dumps({**meta, **edit}))
    with pytest.raises(ConfigError, match=message) as e:
        _train(folder, max_steps=2, resume=True)
    assert "--force" in str(e.value)


def test_a_torn_checkpoint_json_is_refused_not_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    _train(folder, max_steps=2, resume=False)
    text = (folder / CHECKPOINT_FILE).read_text()
    (folder / CHECKPOINT_FILE).write_text(text[: len(text) // 2])
    with pytest.raises(ConfigError, match="unreadable"):
        _train(folder, max_steps=2, resume=True)


def test_optimizer_tensors_of_the_wrong_shape_are_refused_on_load(tmp_path: Path) -> None:
    """A consistent forgery (the hash updated) whose AdamW moments do not fit the model would
    otherwise fail only mid-training, with a traceback."""
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "checkpoints"
    _train(folder, max_steps=2, resume=False)
    meta = json.loads((folder / CHECKPOINT_FILE).read_text())
    path = folder / meta["tensors"]
    tensors = load_file(str(path))
    key = next(k for k in tensors if k.startswith("optimizer/") and k.endswith("/exp_avg"))
    tensors[key] = torch.zeros(7, 3)
    save_file(tensors, str(path))
    meta["tensors_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / CHECKPOINT_FILE).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="optimizer state does not fit"):
        _train(folder, max_steps=2, resume=True)
