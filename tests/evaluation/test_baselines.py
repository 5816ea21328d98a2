"""The pieces of `elicit eval`: label sources, the demo pool, token budgets, the chart."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from elicit.backends.base import Demo, LabelSet
from elicit.backends.fake import ScriptedLM
from elicit.backends.hf import HFBackend
from elicit.backends.prompting import render_context
from elicit.errors import ConfigError
from elicit.evaluation import baselines as bl
from elicit.evaluation.paper import PAPER_FIG1
from elicit.evaluation.plots import plot_accuracy
from elicit.evaluation.summary import EvalSummary, MethodResult, format_table
from elicit.tasks.base import Example, TaskData

LABELS = LabelSet()


def examples(n: int, prefix: str = "p", group: bool = False) -> tuple[Example, ...]:
    return tuple(
        Example(
            uid=f"{prefix}{i}",
            prompt=f"claim number {i} is stated here\nI think this claim is",
            group=f"g{i // 2}" if group else f"{prefix}{i}",
        )
        for i in range(n)
    )


def test_count_tokens_default_is_a_char_estimate() -> None:
    lm = ScriptedLM()
    assert [lm.count_tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]


def test_parse_label_specs(tmp_path: Path) -> None:
    run = tmp_path / "icm-run"
    run.mkdir()
    (run / "labels.jsonl").write_text("")
    (run / "trace.jsonl").write_text("")
    plain = tmp_path / "plain-run"
    plain.mkdir()
    specs = bl.parse_label_specs(
        f"{run}, {run / 'labels.jsonl'},{plain / 'labels.jsonl'},weak.jsonl,h=/x/human.jsonl,"
        "golden.jsonl"
    )
    assert [s.name for s in specs] == ["icm", "icm-2", "plain-run", "weak", "h", "golden-labels"]
    assert specs[4].path == "/x/human.jsonl"
    assert bl.parse_label_specs(None) == [] and bl.parse_label_specs(" , ") == []
    with pytest.raises(ConfigError, match="no path"):
        bl.parse_label_specs("name=")


def test_random_labels_are_seeded() -> None:
    uids = [f"u{i}" for i in range(200)]
    a, b = bl.random_labels(uids, 0), bl.random_labels(uids, 0)
    assert a == b and a != bl.random_labels(uids, 1)
    assert 60 < sum(a.values()) < 140


def test_label_agreement() -> None:
    gold = {"a": 1, "b": 0, "c": 1, "d": 0}
    assert bl.label_agreement({"a": 1, "b": 1, "c": 1, "x": 0}, gold) == bl.Agreement(2 / 3, 3)
    assert bl.label_agreement({"a": 1, "b": 1}, gold, ["b"]) == bl.Agreement(0.0, 1)
    assert bl.label_agreement({"x": 1}, gold) == bl.Agreement(None, 0)


def test_build_pool_excludes_test_groups_and_unlabelled() -> None:
    pool = TaskData("t", examples(20, group=True))
    test = TaskData("t", (examples(20, group=True)[3],))  # p3, group g1 (with p2)
    labelled = [{f"p{i}" for i in range(20) if i != 7}, {f"p{i}" for i in range(20) if i != 9}]
    out = bl.build_pool(pool, test, labelled, None, seed=0)
    assert {ex.uid for ex in out} == {f"p{i}" for i in range(20)} - {"p2", "p3", "p7", "p9"}
    assert out == bl.build_pool(pool, test, labelled, None, seed=0)  # fixed seeded order
    assert out != bl.build_pool(pool, test, labelled, None, seed=1)
    assert len(bl.build_pool(pool, test, labelled, 5, seed=0)) == 5


def test_fit_demos_with_the_char_estimate() -> None:
    lm = ScriptedLM()
    pool = examples(30)
    queries = ["a short query\nI think this claim is", "q" * 200]
    fit = bl.fit_demos(lm, pool, queries, LABELS, context_tokens=300)
    assert 0 < len(fit.examples) < 30 and fit.stopped_by == "context"
    assert fit.examples == pool[: len(fit.examples)]  # a prefix of the fixed order
    # Every labelling of those demos, with any query, fits.
    for label in (0, 1):
        for q in queries:
            text = render_context([Demo(ex.prompt, label) for ex in fit.examples], q, LABELS)
            assert lm.count_tokens(text) <= 300
    # One more demo would not have fit.
    more = [Demo(ex.prompt, 0) for ex in pool[: len(fit.examples) + 1]]
    assert lm.count_tokens(render_context(more, "q" * 200, LABELS)) > 300
    assert bl.fit_demos(lm, pool, queries, LABELS, context_tokens=10**6).stopped_by == "pool"
    assert (
        len(bl.fit_demos(lm, pool, queries, LABELS, context_tokens=10**6, max_demos=0).examples)
        == 0
    )
    assert bl.fit_demos(lm, (), queries, LABELS, context_tokens=300).examples == ()


@pytest.fixture(scope="module")
def tiny_hf(tiny_model_dir: Path) -> HFBackend:
    return HFBackend(str(tiny_model_dir), progress=False)


def test_hf_count_tokens_is_exact_and_fit_respects_the_model(tiny_hf: HFBackend) -> None:
    tok = tiny_hf.hf_tokenizer
    text = "Question: What is 2+2? Claim: 4. I think this claim is True\n\n" * 30
    assert tiny_hf.count_tokens(text) == len(tok(text, add_special_tokens=False).input_ids)
    assert tiny_hf.count_tokens(text) > tiny_hf.max_length  # no truncation when counting
    # The tiny model has 128 positions: the budget shrinks to the model's context.
    pool = examples(40)
    query = "Question: What is 2+3? Claim: 6. I think this claim is"
    fit = bl.fit_demos(tiny_hf, pool, [query], LABELS, context_tokens=4096)
    assert fit.limit == tiny_hf.max_length - 2 and 0 < len(fit.examples) < 40
    for label in (0, 1):
        text = render_context([Demo(ex.prompt, label) for ex in fit.examples], query, LABELS)
        assert len(tiny_hf.encoder.encode(text)) <= tiny_hf.max_length - 1
    tiny_hf.context_scores([Demo(ex.prompt, 1) for ex in fit.examples], [query])
    assert tiny_hf.encoder.n_truncated == 0


def test_chat_message() -> None:
    msg = bl.chat_message("Review: fine\nClaim: It is positive.\nI think this claim is")
    assert msg == f"Review: fine\nClaim: It is positive.\n\n{bl.CHAT_QUESTION}"


def summary(task: str, tmp_path: Path) -> EvalSummary:
    metrics = {
        "accuracy": 0.6,
        "accuracy_ci_low": 0.45,
        "accuracy_ci_high": 0.73,
        "calibrated_accuracy": 0.8,
        "auroc": 0.85,
        "frac_gold_true": 0.55,
    }
    results = (
        MethodResult("zero-shot", "zero-shot", "m", 40, metrics=metrics, seconds=1.0),
        MethodResult("zero-shot-chat", "chat", "c", 40, skipped="no template"),
        MethodResult(
            "golden",
            "many-shot",
            "m",
            40,
            n_demos=8,
            metrics={**metrics, "auroc": math.nan},
            label_agreement=bl.Agreement(1.0, 8),
        ),
        MethodResult("icm", "many-shot", "m", 40, n_demos=8, metrics=metrics),
    )
    return EvalSummary(
        out=tmp_path,
        task=task,
        model="m",
        split="test",
        n=40,
        seed=0,
        results=results,
        n_pool=16,
        n_demos=8,
        prompt_tokens=500,
        context_limit=2048,
        demos_stopped_by="pool",
        pool_split="train",
        chat_model="c",
        paper=PAPER_FIG1.get(task),
        seconds=3.0,
    )


@pytest.mark.parametrize("task", ["alpaca-comparison", "sst2"])
def test_chart_and_table(task: str, tmp_path: Path) -> None:
    s = summary(task, tmp_path)
    path = plot_accuracy(s, tmp_path / "accuracy.png")
    png = path.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["accuracy.png"]  # no temp file left
    table = format_table(s)
    assert "skipped: no template" in table and "60.0" in table
    if task == "alpaca-comparison":
        assert "paper %" in table and "68.0" in table  # the paper's ICM on Alpaca
        assert "human 65.5" in table and "Llama 70B, fine-tuned" in table
    else:
        assert "paper" not in table
