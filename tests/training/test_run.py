"""`elicit train` end to end on a tiny random model: result rows, the exported model that
`elicit eval` loads, label files, reward models, finished/interrupted runs and user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import write_claims_csv, write_comparisons

from elicit.cli.main import main
from elicit.commands.evaluate import EvalConfig, run_eval
from elicit.runs import read_jsonl

FAST = ["--max-steps", "6", "--lr", "0.01", "--train-batch-size", "4", "--no-progress"]


def train_args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train", "--task", "claims", "--data", str(data), "--model", str(model),
        "--n", "none", "--eval-n", "none", "--out", str(out), *FAST, *extra,
    ]  # fmt: skip


def rows(out: Path) -> dict[tuple[str, str], float]:
    return {(r["method"], r["metric"]): r["value"] for r in read_jsonl(out / "results.jsonl")}


def test_golden_run_rows_and_model_that_eval_loads(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_claims_csv(tmp_path / "claims.csv")
    out = tmp_path / "run"
    assert main(train_args(tiny_model_dir, data, out, "--label-source", "golden")) == 0
    assert "finetune-golden trained on 16 claims (6 steps" in capsys.readouterr().out
    got = rows(out)
    for method in ("zero-shot", "finetune-golden"):
        for metric in ("accuracy", "auroc", "calibrated_accuracy", "frac_predicted_true"):
            assert (method, metric) in got
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 16 and metrics["train_label_agreement"] == 1.0
    assert len(read_jsonl(out / "train_log.jsonl")) == 6
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "checkpoints" / "checkpoint.json").is_file()
    # `elicit eval --model RUN/model` scores the fine-tuned model: the same accuracy.
    summary = run_eval(
        EvalConfig(
            task="claims",
            data=str(data),
            model=str(out / "model"),
            methods="zero-shot",
            n=None,
            out=str(tmp_path / "eval"),
            progress=False,
        )
    )
    assert summary.result("zero-shot").accuracy == got[("finetune-golden", "accuracy")]
    # A finished run is not redone; --force redoes it.
    assert main(train_args(tiny_model_dir, data, out, "--label-source", "golden")) == 2
    assert "already holds a finished train run" in capsys.readouterr().err
    args = train_args(tiny_model_dir, data, out, "--label-source", "golden", "--force")
    assert main([*args, "--no-eval-before", "--no-save-model"]) == 0
    assert not (out / "model").exists() and ("zero-shot", "accuracy") not in rows(out)


def test_labels_file_and_resume(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_claims_csv(tmp_path / "claims.csv")
    labels = tmp_path / "weak.jsonl"
    labels.write_text(
        "".join(
            json.dumps({"uid": f"c{i}", "label": 0.9 if i % 2 == 0 else 0.2}) + "\n"
            for i in range(10)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    args = train_args(
        tiny_model_dir, data, out, "--labels", str(labels), "--no-eval-before", "--no-save-model"
    )
    assert main(args) == 0
    first = rows(out)
    assert ("finetune-weak", "accuracy") in first
    assert json.loads((out / "metrics.json").read_text())["n_train"] == 10
    # An interrupted run (no metrics.json) resumes from its checkpoint, and only with --resume.
    (out / "metrics.json").unlink()
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume", "--lr", "0.02"]) == 2
    assert "other options (lr)" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["resumed_from"] == 6
    assert rows(out) == first


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "no training labels"),
        (["--label-source", "golden", "--labels", "x.jsonl"], "only read with --label-source file"),
        (["--label-source", "golden", "--best-of-n", "2"], "needs --objective reward"),
        (["--label-source", "golden", "--objective", "reward"], "needs a comparison task"),
    ],
)
def test_user_errors(
    tiny_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    data = write_claims_csv(tmp_path / "claims.csv")
    assert main(train_args(tiny_model_dir, data, tmp_path / "run", *extra)) == 2
    assert message in capsys.readouterr().err


def test_labels_for_other_claims_are_an_error(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_claims_csv(tmp_path / "claims.csv")
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"uid": "other/1", "label": 1}\n', encoding="utf-8")
    assert main(train_args(tiny_model_dir, data, tmp_path / "run", "--labels", str(labels))) == 2
    err = capsys.readouterr().err
    assert "none of its 1 uids" in err and str(labels) in err


def test_reward_run_exports_and_best_of_n(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_comparisons(tmp_path / "pairs.json", n=16)
    out = tmp_path / "rm"
    args = [
        "train", "--task", "alpaca-comparison", "--data", str(data), "--model", str(tiny_model_dir),
        "--objective", "reward", "--label-source", "golden", "--n", "none", "--eval-n", "none",
        "--out", str(out), "--best-of-n", "2", "--best-of-n-prompts", "2",
        "--best-of-n-tokens", "4", *FAST,
    ]  # fmt: skip
    assert main(args) == 0
    assert "reward-golden" in capsys.readouterr().out
    got = rows(out)
    assert ("reward-golden", "pairwise_accuracy") in got and (
        "zero-shot",
        "pairwise_accuracy",
    ) in got
    assert (out / "reward_model" / "config.json").is_file()
    picks = read_jsonl(out / "best_of_n.jsonl")
    assert len(picks) == 2 and all(len(p["responses"]) == 2 for p in picks)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_pairs"] > 0 and metrics["pair_label_agreement"] == 1.0
