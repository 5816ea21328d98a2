"""`elicit eval` with scripted LMs: every method runs, demos are shared, budgets hold."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from elicit.backends.fake import ScriptedLM
from elicit.commands.evaluate import EvalConfig, format_table, run_eval
from elicit.errors import ConfigError, DataError
from elicit.evaluation.baselines import CHAT_QUESTION
from elicit.tasks.base import CLAIM_SUFFIX

N_CLAIMS = 60


def nearest_demo_rule(prompt: str) -> float:
    """Copies the label of the nearest earlier demo that shares the query's keyword (good/bad);
    with no such demo, a mild bias toward True, like a small base model."""
    *demos, query = prompt.split("\n\n")
    keyword = "good" if "good" in query else "bad"
    for demo in reversed(demos):
        if keyword in demo:
            return 3.0 if demo.endswith(" True") else -3.0
    return 0.5


class ChatLM(ScriptedLM):
    """A scripted chat model: a toy template, and True exactly for the 'good' claims."""

    def __init__(self) -> None:
        super().__init__(lambda p: 2.0 if "good" in p else -2.0, name="chat-fake")

    def chat_prompt(self, message: str) -> str:
        return f"<user>{message}</user><assistant>"


@pytest.fixture
def claims(tmp_path: Path) -> Path:
    """Claims whose truth is the keyword: 'good' items are True."""
    path = tmp_path / "claims.jsonl"
    rows = [
        {"uid": f"c{i:02d}", "text": f"item {i} was {'good' if i % 2 else 'bad'}", "label": i % 2}
        for i in range(N_CLAIMS)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def config(claims: Path, tmp_path: Path, **kw: Any) -> EvalConfig:
    base: dict[str, Any] = dict(
        task="claims", data=str(claims), n=20, pool_n=16, out=str(tmp_path / "run"), seed=0
    )
    return EvalConfig(**{**base, **kw})


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_labels(path: Path, labels: dict[str, int]) -> Path:
    path.write_text("".join(json.dumps({"uid": u, "label": v}) + "\n" for u, v in labels.items()))
    return path


def test_every_method_runs_and_writes_rows(claims: Path, tmp_path: Path) -> None:
    weak = write_labels(tmp_path / "weak.jsonl", {f"c{i:02d}": 1 for i in range(N_CLAIMS)})
    cfg = config(claims, tmp_path, labels=str(weak))
    summary = run_eval(cfg, lm=ScriptedLM(nearest_demo_rule), chat_lm=ChatLM())
    run = tmp_path / "run"
    names = ["zero-shot", "zero-shot-chat", "golden", "random", "weak"]
    assert [r.method for r in summary.results] == names
    rows = json.loads((run / "results.json").read_text())
    assert [r["method"] for r in rows] == names
    for row in rows:
        assert {"task", "model", "method", "accuracy", "n", "seed"} <= row.keys()
        assert row["task"] == "claims" and row["model"] == "fake" and row["n"] == 20
        assert row["skipped"] is None and 0 <= row["accuracy"] <= 1
    chat = next(r for r in rows if r["method"] == "zero-shot-chat")
    assert chat["accuracy"] == 1.0 and chat["scored_by"] == "chat-fake"
    preds = read_jsonl(run / "predictions.jsonl")
    assert len(preds) == 20 * len(names)
    assert {"uid", "method", "score", "gold"} <= preds[0].keys()
    tidy = read_jsonl(run / "results.jsonl")
    assert {(r["method"], r["metric"]) for r in tidy} >= {
        ("golden", "accuracy"),
        ("weak", "label_agreement"),
        ("random", "auroc"),
    }
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n_demos"] == summary.n_demos > 0 and metrics["skipped"] == {}
    assert json.loads((run / "config.json").read_text())["labels"] == str(weak)
    table = format_table(summary)
    assert all(name in table for name in names)
    # A finished run is not redone without --force.
    with pytest.raises(ConfigError, match="--force"):
        run_eval(cfg, lm=ScriptedLM(nearest_demo_rule), chat_lm=ChatLM())


def test_chat_prompt_is_the_claim_asked_directly(claims: Path, tmp_path: Path) -> None:
    chat = ChatLM()
    run_eval(config(claims, tmp_path, methods="zero-shot-chat"), lm=ScriptedLM(), chat_lm=chat)
    assert len(chat.prompts) == 20
    for p in chat.prompts:
        assert p.startswith("<user>item ") and p.endswith(f"{CHAT_QUESTION}</user><assistant>")
        assert CLAIM_SUFFIX not in p


def test_demos_identical_across_methods_except_labels(claims: Path, tmp_path: Path) -> None:
    flipped = {f"c{i:02d}": 1 - i % 2 for i in range(N_CLAIMS)}
    labels = write_labels(tmp_path / "flipped.jsonl", flipped)
    lm = ScriptedLM(nearest_demo_rule)
    cfg = config(claims, tmp_path, methods="golden,random", labels=f"mine={labels}")
    summary = run_eval(cfg, lm=lm)
    per_method = [lm.prompts[i * 20 : (i + 1) * 20] for i in range(3)]
    assert len(lm.prompts) == 60

    def blank(p: str) -> str:
        return re.sub(r" (True|False)\n\n", " LABEL\n\n", p)

    golden, random_, mine = per_method
    assert [blank(p) for p in golden] == [blank(p) for p in random_] == [blank(p) for p in mine]
    assert golden != random_ and golden != mine
    assert blank(golden[0]).count(" LABEL\n\n") == 16
    assert summary.n_demos == 16
    # The demos are labelled as each source says: flipped labels are the reverse of gold.
    demos = read_jsonl(tmp_path / "run" / "demos.jsonl")
    assert all(d["labels"]["golden"] == d["gold"] == 1 - d["labels"]["mine"] for d in demos)
    # Demos never share a group (here: a uid) with a test claim.
    tested = {p["uid"] for p in read_jsonl(tmp_path / "run" / "predictions.jsonl")}
    assert tested.isdisjoint(d["uid"] for d in demos)


def test_golden_beats_random_with_a_copying_model(claims: Path, tmp_path: Path) -> None:
    summary = run_eval(
        config(claims, tmp_path, methods="golden,random"), lm=ScriptedLM(nearest_demo_rule)
    )
    golden, random_ = summary.result("golden"), summary.result("random")
    assert golden.accuracy == 1.0
    assert random_.accuracy is not None and random_.accuracy < 0.8
    assert golden.label_agreement is not None and golden.label_agreement.agreement == 1.0


def test_context_budget_and_max_demos(
    claims: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lm = ScriptedLM(nearest_demo_rule)
    summary = run_eval(
        config(claims, tmp_path, methods="golden", context_tokens=60, out=str(tmp_path / "a")),
        lm=lm,
    )
    assert 0 < summary.n_demos < 16 and summary.prompt_tokens <= 60
    assert all(lm.count_tokens(p) <= 60 for p in lm.prompts)
    capped = run_eval(
        config(claims, tmp_path, methods="golden", max_demos=3, out=str(tmp_path / "b")),
        lm=ScriptedLM(nearest_demo_rule),
    )
    assert capped.n_demos == 3 and capped.demos_stopped_by == "max_demos"
    with caplog.at_level(logging.WARNING, logger="elicit"):
        none = run_eval(
            config(claims, tmp_path, methods="golden", context_tokens=16, out=str(tmp_path / "c")),
            lm=ScriptedLM(nearest_demo_rule),
        )
    assert none.n_demos == 0 and "Raise --context-tokens" in caplog.text


def test_label_agreement_with_gold(claims: Path, tmp_path: Path) -> None:
    # 10 labels: 7 right, 3 wrong (gold of c{i} is i % 2).
    labels = {f"c{i:02d}": i % 2 for i in range(30, 37)}
    labels.update({f"c{i:02d}": 1 - i % 2 for i in range(37, 40)})
    path = write_labels(tmp_path / "weak.jsonl", labels)
    summary = run_eval(config(claims, tmp_path, methods="", labels=str(path)), lm=ScriptedLM())
    weak = summary.result("weak")
    assert weak.label_agreement is not None
    assert weak.label_agreement.agreement == pytest.approx(0.7) and weak.label_agreement.n == 10
    # Demos are the labelled pool examples outside the test sample.
    assert 0 < summary.n_demos <= 10
    row = json.loads((tmp_path / "run" / "results.json").read_text())[0]
    assert row["label_agreement"] == pytest.approx(0.7) and row["label_agreement_n"] == 10


def test_icm_run_directory_is_called_icm(claims: Path, tmp_path: Path) -> None:
    icm = tmp_path / "label-run"
    icm.mkdir()
    write_labels(icm / "labels.jsonl", {f"c{i:02d}": i % 2 for i in range(N_CLAIMS)})
    (icm / "trace.jsonl").write_text("{}\n")
    summary = run_eval(config(claims, tmp_path, methods="golden", labels=str(icm)), lm=ScriptedLM())
    assert [r.method for r in summary.results] == ["golden", "icm"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("not json\n", "invalid JSON"),
        ('{"uid": "c01", "label": 3}\n', "not 0 or 1"),
        ('{"uid": "elsewhere", "label": 1}\n', "none of its 1 uids"),
    ],
)
def test_bad_labels_give_clear_errors(
    claims: Path, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "labels.jsonl"
    if content is not None:
        path.write_text(content)
    lm = ScriptedLM()
    with pytest.raises(DataError, match=message) as e:
        run_eval(config(claims, tmp_path, labels=f"weak={path}"), lm=lm)
    assert "--labels weak=" in str(e.value) and str(path) in str(e.value)
    assert lm.n_calls == 0 and not (tmp_path / "run").exists()


def test_chat_skipped_without_a_template(claims: Path, tmp_path: Path) -> None:
    lm = ScriptedLM(nearest_demo_rule)
    summary = run_eval(config(claims, tmp_path), lm=lm, chat_lm=ScriptedLM(name="plain"))
    chat = summary.result("zero-shot-chat")
    assert chat.skipped is not None and "no chat template" in chat.skipped
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "no chat template" in metrics["skipped"]["zero-shot-chat"]
    row = next(
        r
        for r in json.loads((tmp_path / "run" / "results.json").read_text())
        if r["method"] == "zero-shot-chat"
    )
    assert row["accuracy"] is None and row["skipped"] == chat.skipped
    assert summary.result("golden").accuracy == 1.0  # the rest ran
    assert "skipped: " in format_table(summary)
    assert (tmp_path / "run" / "accuracy.png").read_bytes().startswith(b"\x89PNG")


def test_chart_is_a_png(claims: Path, tmp_path: Path) -> None:
    run_eval(config(claims, tmp_path), lm=ScriptedLM(nearest_demo_rule), chat_lm=ChatLM())
    png = (tmp_path / "run" / "accuracy.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"methods": "zero-shot,bogus"}, "unknown method 'bogus'"),
        ({"pool_n": 0}, "--pool-n"),
        ({"max_demos": -1}, "--max-demos"),
        ({"context_tokens": 4}, "--context-tokens"),
        ({"labels": "golden=x.jsonl"}, "built-in method"),
        ({"labels": "a=x.jsonl,a=y.jsonl"}, "twice"),
        ({"methods": "", "labels": None}, "no methods"),
    ],
)
def test_config_validation(claims: Path, tmp_path: Path, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(claims, tmp_path, **kw)


def test_default_out_dir_and_methods() -> None:
    cfg = EvalConfig(task="sst2", n=60, seed=3, labels="runs/x/labels.jsonl,y.jsonl")
    assert cfg.out_dir() == Path("runs/eval/sst2-gemma-3-270m-n60-s3")
    assert cfg.method_list() == ["zero-shot", "zero-shot-chat", "golden", "random", "x", "y"]
