"""The `elicit` CLI end to end with a scripted LM: outputs, errors, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import elicit.backends
from elicit.backends.base import LM
from elicit.backends.fake import ScriptedLM
from elicit.cli.main import main


def keyword_rule(prompt: str) -> float:
    """True when the claim (the last line before the suffix) mentions 'good'."""
    claim = prompt.rsplit("\n", 1)[0].rsplit("\n", 1)[-1]
    return 3.0 if "good" in claim else -3.0


@pytest.fixture
def fake_lm(monkeypatch: pytest.MonkeyPatch) -> ScriptedLM:
    lm = ScriptedLM(keyword_rule)

    def load(model: str = "", backend: str = "auto", **_: object) -> LM:
        return lm

    monkeypatch.setattr(elicit.backends, "load_lm", load)
    return lm


def write_claims(tmp_path: Path) -> Path:
    p = tmp_path / "claims.csv"
    p.write_text(
        "sentence,truth\n"
        "the food was good,1\n"
        "the food was bad,0\n"
        "a good film,true\n"
        "a bad film,false\n",
        encoding="utf-8",
    )
    return p


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "score" in capsys.readouterr().out
    for cmd in ("score", "models", "tasks"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--task", "--data", "--model", "--backend", "--n", "--seed", "--out", "--config"):
        assert flag in out


def test_score_claims_csv_writes_run(
    tmp_path: Path, fake_lm: ScriptedLM, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_claims(tmp_path)
    out = tmp_path / "run"
    argv = ["score", "--task", "claims", "--data", str(data), "--text-column", "sentence"]
    argv += ["--label-column", "truth", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "accuracy 100.0%" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == 1.0 and metrics["n"] == 4
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["prediction"] for p in preds] == [p["gold"] for p in preds]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    acc = next(r for r in rows if r["metric"] == "accuracy")
    assert acc["method"] == "zero-shot" and acc["value"] == 1.0 and acc["ci_low"] < 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["text_column"] == "sentence"
    # A finished run is not redone without --force.
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_score_claims_jsonl_from_config_file(
    tmp_path: Path, fake_lm: ScriptedLM, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "c.jsonl"
    rows = [{"text": "good", "label": 1}, {"text": "bad", "label": 0}, {"text": "good", "label": 0}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "score.yaml"
    cfg.write_text(f"task: claims\ndata: {data}\nn: 2\nout: {tmp_path / 'r'}\n")
    assert main(["score", "--config", str(cfg), "--n", "3", "--no-progress"]) == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["n"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sentence\nx\n", "text"),  # missing text column
        ("text,label\nx,maybe\n", "maybe"),  # bad label
        ("", "empty"),
    ],
)
def test_bad_claims_give_one_paragraph_error(
    tmp_path: Path,
    fake_lm: ScriptedLM,
    capsys: pytest.CaptureFixture[str],
    content: str,
    message: str,
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(content)
    out = tmp_path / "run"
    assert main(["score", "--task", "claims", "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err and str(data) in err
    assert "Traceback" not in err
    assert not out.exists()


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score"]) == 2
    assert "--task" in capsys.readouterr().err
    assert main(["score", "--task", "no-such-task"]) == 2
    assert "no-such-task" in capsys.readouterr().err
    assert main(["score", "--task", "sst2", "--n", "0"]) == 2
    assert main(["score", "--task", "claims"]) == 2
    assert "--data" in capsys.readouterr().err


def test_crash_leaves_no_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(prompt: str) -> float:
        raise KeyboardInterrupt

    monkeypatch.setattr(elicit.backends, "load_lm", lambda *a, **k: ScriptedLM(broken))
    out = tmp_path / "run"
    argv = ["score", "--task", "claims", "--data", str(write_claims(tmp_path)), "--out", str(out)]
    assert main([*argv, "--text-column", "sentence", "--label-column", "truth"]) == 130
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["claims.csv"]


def test_models_and_tasks_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "gemma-3-270m (default)" in out and "smollm2-135m-instruct" in out
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for task in ("truthfulqa", "gsm8k-verification", "alpaca-comparison", "sst2", "claims"):
        assert task in out


def test_json_output_is_one_object_on_stdout(
    tmp_path: Path, fake_lm: ScriptedLM, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_claims(tmp_path)
    out = tmp_path / "run"
    argv = ["score", "--task", "claims", "--data", str(data), "--text-column", "sentence",
            "--label-column", "truth", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # exactly one JSON document, nothing else
    assert result["command"] == "score" and result["out"] == str(out)
    assert result["metrics"] == json.loads((out / "metrics.json").read_text())
    assert result["metrics"]["accuracy"] == 1.0
    assert "results written to" in captured.err  # the human lines moved to stderr
    # Before the command name too, and for listings.
    assert main(["--json", "tasks"]) == 0
    tasks = json.loads(capsys.readouterr().out)["tasks"]
    assert "sst2" in {t["name"] for t in tasks}


def test_quiet_keeps_warnings_and_the_result_line(
    tmp_path: Path, fake_lm: ScriptedLM, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    data = write_claims(tmp_path)
    base = ["label", "--task", "claims", "--data", str(data), "--text-column", "sentence",
            "--label-column", "truth", "--n", "none", "--iterations", "4", "--batch-size", "2"]  # fmt: skip
    # A pool of singleton groups in batches of 2: label logs an INFO line per resumed batch and
    # nothing else at INFO; -q must silence INFO but keep the result line on stdout.
    assert main([*base, "--out", str(tmp_path / "a"), "-q"]) == 0
    captured = capsys.readouterr()
    assert "labels written to" in captured.out
    assert logging.getLogger("elicit").getEffectiveLevel() == logging.WARNING
    assert "%|" not in captured.err  # no progress bar
    assert "TQDM_DISABLE" not in os.environ  # set for the call only
    assert main([*base, "--out", str(tmp_path / "b")]) == 0
    assert logging.getLogger("elicit").getEffectiveLevel() == logging.INFO
