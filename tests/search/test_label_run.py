"""`run_label` end to end with the scripted LM: the run directory, refusals, resume, no gold."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from planted import ITEM, planted_lm, pool

from elicit.backends.fake import ScriptedLM
from elicit.commands.label import LabelConfig, run_label
from elicit.errors import ConfigError
from elicit.labels import read_labels
from elicit.runs import read_jsonl
from elicit.search.icm import SearchConfig, run_search
from elicit.tasks import load_task
from elicit.tasks.base import Consistency, LoadOptions

EXAMPLES, PLANTED = pool(Consistency.COMPARISON, 24, seed=21)


def claims_file(path: Path, *, with_labels: bool) -> Path:
    rows = []
    for i, ex in enumerate(EXAMPLES):
        row: dict[str, Any] = {
            "uid": ex.uid,
            "text": ex.prompt.split("\n")[0],
            "group": ex.group,
            "key": ex.key,
        }
        if with_labels:
            row["label"] = PLANTED[i]
        rows.append(row)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def config(data: Path, out: Path, **kw: Any) -> LabelConfig:
    base = LabelConfig(
        task="claims", data=str(data), n=None, out=str(out), progress=False,
        iterations=40, batch_size=12, checkpoint_every=5, backend="fake",
    )  # fmt: skip
    return replace(base, **kw)


def lm() -> ScriptedLM:
    return planted_lm(PLANTED, seed=21)


def test_run_label_writes_the_run_directory(tmp_path: Path) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    out = tmp_path / "run"
    summary = run_label(config(data, out), lm=lm())
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "labels.jsonl",
        "trace.jsonl",
        "metrics.json",
        "energy_plot.png",
    } <= names
    assert (out / "energy_plot.png").stat().st_size > 1000
    rows = read_jsonl(out / "labels.jsonl")
    assert {r["uid"] for r in rows} == {ex.uid for ex in EXAMPLES}
    assert all(r["gold"] == PLANTED[int(r["uid"][1:])] for r in rows)
    assert read_labels(out) == summary.labels
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["agreement"] >= 0.95 and metrics["agreement_n"] == 24
    assert metrics["inconsistencies"] == 0 and len(metrics["batches"]) == 2
    assert metrics["mp"] == "calibrated" and metrics["alpha"] == 50.0
    assert metrics["schedule"] == "paper" and metrics["init_balanced"] is False
    assert metrics["follows"] == {
        "mp": "elicit", "schedule": "paper", "init_balanced": "paper", "skip_same": "paper",
        "context_order": "elicit", "loo_order": "elicit",
    }  # fmt: skip
    assert metrics["iterations"] == 80 and metrics["seconds"] > 0
    trace = read_jsonl(out / "trace.jsonl")
    assert len(trace) == 80 and {r["batch"] for r in trace} == {0, 1}
    assert all("agreement" in r for r in trace)
    assert json.loads((out / "config.json").read_text())["task"] == "claims"


def test_finished_foreign_and_interrupted_directories(tmp_path: Path) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    out = tmp_path / "run"
    first = run_label(config(data, out), lm=lm())
    with pytest.raises(ConfigError, match="finished label run"):
        run_label(config(data, out), lm=lm())
    assert run_label(config(data, out, force=True), lm=lm()).labels == first.labels
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an elicit run"):
        run_label(config(data, foreign), lm=lm())
    (out / "metrics.json").unlink()  # as if killed before the end
    with pytest.raises(ConfigError, match="--resume"):
        run_label(config(data, out), lm=lm())
    with pytest.raises(ConfigError, match="alpha"):
        run_label(config(data, out, resume=True, alpha=20.0), lm=lm())


class Crash(Exception):
    pass


def crashing_lm(after: int) -> ScriptedLM:
    inner = lm()
    calls = [0]

    def rule(prompt: str) -> float:
        calls[0] += 1
        if calls[0] > after:
            raise Crash
        return inner._score_rule(prompt)  # type: ignore[return-value]

    return ScriptedLM(rule, name="planted")


@pytest.mark.parametrize("after", [40, 150])
def test_resumed_run_matches_an_uninterrupted_one(tmp_path: Path, after: int) -> None:
    data = claims_file(tmp_path / "claims.jsonl", with_labels=True)
    whole = run_label(config(data, tmp_path / "whole"), lm=lm())
    out = tmp_path / "killed"
    with pytest.raises(Crash):
        run_label(config(data, out), lm=crashing_lm(after))
    assert not (out / "metrics.json").exists()
    resumed = run_label(config(data, out, resume=True), lm=lm())
    assert resumed.labels == whole.labels
    assert read_jsonl(out / "trace.jsonl") == read_jsonl(tmp_path / "whole" / "trace.jsonl")


def test_search_inputs_do_not_depend_on_gold(tmp_path: Path) -> None:
    with_gold = claims_file(tmp_path / "with.jsonl", with_labels=True)
    without = claims_file(tmp_path / "without.jsonl", with_labels=False)
    a = load_task("claims", LoadOptions(data=str(with_gold)))
    b = load_task("claims", LoadOptions(data=str(without)))
    assert a.examples == b.examples and a.consistency == b.consistency
    assert a.has_gold and not b.gold
    lm_a, lm_b = lm(), lm()
    ra = run_search(lm_a, a.examples, a.consistency, SearchConfig(iterations=40), seed=1)
    rb = run_search(lm_b, b.examples, b.consistency, SearchConfig(iterations=40), seed=1)
    assert ra.labels == rb.labels and lm_a.prompts == lm_b.prompts
    # The same through the command: labels equal; agreement only where gold exists.
    sa = run_label(config(with_gold, tmp_path / "a"), lm=lm())
    sb = run_label(config(without, tmp_path / "b"), lm=lm())
    assert sa.labels == sb.labels
    assert sb.metrics.agreement is None
    assert all(r["gold"] is None for r in read_jsonl(tmp_path / "b" / "labels.jsonl"))
    assert all("agreement" not in r for r in read_jsonl(tmp_path / "b" / "trace.jsonl"))


def test_planted_prompts_are_what_the_claims_task_renders() -> None:
    assert all(ITEM.fullmatch(ex.prompt) for ex in EXAMPLES)
