"""The method registry of `elicit eval`: a new method is one entry, names and errors come from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_eval import claims, config, nearest_demo_rule, read_jsonl  # noqa: F401 - fixture

from elicit.backends.fake import ScriptedLM
from elicit.commands.evaluate import DEFAULT_METHODS, EvalConfig, run_eval
from elicit.errors import ConfigError
from elicit.evaluation import baselines as bl
from elicit.evaluation.majority import MAJORITY
from elicit.evaluation.methods import METHODS, EvalMethod, Scored, Scoring, register


def test_the_registry_names_the_methods_and_their_defaults() -> None:
    assert list(METHODS) == [*bl.BUILTIN_METHODS, MAJORITY]
    assert DEFAULT_METHODS.split(",") == list(bl.BUILTIN_METHODS)
    assert [m.kind for m in METHODS.values()] == [
        "zero-shot",
        "chat",
        "many-shot",
        "many-shot",
        "many-shot",
    ]
    help_text = next(f for f in EvalConfig.__dataclass_fields__.values() if f.name == "methods")
    assert ", ".join(METHODS) in help_text.metadata["help"]
    with pytest.raises(ValueError, match="twice"):
        register(METHODS[bl.GOLDEN])


def test_an_entry_declares_what_it_needs() -> None:
    with pytest.raises(TypeError, match="many-shot"):
        EvalMethod("both", "many-shot", "x", score=lambda s: Scored("m", None))
    with pytest.raises(TypeError, match="many-shot"):
        EvalMethod("neither", "many-shot", "x")
    with pytest.raises(TypeError, match="many-shot"):
        EvalMethod("labels", "zero-shot", "x", demo_labels=lambda s: {})


def test_a_registered_method_runs_by_name(
    claims: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def all_true(s: Scoring) -> dict[str, int]:
        return {ex.uid: 1 for ex in s.demos}

    entry = EvalMethod("all-true", "many-shot", "every demo labelled True", demo_labels=all_true)
    monkeypatch.setitem(METHODS, entry.name, entry)
    cfg = config(claims, tmp_path, methods="golden,all-true")
    summary = run_eval(cfg, lm=ScriptedLM(nearest_demo_rule))
    assert [r.method for r in summary.results] == ["golden", "all-true"]
    golden, mine = summary.results
    assert mine.kind == "many-shot" and mine.n_demos == golden.n_demos > 0
    demos = read_jsonl(summary.out / "demos.jsonl")
    assert all(d["labels"]["all-true"] == 1 for d in demos)
    assert mine.demo_agreement is not None
    assert mine.demo_agreement.agreement == pytest.approx(
        sum(d["gold"] == 1 for d in demos) / len(demos)
    )
    # The model copies the nearest demo's label, so every claim after all-True demos is True.
    predictions = read_jsonl(summary.out / "predictions.jsonl")
    assert {p["prediction"] for p in predictions if p["method"] == "all-true"} == {1}


def test_unknown_names_and_label_sources_are_checked_against_the_registry(
    claims: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=f"choose from {', '.join(METHODS)}"):
        config(claims, tmp_path, methods="golden,gold")
    labels = tmp_path / "votes.jsonl"
    labels.write_text('{"uid": "c00", "label": 1}\n')
    # A label file may not take a registered method's name (its labels would replace them).
    with pytest.raises(ConfigError, match="built-in method"):
        config(claims, tmp_path, labels=f"{MAJORITY}={labels}")
    derived = tmp_path / f"{MAJORITY}.jsonl"
    derived.write_text('{"uid": "c00", "label": 1}\n')
    assert config(claims, tmp_path, labels=str(derived)).method_list()[-1] == f"{MAJORITY}-labels"
