"""`elicit self-improve` end to end with a scripted LM (and a tiny real model for training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lmsi_scripted import arithmetic_lm, config

from elicit.commands.selfimprove import run_self_improve
from elicit.errors import ConfigError
from elicit.runs import read_jsonl
from elicit.selfimprove.prompts import FORMATS


def test_run_writes_paths_training_data_rows_and_plots(tmp_path: Path) -> None:
    summary = run_self_improve(config(tmp_path), lm=arithmetic_lm())
    out = summary.out
    for name in (
        "config.json",
        "exemplars.jsonl",
        "paths.jsonl",
        "train.jsonl",
        "predictions.jsonl",
        "results.jsonl",
        "metrics.json",
        "before_after.png",
        "agreement.png",
    ):
        assert (out / name).is_file(), name
    paths = read_jsonl(out / "paths.jsonl")
    assert len(paths) == 12 and all(len(p["paths"]) == 5 for p in paths)
    # The stop string cut the made-up next question off every path.
    assert all("Q:" not in t for p in paths for t in p["paths"])
    train = read_jsonl(out / "train.jsonl")
    kept_paths = sum(a == p["majority"] for p in paths for a in p["answers"])
    assert len(train) == 4 * kept_paths
    assert {t["format"] for t in train} == set(FORMATS)
    # Every training completion states the majority answer of its question.
    majority = {p["uid"]: p["majority"] for p in paths}
    assert all(t["completion"].endswith(f"The answer is {majority[t['uid']]}.") for t in train)
    rows = read_jsonl(out / "results.jsonl")
    methods = {r["method"] for r in rows}
    assert {"greedy", "self-consistency", "majority-vote"} <= methods
    assert not any(m.startswith("lmsi-") for m in methods)  # --no-finetune
    assert summary.accuracy("greedy") == pytest.approx(0.5, abs=0.3)
    # 70%-right paths: the majority of 5 is right far more often than one path.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["majority-vote/label_accuracy"] >= 0.7
    assert metrics["n_kept"] == 12 and metrics["n_train_examples"] == len(train)


def test_min_agreement_keeps_only_confident_questions(tmp_path: Path) -> None:
    everything = run_self_improve(config(tmp_path, out=str(tmp_path / "a")), lm=arithmetic_lm())
    strict = run_self_improve(
        config(tmp_path, out=str(tmp_path / "b"), min_agreement=1.0), lm=arithmetic_lm()
    )
    assert strict.metrics.n_kept < everything.metrics.n_kept
    for p in read_jsonl(strict.out / "paths.jsonl"):
        if p["agreement"] < 1.0:
            assert not any(t["uid"] == p["uid"] for t in read_jsonl(strict.out / "train.jsonl"))


def test_same_seed_same_run(tmp_path: Path) -> None:
    a = run_self_improve(config(tmp_path, out=str(tmp_path / "a")), lm=arithmetic_lm())
    b = run_self_improve(config(tmp_path, out=str(tmp_path / "b")), lm=arithmetic_lm())
    assert (a.out / "train.jsonl").read_text() == (b.out / "train.jsonl").read_text()


def test_gold_answers_do_not_steer_training_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from elicit.commands import selfimprove as command

    first = run_self_improve(config(tmp_path, out=str(tmp_path / "a")), lm=arithmetic_lm())
    real = command.load_questions

    def wrong_gold(task: str, split: str):  # type: ignore[no-untyped-def]
        qs = real(task, split)
        return replace(qs, gold={uid: "-999" for uid in qs.gold})

    monkeypatch.setattr(command, "load_questions", wrong_gold)
    second = run_self_improve(config(tmp_path, out=str(tmp_path / "b")), lm=arithmetic_lm())
    assert (first.out / "train.jsonl").read_text() == (second.out / "train.jsonl").read_text()
    assert second.metrics.results["majority-vote/label_accuracy"] == 0.0


def test_nothing_kept_skips_training(tmp_path: Path) -> None:
    from elicit.backends.fake import ScriptedLM

    silent = ScriptedLM(generate=lambda p, c: " I cannot say.")
    summary = run_self_improve(config(tmp_path, finetune=True), lm=silent)
    assert summary.metrics.n_kept == 0 and summary.metrics.after.skipped == "no training examples"
    assert summary.accuracy("greedy") == 0.0


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"task": None}, "--task"),
        ({"paths": 0}, "--paths"),
        ({"temperature": 0.0}, "temperature"),
        ({"min_agreement": 1.5}, "--min-agreement"),
        ({"n": 0}, "--n"),
        ({"epochs": 0}, "--epochs"),
    ],
)
def test_config_errors(tmp_path: Path, kw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config(tmp_path, **kw)


def test_finished_run_is_not_redone(tmp_path: Path) -> None:
    run_self_improve(config(tmp_path), lm=arithmetic_lm())
    with pytest.raises(ConfigError, match="--force"):
        run_self_improve(config(tmp_path), lm=arithmetic_lm())
    run_self_improve(config(tmp_path, force=True), lm=arithmetic_lm())


def test_finetunes_with_the_training_code_and_evaluates_after(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Sampling from the scripted LM, LoRA training and the 'after' evaluation on a tiny model."""
    cfg = config(
        tmp_path,
        model=str(tiny_model_dir),
        backend="hf",
        finetune=True,
        n=4,
        test_n=3,
        paths=3,
        eval_paths=2,
        max_new_tokens=8,
        max_steps=2,
        train_batch_size=4,
    )
    summary = run_self_improve(cfg, lm=arithmetic_lm())
    methods = {r.method for r in summary.rows}
    assert {"lmsi-greedy", "lmsi-self-consistency"} <= methods
    assert summary.metrics.after.finetuned is True and summary.metrics.after.train_steps == 2
    assert summary.metrics.after.adapter == "sft/adapter"
    assert (summary.out / "sft" / "adapter").is_dir()
    stages = {p["stage"] for p in read_jsonl(summary.out / "predictions.jsonl")}
    assert stages == {"before", "after"}
    for method in ("greedy", "self-consistency"):  # the paired gain is after minus before
        gain = summary.value("lmsi-" + method, "gain")
        before, after = summary.accuracy(method), summary.accuracy("lmsi-" + method)
        assert gain is not None and before is not None and after is not None
        assert gain == pytest.approx(after - before)
        p = summary.value("lmsi-" + method, "mcnemar_p")
        assert p is not None and 0 < p <= 1
    assert any("McNemar p" in line for line in summary.describe())
