"""`elicit label --iterative` on a tiny model: batch 2 is searched with a model fine-tuned on
batch 1's ICM labels (and its fine-tune checkpoint lives in the run, for --resume)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import write_claims_csv

import elicit.commands.iterative as iterative
from elicit.commands.label import LabelConfig, run_label
from elicit.errors import ConfigError
from elicit.labels import read_labels


def test_iterative_labels_every_batch_with_a_finetuned_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_claims_csv(tmp_path / "claims.csv", n=8)
    calls: list[tuple[int, int]] = []
    real = iterative.finetuned_lm

    def spy(config, data, labels, checkpoints, batch, **kw):  # type: ignore[no-untyped-def]
        calls.append((batch, len(labels)))
        lm = real(config, data, labels, checkpoints, batch, **kw)
        # Trained without a store (the weights changed under it), searched with a fresh one.
        assert lm.prefix_store is not None and lm.prefix_store.n_nodes == 0
        return lm

    monkeypatch.setattr(iterative, "finetuned_lm", spy)
    config = LabelConfig(
        task="claims",
        data=str(data),
        model=str(tiny_model_dir),
        n=None,
        batch_size=4,
        iterations=6,
        iterative=True,
        out=str(tmp_path / "label"),
        progress=False,
    )
    summary = run_label(config)
    assert calls == [(1, 4)]  # batch 2 after fine-tuning on batch 1's four labels
    assert (
        tmp_path
        / "label"
        / "checkpoints"
        / "finetune-batch-001"
        / "checkpoints"
        / "checkpoint.json"
    ).is_file()
    assert len(read_labels(tmp_path / "label")) == 8 == summary.n


def test_iterative_refuses_a_backend_it_cannot_fine_tune(tmp_path: Path) -> None:
    data = write_claims_csv(tmp_path / "claims.csv", n=8)
    for model, backend in (("openai:http://localhost:1/v1/m", "auto"), ("m", "llamacpp")):
        config = LabelConfig(task="claims", data=str(data), model=model, backend=backend)
        with pytest.raises(ConfigError, match="needs the hf backend"):
            iterative.finetuned_lm(config, None, {"a": 1}, tmp_path, 1, resume=False)  # type: ignore[arg-type]


def test_reset_prefix_store_empties_and_resizes_the_store(tiny_model_dir: Path) -> None:
    from elicit.training.model import load_causal_lm

    lm = load_causal_lm(str(tiny_model_dir))
    assert lm.prefix_store is None  # training keeps no states: its weights change
    lm.reset_prefix_store(1 << 20)
    assert lm.prefix_store is not None
    assert (lm.prefix_store.budget_bytes, lm.prefix_store.n_nodes) == (1 << 20, 0)
    lm.reset_prefix_store(0)
    assert lm.prefix_store is None
    with pytest.raises(ConfigError, match=">= 0"):
        lm.reset_prefix_store(-1)
