"""`elicit label --anchors --confidence --suggest` end to end with the scripted LM."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from test_label_run import EXAMPLES, PLANTED, claims_file, config, lm

from elicit.commands.label import run_label
from elicit.errors import ConfigError
from elicit.labels import read_margins
from elicit.runs import read_jsonl
from elicit.training.data import read_targets


def anchors_file(path: Path, labels: dict[str, int]) -> Path:
    path.write_text("".join(json.dumps({"uid": u, "label": y}) + "\n" for u, y in labels.items()))
    return path


def test_anchors_confidence_and_suggestions_are_written(tmp_path: Path) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    right = {EXAMPLES[i].uid: PLANTED[i] for i in (0, 1, 2, 3)}
    wrong = {EXAMPLES[4].uid: 1 - PLANTED[4], EXAMPLES[5].uid: 1 - PLANTED[5]}  # one pair
    anchors = anchors_file(tmp_path / "anchors.jsonl", {**right, **wrong})
    out = tmp_path / "run"
    summary = run_label(config(data, out, anchors=str(anchors), suggest=3), lm=lm())
    rows = {r["uid"]: r for r in read_jsonl(out / "labels.jsonl")}
    assert all(rows[u]["anchor"] == y for u, y in {**right, **wrong}.items())
    assert all("margin" in r and "confidence" not in r for r in rows.values())
    anchored = summary.metrics.anchors
    assert anchored is not None and anchored.anchors == 6
    # The planted LM's evidence is strong: the wrong pair is overruled and reported.
    overruled = {o.uid for o in anchored.overruled}
    assert overruled == set(wrong)
    assert all(summary.labels[u] == y for u, y in right.items())
    suggestions = read_jsonl(out / "suggestions.jsonl")
    assert len(suggestions) == 3
    suggested = {s["uid"] for s in suggestions}
    assert not suggested & (set(right) | set(wrong))
    margins = [s["margin"] for s in suggestions]
    assert margins == sorted(margins)
    others = [r["margin"] for u, r in rows.items() if u not in suggested | set(anchors_of(rows))]
    assert max(margins) <= min(others)


def test_label_margins_are_not_read_as_probabilities(tmp_path: Path) -> None:
    # A label run's margins are any real number; training reads "confidence" as the
    # probability that a label is right, so the margin must not travel under that name: the
    # run's labels train as the hard labels they are (no error on a margin above 1, and label 1
    # with margin 0.2 stays target 1.0, not 0.2).
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    out = tmp_path / "run"
    summary = run_label(config(data, out, confidence=True), lm=lm())
    margins = [r["margin"] for r in read_jsonl(out / "labels.jsonl")]
    assert any(m not in (0.0, 1.0) for m in margins)  # read as probabilities they would move
    assert read_targets(out) == {u: float(y) for u, y in summary.labels.items()}
    assert read_margins(out) == {r["uid"]: r["margin"] for r in read_jsonl(out / "labels.jsonl")}


def anchors_of(rows: dict[str, dict[str, object]]) -> list[str]:
    return [u for u, r in rows.items() if "anchor" in r]


def test_anchors_outside_the_sample_join_the_pool(tmp_path: Path) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    far = EXAMPLES[-1]
    anchors = anchors_file(tmp_path / "anchors.jsonl", {far.uid: PLANTED[len(EXAMPLES) - 1]})
    out = tmp_path / "run"
    summary = run_label(config(data, out, n=6, anchors=str(anchors)), lm=lm())
    assert far.uid in summary.labels
    # Its comparison partner came with it: groups stay whole.
    partner = next(ex.uid for ex in EXAMPLES if ex.group == far.group and ex.uid != far.uid)
    pool = json.loads((out / "metrics.json").read_text())["n"]
    assert pool == summary.n >= 8
    assert partner in summary.labels or summary.metrics.coverage < 1


def test_unknown_anchor_uids_are_refused(tmp_path: Path) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    anchors = anchors_file(tmp_path / "anchors.jsonl", {"nope": 1})
    with pytest.raises(ConfigError, match="not examples of task"):
        run_label(config(data, tmp_path / "run", anchors=str(anchors)), lm=lm())
    with pytest.raises(ConfigError, match="--suggest"):
        replace(config(data, tmp_path / "run"), suggest=-1)


def test_context_anchors_from_the_cli(tmp_path: Path) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    known = {EXAMPLES[i].uid: PLANTED[i] for i in (0, 1, 2)}
    anchors = anchors_file(tmp_path / "anchors.jsonl", known)
    out = tmp_path / "run"
    summary = run_label(
        config(data, out, anchors=str(anchors), anchor_weight=float("inf"),
               anchor_mode="context", confidence=True),
        lm=lm(),
    )  # fmt: skip
    rows = {r["uid"]: r for r in read_jsonl(out / "labels.jsonl")}
    # Anchors are written with their labels but, being context, with no score or confidence.
    for uid, y in known.items():
        assert rows[uid]["label"] == rows[uid]["anchor"] == y
        assert "score" not in rows[uid] and "margin" not in rows[uid]
    assert all("score" in r and "margin" in r for u, r in rows.items() if u not in known)
    anchored = summary.metrics.anchors
    assert anchored is not None and anchored.anchor_mode == "context" and not anchored.overruled
    with pytest.raises(ConfigError, match="anchor-weight inf"):
        config(data, out, anchors=str(anchors), anchor_mode="context")
