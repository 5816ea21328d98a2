"""Training curves and early stopping on weak labels: the monitor keeps and restores the best
step, and `elicit w2s --eval-every --early-stop` reports what the kept weights predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_w2s_run import config

from elicit.commands.w2s import run_w2s
from elicit.errors import ConfigError
from elicit.runs import read_jsonl
from elicit.w2s.curve import Monitor


class ScriptedClassifier:
    """Predicts P(True) from a script indexed by its one trainable weight (the "step")."""

    def __init__(self, script: dict[int, list[float]]) -> None:
        self.module = torch.nn.Linear(1, 1, bias=False)
        self.script = script

    def set_step(self, step: int) -> None:
        with torch.no_grad():
            self.module.weight.fill_(float(step))

    def predict_proba(self, prompts: list[str]) -> np.ndarray:
        return np.asarray(self.script[int(self.module.weight.item())][: len(prompts)])


def test_monitor_records_the_curve_and_restores_the_best_step() -> None:
    # Two test claims (gold 1, 0), then two validation claims (weak labels 0.9, 0.2).
    script = {
        2: [0.9, 0.1, 0.4, 0.3],  # test 2/2; val labels 1/2
        4: [0.9, 0.9, 0.6, 0.4],  # test 1/2; val labels 2/2, confident-ish
        6: [0.1, 0.9, 0.85, 0.25],  # test 0/2; val labels 2/2, lower cross-entropy: wins the tie
        8: [0.9, 0.1, 0.2, 0.8],  # test 2/2; val labels 0/2
    }
    clf = ScriptedClassifier(script)
    monitor = Monitor(["t1", "t2"], np.array([1, 0]), ["v1", "v2"], np.array([0.9, 0.2]),
                      np.array([1, 1]), early_stop=True)  # fmt: skip
    for step in (2, 4, 6, 8):
        clf.set_step(step)
        monitor(clf, step)  # type: ignore[arg-type]
    assert [h["test_accuracy"] for h in monitor.history] == [1.0, 0.5, 0.0, 1.0]
    assert [h["val_label_accuracy"] for h in monitor.history] == [0.5, 1.0, 1.0, 0.0]
    assert [h["val_accuracy"] for h in monitor.history] == [0.0, 0.5, 0.5, 0.5]
    assert monitor.restore(clf) == 6  # type: ignore[arg-type]
    assert clf.module.weight.item() == 6.0  # the snapshot's weights are back
    rows = monitor.rows(task="t", model="m", method="w2s-xent", seed=0)
    assert {(r.split, r.metric) for r in rows} == {
        ("test", "curve_accuracy"), ("val", "curve_accuracy"),
        ("val", "curve_label_accuracy"), ("val", "curve_label_xent"),
    }  # fmt: skip
    assert sorted({r.step for r in rows}) == [2, 4, 6, 8]
    # Without early stopping nothing is restored.
    plain = Monitor(["t1", "t2"], np.array([1, 0]), [], np.zeros(0), np.zeros(0))
    plain(clf, 8)  # type: ignore[arg-type]
    assert plain.restore(clf) is None  # type: ignore[arg-type]
    assert plain.history == [{"step": 8.0, "test_accuracy": 0.0}]


def test_early_stopping_run_reports_the_kept_step(tmp_path: Path, tiny_model_dir: Path) -> None:
    summary = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            losses="xent",
            objective="word",
            max_steps=4,
            eval_every=1,
            early_stop=True,
            lr=5e-3,
            out=str(tmp_path / "es"),
        )
    )
    out = summary.out
    assert (out / "curve.png").is_file()
    rows = read_jsonl(out / "results.jsonl")
    curve = [r for r in rows if r["metric"] == "curve_accuracy" and r["split"] == "test"]
    assert {r["method"] for r in curve} == {"w2s-xent", "ceiling"}
    assert sorted(r["step"] for r in curve if r["method"] == "ceiling") == [1, 2, 3, 4]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_val"] > 0 and metrics["n_train"] + metrics["n_val"] == metrics["n_half2"]
    for method in ("w2s-xent", "ceiling"):
        step = metrics["early_stop_step"][method]
        assert 1 <= step <= 4
        # The predictions written are those of the kept step, not of the last one.
        at_step = [r["value"] for r in curve if r["method"] == method and r["step"] == step]
        assert metrics["accuracy"][method] == pytest.approx(at_step[0])
        labels = {
            r["step"]: r["value"]
            for r in rows
            if r["method"] == method and r["metric"] == "curve_label_accuracy"
        }
        assert labels[step] == max(labels.values())
    stops = [r for r in rows if r["metric"] == "early_stop_step"]
    assert {r["method"]: r["value"] for r in stops} == metrics["early_stop_step"]


def test_curve_without_early_stopping_ends_at_the_reported_accuracy(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    summary = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            losses="xent",
            objective="word",
            max_steps=3,
            eval_every=2,
            out=str(tmp_path / "curve"),
        )
    )
    rows = [r.to_dict() for r in summary.rows]
    test = [r for r in rows if r["metric"] == "curve_accuracy" and r["method"] == "w2s-xent"]
    assert [r["step"] for r in test] == [2, 3]  # every 2 steps, and the last
    assert test[-1]["value"] == summary.metrics.scores.accuracy["w2s-xent"]
    assert summary.metrics.n_val == 0  # no validation slice unless asked for
    assert not summary.metrics.early_stop_step


def test_early_stopping_options_are_checked(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="--eval-every"):
        config(tmp_path, tiny_model_dir, objective="word", early_stop=True)
    with pytest.raises(ConfigError, match="probes have none"):
        config(tmp_path, tiny_model_dir, objective="probe", early_stop=True, eval_every=2)
    with pytest.raises(ConfigError, match="--val-frac"):
        config(tmp_path, tiny_model_dir, objective="word", early_stop=True, eval_every=2,
               val_frac=0.0)  # fmt: skip
    with pytest.raises(ConfigError, match="--val-frac"):
        config(tmp_path, tiny_model_dir, val_frac=1.0)
    assert config(tmp_path, tiny_model_dir, objective="word", early_stop=True,
                  eval_every=2).validation_frac() == 0.2  # fmt: skip
