"""Easy-to-hard: the difficulty split (thresholds, ties, the random control), the GSM8K
difficulty field, and `elicit w2s --easy-to-hard` end to end on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_w2s_run import config

from elicit.commands.w2s import W2SMetrics, run_w2s
from elicit.errors import ConfigError
from elicit.runs import read_jsonl
from elicit.tasks import load_task
from elicit.tasks.base import LoadOptions
from elicit.tasks.icm import gsm8k_difficulty
from elicit.w2s.easy_hard import confidence_difficulty, split_easy_hard, subset_scores


def test_split_keeps_ties_together_and_cuts_the_test_set_at_the_threshold() -> None:
    train = np.array([0.3, 0.1, 0.3, 0.9, 0.3, 0.8])  # sorted: .1 .3 .3 .3 .8 .9
    test = np.array([0.2, 0.3, 0.31, 1.0])
    split = split_easy_hard(train, test, 0.5, seed=0, source="field")
    assert split.threshold == 0.3  # the 3rd easiest; all three 0.3s are easy
    assert split.easy_train.tolist() == [True, True, True, False, True, False]
    assert split.hard_test.tolist() == [False, False, True, True]
    assert split.random_train.sum() == split.easy_train.sum() == 4
    again = split_easy_hard(train, test, 0.5, seed=0, source="field")
    assert again.random_train.tolist() == split.random_train.tolist()  # seeded
    assert split.describe().n_hard_test == 2
    with pytest.raises(ConfigError, match="does not separate"):
        split_easy_hard(np.ones(4), np.ones(3), 0.5, seed=0, source="weak")
    with pytest.raises(ConfigError, match="does not separate"):  # no test claim is harder
        split_easy_hard(train, np.array([0.1, 0.2]), 0.5, seed=0, source="field")
    with pytest.raises(ConfigError, match="--easy-frac"):
        split_easy_hard(train, test, 1.0, seed=0, source="field")


def test_confidence_difficulty_and_subset_scores() -> None:
    d = confidence_difficulty(np.array([0.0, 0.5, 0.9, 0.3]))
    np.testing.assert_allclose(d, [0.0, 0.5, 0.1, 0.3])
    gold = np.array([1, 0, 1, 0])
    probs = {"m": np.array([0.9, 0.8, 0.2, 0.1])}
    rows = subset_scores(probs, gold, np.array([True, True, False, False]))
    got = {(split, method, metric): (n, value) for split, method, metric, n, value in rows}
    assert got[("test-hard", "m", "accuracy")] == (2, 0.5)
    assert got[("test-easy", "m", "accuracy")] == (2, 0.5)
    assert got[("test-hard", "gold", "frac_true")] == (2, 0.5)
    assert got[("test-easy", "m", "auroc")] == (2, 1.0)  # ranked right, though both say False


def gsm8k_file(path: Path, problems: int = 40) -> Path:
    """A GSM8K-verification file in the ICM release's format: two solutions per problem, one
    right, one wrong; problems 0-19 easy (difficulty < 0.5), the rest hard."""
    rows = []
    for i in range(problems):
        difficulty = 0.2 + 0.01 * i if i < problems // 2 else 0.8 + 0.005 * i
        for right in (True, False):
            answer = str(i + 2) if right else str(i + 3)
            rows.append({
                "question": f"What is {i} + 2?", "cot": f"{i} plus 2 is {answer}.",
                "answer": answer, "label": right, "consistency_id": str(i),
                "difficulty": difficulty, "category": "easy" if i < problems // 2 else "hard",
            })  # fmt: skip
    path.write_text(json.dumps(rows))
    return path


def test_gsm8k_difficulty_field(tmp_path: Path) -> None:
    path = gsm8k_file(tmp_path / "gsm8k.json")
    options = LoadOptions(data=str(path), split="all")
    values = gsm8k_difficulty(options)
    data = load_task("gsm8k-verification", options)
    assert set(values) == {ex.uid for ex in data}
    first = data.examples[0]
    assert values[first.uid] == pytest.approx(0.2)  # problem 0
    rows = json.loads(path.read_text())
    for row in rows:
        del row["difficulty"]
    path.write_text(json.dumps(rows))
    assert gsm8k_difficulty(options) == {}


def test_easy_to_hard_on_gsm8k_uses_the_field(tmp_path: Path, tiny_model_dir: Path) -> None:
    path = gsm8k_file(tmp_path / "gsm8k.json")
    summary = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            task="gsm8k-verification",
            data=str(path),
            n=None,
            objective="probe",
            probe_epochs=2,
            easy_to_hard=True,
            losses="xent",
            out=str(tmp_path / "e2h"),
        )
    )
    e2h = summary.metrics.easy_to_hard
    assert e2h is not None
    assert e2h.difficulty == "field"
    assert 0 < e2h.n_easy_train < e2h.n_train
    assert e2h.n_easy_train % 2 == 0  # a problem's two solutions share its difficulty
    # The hard test claims are exactly the test claims of the hard problems.
    test = [json.loads(line) for line in (summary.out / "predictions.jsonl").open()]
    values = gsm8k_difficulty(LoadOptions(data=str(path), split="all"))
    assert e2h.n_hard_test == sum(values[p["uid"]] > e2h.threshold for p in test) > 0
    rows = read_jsonl(summary.out / "results.jsonl")
    hard = {r["method"] for r in rows if r["split"] == "test-hard" and r["metric"] == "accuracy"}
    assert hard >= {"weak", "w2s-xent", "ceiling", "e2h-easy-gold", "e2h-random-gold"}
    assert set(e2h.accuracy["test-hard"]) == hard
    written = json.loads((summary.out / "metrics.json").read_text())
    assert set(written["easy_to_hard"]["test-hard"]) == hard  # each subset a key, as before
    assert W2SMetrics.from_dict(written) == summary.metrics
    assert {r["method"] for r in rows if r["split"] == "test" and r["metric"] == "accuracy"} >= {
        "e2h-easy-gold", "e2h-random-gold"
    }  # fmt: skip


def test_easy_to_hard_falls_back_to_the_supervisors_confidence(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    summary = run_w2s(
        config(
            tmp_path,
            tiny_model_dir,
            objective="probe",
            probe_epochs=2,
            easy_to_hard=True,
            losses="xent",
            easy_frac=0.4,
            out=str(tmp_path / "weak"),
        )
    )
    e2h = summary.metrics.easy_to_hard
    assert e2h is not None
    assert e2h.difficulty == "weak"
    assert e2h.n_easy_train >= round(0.4 * e2h.n_train)
    # Hard test claims are those the supervisor is least sure of: its P(True) is nearest 0.5.
    test = [json.loads(line) for line in (summary.out / "predictions.jsonl").open()]
    d = confidence_difficulty(np.array([p["weak"] for p in test]))
    assert e2h.n_hard_test == int((d > e2h.threshold).sum())
    with pytest.raises(ConfigError, match="no difficulty field"):
        run_w2s(config(tmp_path, tiny_model_dir, objective="probe", easy_to_hard=True,
                       difficulty="field", out=str(tmp_path / "field")))  # fmt: skip
    with pytest.raises(ConfigError, match="labels file"):
        config(tmp_path, tiny_model_dir, easy_to_hard=True, difficulty="weak",
               weak="labels:x.jsonl")  # fmt: skip
