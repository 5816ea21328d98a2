"""Every command through `main()`: label, eval, train, w2s, self-improve and demo on the scripted
LM (and a tiny random model where a command trains one), each printing the lines its summary
describes, writing a metrics.json that its typed metrics read back unchanged; and `--help` of
every command the top-level help lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import elicit.backends
from elicit.backends.base import LM, GenerationConfig
from elicit.backends.fake import ScriptedLM
from elicit.cli.main import main
from elicit.commands.label import LabelMetrics
from elicit.commands.selfimprove import SelfImproveMetrics
from elicit.commands.train import TrainMetrics
from elicit.commands.w2s import W2SMetrics
from elicit.runs import read_jsonl

ONE_TORCH_THREAD = True  # the train and w2s tests fit tiny models (tests/conftest.py)

WORDS = {1: ["good", "great", "fine", "nice"], 0: ["bad", "awful", "poor", "sad"]}
_QUESTION = re.compile(r"Q: What is ([\d+\-* ]+)\?\nA:(?: Let's think step by step\.)?$")


def keyword_rule(prompt: str) -> float:
    """True when the claim (the last line before the suffix) has a positive word."""
    claim = prompt.rsplit("\n", 1)[0].rsplit("\n", 1)[-1]
    return 3.0 if any(w in claim for w in WORDS[1]) else -3.0


def adder(prompt: str, config: GenerationConfig) -> str:
    """A scripted solver: right on every arithmetic question (digits and + - * only, so eval
    is safe here), unsure of anything else."""
    m = _QUESTION.search(prompt)
    if m is None:
        return " I am not sure."
    expr = m.group(1)
    total = int(eval(expr))
    return f" {expr} = {total}. The answer is {total}.\n\nQ: next"


@pytest.fixture
def fake_lm(monkeypatch: pytest.MonkeyPatch) -> ScriptedLM:
    lm = ScriptedLM(keyword_rule, generate=adder)

    def load(model: str = "", backend: str = "auto", **_: object) -> LM:
        return lm

    monkeypatch.setattr(elicit.backends, "load_lm", load)
    return lm


def claims(path: Path, n: int = 40) -> Path:
    rows = [
        {"uid": f"c{i}", "text": f"The movie was {WORDS[i % 2][(i // 2) % 4]} ({i}).",
         "label": i % 2}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def metrics_json(out: Path) -> dict[str, object]:
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def label_run(tmp_path: Path, data: Path) -> Path:
    out = tmp_path / "label"
    argv = ["label", "--task", "claims", "--data", str(data), "--n", "12", "--iterations", "40"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    return out


def test_help_of_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    listing = capsys.readouterr().out.split("positional arguments:")[1].split("options:")[0]
    commands = re.findall(r"^    (\S+)", listing, flags=re.MULTILINE)
    assert {"label", "eval", "train", "w2s", "self-improve", "demo", "export"} <= set(commands)
    assert len(commands) == 12
    for argv in [[c] for c in commands] + [["models", "pull"]]:
        with pytest.raises(SystemExit) as e:
            main([*argv, "--help"])
        assert e.value.code == 0, argv
        text = capsys.readouterr().out
        assert text.startswith(f"usage: elicit {' '.join(argv)} "), argv
        assert "--json" in text or argv == ["runs"], argv


def test_label_prints_its_summary_and_metrics_read_back(
    tmp_path: Path, fake_lm: ScriptedLM, capsys: pytest.CaptureFixture[str]
) -> None:
    out = label_run(tmp_path, claims(tmp_path / "claims.jsonl"))
    printed = capsys.readouterr().out
    written = metrics_json(out)
    metrics = LabelMetrics.from_dict(written)
    assert metrics.to_dict() == written
    assert metrics.agreement == 1.0 and metrics.n == 12
    assert f"claims (train): ICM labelled {metrics.n_labelled} of 12 claims" in printed
    assert "agreement with gold 100.0%" in printed
    assert f"labels written to {out}/labels.jsonl" in printed


def test_eval_and_train_on_a_label_run(
    tmp_path: Path,
    fake_lm: ScriptedLM,
    tiny_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = claims(tmp_path / "claims.jsonl")
    labels = label_run(tmp_path, data)
    capsys.readouterr()
    out = tmp_path / "eval"
    argv = ["eval", "--task", "claims", "--data", str(data), "--n", "10", "--labels"]
    assert main([*argv, f"icm={labels}", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    methods = {r["method"] for r in read_jsonl(out / "results.jsonl")}
    assert {"zero-shot", "golden", "icm"} <= methods
    assert "icm" in printed and f"results written to {out}/" in printed

    out = tmp_path / "train"
    argv = ["train", "--task", "claims", "--data", str(data), "--model", str(tiny_model_dir)]
    argv += ["--labels", str(labels), "--eval-n", "8", "--max-steps", "2"]
    argv += ["--train-batch-size", "4", "--no-save-model", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    written = metrics_json(out)
    metrics = TrainMetrics.from_dict(written)
    assert metrics.to_dict() == written
    assert metrics.fit.steps == 2 and metrics.reward is None
    assert metrics.method == "finetune-icm"  # the label run's name
    assert f"claims: finetune-icm trained on {metrics.n_train} claims (2 steps" in printed
    assert "test accuracy" in printed and "(zero-shot " in printed


def test_w2s_prints_accuracy_and_pgr_per_method(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = claims(tmp_path / "claims.jsonl", n=60)
    out = tmp_path / "w2s"
    argv = ["w2s", "--task", "claims", "--data", str(data), "--strong", str(tiny_model_dir)]
    argv += ["--objective", "probe", "--probe-epochs", "3", "--n", "24", "--test-n", "16"]
    assert main(["--json", *argv, "--out", str(out)]) == 0
    payload = json.loads(capsys.readouterr().out)  # --json: stdout holds the object only
    written = metrics_json(out)
    assert payload["command"] == "w2s" and payload["metrics"] == written
    metrics = W2SMetrics.from_dict(written)
    assert metrics.to_dict() == written
    assert set(metrics.scores.pgr) == {"w2s-xent", "w2s-confidence"}
    assert main([*argv, "--out", str(out), "--force"]) == 0
    printed = capsys.readouterr().out
    assert "claims: weak tfidf -> strong" in printed
    ceiling = metrics.scores.accuracy["ceiling"]
    assert re.search(rf"  ceiling +accuracy {100 * ceiling:.1f}%\n", printed)
    assert re.search(r"  w2s-xent +accuracy [\d.]+%(  PGR -?[\d.]+%)?\n", printed)


def test_self_improve_prints_accuracy_before(
    tmp_path: Path, fake_lm: ScriptedLM, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lmsi"
    argv = ["self-improve", "--task", "arithmetic", "--n", "6", "--test-n", "4", "--shots", "2"]
    argv += ["--paths", "3", "--eval-paths", "3", "--max-new-tokens", "32", "--no-finetune"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    written = metrics_json(out)
    metrics = SelfImproveMetrics.from_dict(written)
    assert metrics.to_dict() == written
    assert metrics.after.finetuned is False and metrics.n_pool == 6 and metrics.n_kept > 0
    right = metrics.results["majority-vote/label_accuracy"]
    assert isinstance(right, float) and right > 0.5
    kept = f"arithmetic: kept {metrics.n_kept} of 6 questions (majority right {100 * right:.1f}%)"
    assert kept in printed
    greedy = metrics.results["greedy/accuracy"]
    assert isinstance(greedy, float)
    assert f"  greedy accuracy on 4 test questions: {100 * greedy:.1f}%\n" in printed
    assert "after LMSI" not in printed


def test_demo_prints_the_table_and_json(
    tmp_path: Path, fake_lm: ScriptedLM, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--n", "8", "--iterations", "5", "--test-n", "10", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "ICM labelled" in printed and "icm" in printed
    # Again, reusing the finished ICM run (read back from its files), as JSON.
    assert main(["--json", *argv]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["label"]["metrics"] == metrics_json(out / "label")
    assert payload["eval"]["out"] == str(out / "eval")


def test_metrics_of_older_runs_still_read() -> None:
    """metrics.json from before the run costs and the MP value were recorded."""
    old = {
        "task": "sst2", "model": "gemma-3-270m", "split": "train", "seed": 0, "n": 8,
        "n_labelled": 8, "coverage": 1.0, "frac_true": 0.5, "energy": 1.5, "mp": "calibrated",
        "inconsistencies": 0, "agreement": 0.75, "agreement_n": 8, "iterations": 10,
        "accepted": 3, "lm_evaluations": 12, "seconds": 2.0,
        "batches": [{"n": 8, "n_labelled": 8, "energy": 1.5, "mp": 0.2,
                     "inconsistencies": 0, "iterations": 10, "accepted": 3}],
        "alpha": 50.0, "schedule": "paper", "init_balanced": False, "skip_same": False,
        "context_order": "interleaved", "follows": {"mp": "elicit"},
    }  # fmt: skip
    label = LabelMetrics.from_dict(old)
    assert label.mp_value is None and label.load_seconds is None
    assert label.variants["mp"] == "calibrated" and label.batches[0].mp == 0.2
    assert label.to_dict()["mp"] == "calibrated"
    w2s = W2SMetrics.from_dict(
        {
            "task": "sst2",
            "weak": "tfidf",
            "strong": "m",
            "seed": 0,
            "n_half1": 4,
            "n_half2": 4,
            "n_test": 8,
            "accuracy": {"ceiling": 0.9, "w2s-xent": 0.8},
            "weak_accuracy": 0.7,
            "weak_label_accuracy_half2": 0.7,
            "pgr": {"w2s-xent": 0.5},
            "seconds": 1.0,
            "losses": {},
        }
    )
    assert w2s.n_train is None and w2s.scores.gap == pytest.approx(0.2)
