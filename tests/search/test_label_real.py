"""`elicit label` end to end on the real default model, tiny (slow; CI runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elicit.backends.base import LM
from elicit.commands.label import LabelConfig, run_label


@pytest.mark.slow
def test_label_real_model(gemma_lm: LM, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = LabelConfig(
        task="ethics-justice", n=8, iterations=6, seed=0, out=str(out), progress=False
    )
    summary = run_label(config, lm=gemma_lm)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["mp"] == "calibrated" and metrics["n_labelled"] == 8
    labels = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert {r["uid"] for r in labels} == set(summary.labels)
    assert all(r["label"] in (0, 1) and r["gold"] in (0, 1) for r in labels)
    trace = (out / "trace.jsonl").read_text().splitlines()
    assert len(trace) == 6
    assert (out / "energy_plot.png").stat().st_size > 1000
