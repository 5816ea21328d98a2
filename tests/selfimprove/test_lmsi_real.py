"""`elicit self-improve` on the real default model, end to end at the smallest size (slow).

Fine-tuning is left out to stay under a minute on the CPU (loading a second copy and one LoRA
step add ~15 s); the training wiring is tested on a tiny model in test_lmsi_pipeline.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lmsi_scripted import arithmetic_lm, config

from elicit.cli.main import main
from elicit.commands.selfimprove import run_self_improve
from elicit.runs import read_jsonl


@pytest.mark.slow
def test_self_improve_cli_on_the_default_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    flags = (
        "--task arithmetic --n 2 --test-n 2 --shots 2 --paths 2 --eval-paths 1 "
        "--max-new-tokens 16 --no-finetune --no-progress"
    )
    code = main(["self-improve", *flags.split(), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "greedy accuracy on 2 test questions" in printed
    rows = read_jsonl(out / "results.jsonl")
    assert {"greedy", "majority-vote"} <= {r["method"] for r in rows}
    paths = read_jsonl(out / "paths.jsonl")
    assert all(len(p["paths"]) == 2 for p in paths)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "gemma-3-270m"
    assert (out / "before_after.png").stat().st_size > 0 and (out / "agreement.png").is_file()


@pytest.mark.slow
@pytest.mark.llamacpp
def test_after_runs_on_llamacpp_with_the_adapter(tmp_path: Path) -> None:
    """With --backend llamacpp the fine-tuned model is evaluated there too: the LoRA adapter is
    written for llama.cpp and applied to the base GGUF (sampling is scripted, one LoRA step)."""
    cfg = config(
        tmp_path,
        model="gemma-3-270m",
        backend="llamacpp",
        finetune=True,
        n=3,
        test_n=2,
        shots=1,
        paths=2,
        eval_paths=1,
        max_new_tokens=8,
        max_steps=1,
        train_batch_size=4,
    )
    summary = run_self_improve(cfg, lm=arithmetic_lm())
    after = summary.metrics.after
    assert after.train_steps == 1 and after.adapter == "sft/adapter"
    assert after.llamacpp_adapter == "sft/adapter.gguf"
    assert (summary.out / "sft" / "adapter.gguf").stat().st_size > 0
    assert {"lmsi-greedy"} <= {r.method for r in summary.rows}
    stages = [p["stage"] for p in read_jsonl(summary.out / "predictions.jsonl")]
    assert stages.count("after") == 2
