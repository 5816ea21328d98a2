"""Issue 20, items 6 and 11: a damaged model cache says how to clear it, and an unknown model id
fails in seconds when the hub cannot be reached, not after a minute of retries."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from adversary import claims_csv, cli, refused

pytest.importorskip("transformers")

import elicit.backends.hf as hf
import elicit.models as models
from elicit.errors import BackendError


def test_a_truncated_file_in_the_model_cache_says_how_to_clear_it(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = tmp_path / "models" / "gemma-3-270m"
    shutil.copytree(tiny_model_dir, cached)
    weights = next(cached.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])  # cut short
    monkeypatch.setattr(hf, "resolve_model", lambda name, progress=True: str(cached))
    with pytest.raises(BackendError) as e:
        hf._load("gemma-3-270m", hf.torch.float32, progress=False)
    message = str(e.value)
    assert "damaged" in message and f"rm -r '{cached}'" in message


def test_an_unknown_model_id_fails_fast_without_a_hub(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty hub cache
    monkeypatch.setattr(hf, "_hub_reachable", lambda timeout=3.0: False)
    t0 = time.monotonic()
    with pytest.raises(BackendError, match="cannot be reached") as e:
        hf._load("someone/no-such-model", hf.torch.float32, progress=False)
    assert time.monotonic() - t0 < 5
    assert "registered" in str(e.value)


def test_hf_hub_offline_skips_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hf._hub_reachable() is False


def test_the_model_cache_deleted_during_conversion_is_one_paragraph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ELICIT_CACHE_DIR", str(tmp_path / "cache"))

    def build(spec: object, recipe: object, out: Path) -> None:
        shutil.rmtree(tmp_path / "cache")  # someone cleans the cache mid-conversion

    monkeypatch.setattr(models, "_build", build)
    data = claims_csv(tmp_path / "claims.csv")
    outcome = cli(capsys, "score", "--task", "claims", "--data", str(data), "--model",
                  "smollm2-135m-instruct", "--backend", "hf", "--out", str(tmp_path / "run"))  # fmt: skip
    refused(outcome, "model cache changed", "rerun")


def test_an_unusable_model_cache_names_elicit_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """$ELICIT_CACHE_DIR naming a file: the fix is the cache setting, not --out."""
    data = claims_csv(tmp_path / "claims.csv")
    monkeypatch.setenv("ELICIT_CACHE_DIR", str(data))
    outcome = cli(capsys, "score", "--task", "claims", "--data", str(data), "--model",
                  "smollm2-135m-instruct", "--backend", "hf", "--out", str(tmp_path / "run"))  # fmt: skip
    message = refused(outcome, "$ELICIT_CACHE_DIR", str(data))
    assert "--out" not in message


def test_a_malicious_pickle_as_a_local_models_weights_runs_nothing(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """transformers loads a pytorch_model.bin with torch.load(weights_only=True): the planted
    payload must not run, and the refusal is a BackendError, not an UnpicklingError traceback."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (exec, (f"open({str(marker)!r}, 'w').write('ran')",))

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    for weights in model.glob("*.safetensors"):
        weights.unlink()
    hf.torch.save({"model.embed_tokens.weight": Payload()}, model / "pytorch_model.bin")
    with pytest.raises(BackendError, match="nothing in it ran"):
        hf._load(str(model), hf.torch.float32, progress=False)
    assert not marker.exists()
