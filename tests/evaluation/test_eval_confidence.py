"""`elicit eval` with labels that carry confidences (margins): coverage rows and
--min-confidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_eval import claims, config, nearest_demo_rule, read_jsonl  # noqa: F401 - fixture

from elicit.backends.fake import ScriptedLM
from elicit.commands.evaluate import run_eval
from elicit.errors import ConfigError
from elicit.evaluation.baselines import coverage_agreement


def confident_labels(path: Path) -> Path:
    """Right labels with high confidence (margin) on even items, wrong ones with low."""
    rows = []
    for i in range(60):
        right = i % 4 != 3
        label = i % 2 if right else 1 - i % 2
        rows.append({"uid": f"c{i:02d}", "label": label, "margin": 5.0 if right else 0.1})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_coverage_agreement_ranks_by_confidence() -> None:
    labels = {"a": 1, "b": 0, "c": 1, "d": 0}
    gold = {"a": 1, "b": 0, "c": 0, "d": 1}
    conf = {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.5}
    got = coverage_agreement(labels, conf, gold)
    assert got == ((0.25, 1.0, 1), (0.5, 1.0, 2), (0.75, 2 / 3, 3), (1.0, 0.5, 4))
    assert coverage_agreement(labels, {}, gold) == ()


def test_coverage_rows_and_min_confidence(claims: Path, tmp_path: Path) -> None:  # noqa: F811
    labels = confident_labels(tmp_path / "labels.jsonl")
    lm = ScriptedLM(nearest_demo_rule)
    summary = run_eval(config(claims, tmp_path, labels=f"mine={labels}"), lm=lm)
    rows = read_jsonl(summary.out / "results.jsonl")
    cov = {r["metric"]: r["value"] for r in rows if r["method"] == "mine" and "_at_" in r["metric"]}
    assert set(cov) == {f"label_agreement_at_{c}" for c in (25, 50, 75, 100)}
    assert cov["label_agreement_at_25"] == 1.0 and cov["label_agreement_at_100"] < 0.8
    filtered = run_eval(
        config(
            claims, tmp_path, labels=f"mine={labels}", min_confidence=1.0, out=str(tmp_path / "f")
        ),
        lm=lm,
    )
    mine = next(r for r in filtered.results if r.method == "mine")
    assert mine.label_agreement is not None and mine.label_agreement.agreement == 1.0
    with pytest.raises(ConfigError, match="lower it"):
        run_eval(
            config(
                claims,
                tmp_path,
                labels=f"mine={labels}",
                min_confidence=9.0,
                out=str(tmp_path / "g"),
            ),
            lm=lm,
        )
