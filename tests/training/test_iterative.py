"""`elicit label --iterative` on a tiny model: batch 2 is searched with a model fine-tuned on
batch 1's ICM labels (and its fine-tune checkpoint lives in the run, for --resume)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import write_claims_csv

import elicit.search.iterative as iterative
from elicit.labels import read_labels
from elicit.search.label import LabelConfig, run_label


def test_iterative_labels_every_batch_with_a_finetuned_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_claims_csv(tmp_path / "claims.csv", n=8)
    calls: list[tuple[int, int]] = []
    real = iterative.finetuned_lm

    def spy(config, data, labels, checkpoints, batch, **kw):  # type: ignore[no-untyped-def]
        calls.append((batch, len(labels)))
        return real(config, data, labels, checkpoints, batch, **kw)

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
