"""`elicit w2s` end to end on a tiny random model: the protocol's runs, rows and files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elicit.commands.w2s import W2SConfig, load_data, run_w2s
from elicit.errors import ConfigError
from elicit.runs import read_jsonl

WORDS = {1: ["good", "great", "fine", "nice"], 0: ["bad", "awful", "poor", "sad"]}


def claims(path: Path, n: int = 80) -> Path:
    rows = []
    for i in range(n):
        y = i % 2
        word = WORDS[y][(i // 2) % 4]
        rows.append({"uid": f"c{i}", "text": f"The movie was {word} ({i}).", "label": y})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def config(tmp_path: Path, model: Path, **kw: object) -> W2SConfig:
    settings: dict[str, object] = dict(
        task="claims", data=str(claims(tmp_path / "claims.jsonl")), n=24, test_n=16,
        strong=str(model), weak="tfidf", max_steps=2, train_batch_size=4,
        out=str(tmp_path / "run"), progress=False,
    )  # fmt: skip
    settings.update(kw)
    return W2SConfig(**settings)  # type: ignore[arg-type]


def test_halves_and_balanced_test(tmp_path: Path, tiny_model_dir: Path) -> None:
    data = load_data(config(tmp_path, tiny_model_dir))
    assert not {e.uid for e in data.half1} & {e.uid for e in data.half2}
    assert len(data.half1) + len(data.half2) == 24
    labels = [data.test.gold[e.uid] for e in data.test]
    assert labels.count(0) == labels.count(1) > 0


def test_run_writes_rows_for_every_method(tmp_path: Path, tiny_model_dir: Path) -> None:
    summary = run_w2s(config(tmp_path, tiny_model_dir))
    out = summary.out
    assert {p.name for p in out.iterdir()} >= {
        "config.json", "predictions.jsonl", "results.jsonl", "metrics.json", "w2s.png",
    }  # fmt: skip
    rows = read_jsonl(out / "results.jsonl")
    acc = {r["method"] for r in rows if r["metric"] == "accuracy"}
    assert acc == {"weak", "strong-zero-shot", "w2s-xent", "w2s-confidence", "ceiling"}
    assert {r["method"] for r in rows if r["metric"] == "pgr"} == {"w2s-xent", "w2s-confidence"}
    assert {r["metric"] for r in rows} >= {"agreement", "agreement_supervisor_wrong", "auroc"}
    preds = read_jsonl(out / "predictions.jsonl")
    assert len(preds) == summary.metrics.n_test
    assert all(0.0 <= p["ceiling"] <= 1.0 for p in preds)
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["losses"]["ceiling"]) == 2
    # The tf-idf supervisor picks up these word lists from 12 examples, roughly.
    assert metrics["weak_label_accuracy_half2"] > 0.5
    with pytest.raises(ConfigError, match="finished w2s run"):
        run_w2s(config(tmp_path, tiny_model_dir))


def test_labels_file_as_supervisor(tmp_path: Path, tiny_model_dir: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(json.dumps({"uid": f"c{i}", "label": 1 - i % 2}) + "\n" for i in range(80))
    )
    summary = run_w2s(config(tmp_path, tiny_model_dir, weak=f"labels:{labels}", losses="xent"))
    assert summary.metrics.scores.weak_label_accuracy_half2 == 0.0  # every label flipped
    rows = read_jsonl(summary.out / "results.jsonl")
    assert "weak" not in {r["method"] for r in rows if r["metric"] == "accuracy"}
    with pytest.raises(ConfigError, match="labels none"):
        other = tmp_path / "other.jsonl"
        other.write_text(json.dumps({"uid": "zzz", "label": 1}) + "\n")
        run_w2s(config(tmp_path, tiny_model_dir, weak=f"labels:{other}", out=str(tmp_path / "r2")))


def test_bad_options_are_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown weak-to-strong loss"):
        config(tmp_path, tiny_model_dir, losses="xent,bogus")
    with pytest.raises(ConfigError, match="--test-n"):
        config(tmp_path, tiny_model_dir, test_n=1)
