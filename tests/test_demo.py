"""`elicit demo` wiring with a scripted LM: both runs written, resumable, table printed."""

from __future__ import annotations

import json
from pathlib import Path

from elicit.backends.fake import ScriptedLM
from elicit.commands.demo import DemoConfig, format_demo, reading, run_demo
from elicit.evaluation.summary import EvalSummary, MethodResult


def sentiment(prompt: str) -> float:
    # The last review in the prompt decides: a crude keyword "model" of sentiment.
    review = prompt.rsplit("Review:", 1)[-1] if "Review:" in prompt else prompt[-300:]
    return 1.0 if any(w in review for w in ("good", "great", "fun", "best")) else -1.0


def test_demo_writes_label_and_eval_runs(tmp_path: Path) -> None:
    config = DemoConfig(n=8, iterations=5, test_n=10, out=str(tmp_path / "demo"), progress=False)
    lm = ScriptedLM(sentiment, name="fake")
    chat = ScriptedLM(sentiment, name="fake-chat")
    summary = run_demo(config, lm=lm, chat_lm=chat)
    assert (tmp_path / "demo" / "label" / "labels.jsonl").is_file()
    results = json.loads((tmp_path / "demo" / "eval" / "results.json").read_text())
    methods = {r["method"] for r in results}
    assert {"zero-shot", "golden", "random", "icm"} <= methods
    text = format_demo(summary)
    assert "ICM labelled" in text and "icm" in text
    # Running it again reuses the finished ICM run (same labels) and redoes the evaluation.
    n_calls = lm.n_calls
    again = run_demo(config, lm=lm, chat_lm=chat)
    assert again.label.labels == summary.label.labels

    def accuracies(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
        return [(r["method"], r["accuracy"]) for r in rows]

    assert accuracies(again.eval.rows()) == accuracies(summary.eval.rows())
    assert lm.n_calls > n_calls
    forced = DemoConfig(n=8, iterations=5, test_n=10, out=str(tmp_path / "demo"), force=True)
    assert run_demo(forced, lm=lm, chat_lm=chat).label.labels == summary.label.labels


def test_demo_refuses_a_task_without_a_bundled_sample() -> None:
    import pytest

    from elicit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"has none\. Pick one of boolq"):
        DemoConfig(task="sst2")
    assert DemoConfig(task="ethics-justice").label_config().data == "bundled"


def test_demo_defaults_are_the_screened_setting() -> None:
    # The model and task where golden demonstrations beat random ones (docs/RESULTS.md, "The
    # demo task"), searched with balanced leave-one-out and every pool claim labelled.
    config = DemoConfig()
    search = config.label_config().search
    assert (config.model, config.backend, config.task) == (
        "qwen2.5-coder-0.5b-instruct",
        "llamacpp",
        "reviews",
    )
    assert (search.mp, search.complete) == ("balanced", True)
    assert DemoConfig(mp="calibrated").label_config().search.mp == "calibrated"


def summary_with(calibrated: dict[str, float], n: int = 100) -> EvalSummary:
    results = tuple(
        MethodResult(m, "many-shot", "fake", n, metrics={"calibrated_accuracy": v})
        for m, v in calibrated.items()
    )
    return EvalSummary(
        Path("runs"), "reviews", "fake", "test", n, 0, results, 24, 24, 600, 2048, "pool",
        "train", "fake-chat", None, 1.0,
    )  # fmt: skip


def test_reading_says_how_far_icm_got_from_its_own_numbers() -> None:
    text = reading(summary_with({"golden": 0.9, "random": 0.6, "icm": 0.84}))
    assert "score 84 against golden 90 and random 60: 80% of the way" in text
    assert "+/-10 points" in text  # 1.96 * sqrt(0.25 / 100)
    flat = reading(summary_with({"golden": 0.81, "random": 0.80, "icm": 0.7}))
    assert "score alike (81 vs 80)" in flat and "little to find" in flat
    above = reading(summary_with({"golden": 0.93, "random": 0.83, "icm": 0.99}))
    assert "as good as gold labels" in above
    below = reading(summary_with({"golden": 0.93, "random": 0.73, "icm": 0.7}))
    assert "no better than random labels" in below
    assert "skipped" in reading(summary_with({"golden": 0.9, "random": 0.6}))
