"""`elicit train` under `accelerate launch` with 2 CPU processes (gloo DDP):
the job trains data-parallel, only the main process writes the run, and the loss per step is
the single-process loss with the same global batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import write_claims_csv

from elicit.cli.main import main
from elicit.commands.train import TrainConfig
from elicit.runs import read_jsonl
from elicit.training.config import FitOptions
from elicit.training.distributed import process_config, world_size
from elicit.training.loop import total_steps

ONE_TORCH_THREAD = True
ACCELERATE = shutil.which("accelerate", path=str(Path(sys.executable).parent))


def args(model: Path, data: Path, out: Path, batch: int) -> list[str]:
    return [
        "train", "--task", "claims", "--data", str(data), "--model", str(model),
        "--n", "none", "--eval-n", "8", "--out", str(out), "--max-steps", "4", "--lr", "0.01",
        "--train-batch-size", str(batch), "--checkpoint-every", "2", "--no-progress",
        "--no-save-model", "--label-source", "golden",
    ]  # fmt: skip


@pytest.mark.skipif(ACCELERATE is None, reason="accelerate is not installed")
def test_two_cpu_processes_train_like_one_with_the_same_global_batch(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = write_claims_csv(tmp_path / "claims.csv")
    single = tmp_path / "single"
    assert main(args(tiny_model_dir, data, single, batch=4)) == 0
    parallel = tmp_path / "parallel"
    # accelerate's own CPU mode needs MPI; its torch launcher with ACCELERATE_USE_CPU runs
    # the processes over gloo (what docs/SCALING.md gives for a CPU smoke test).
    env = {
        **os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
        "ACCELERATE_USE_CPU": "1",
    }  # fmt: skip
    launch = [
        str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "elicit",
        *args(tiny_model_dir, data, parallel, batch=2),
    ]  # fmt: skip
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    # One writer: the run directory is complete and nothing else was written beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.csv", "parallel", "single"]
    metrics = json.loads((parallel / "metrics.json").read_text())
    assert metrics["n_train"] == 16
    # 2 processes x 2 claims = the single process's 4 claims per step: the same losses.
    one = [r["loss"] for r in read_jsonl(single / "train_log.jsonl")]
    two = [r["loss"] for r in read_jsonl(parallel / "train_log.jsonl")]
    assert len(one) == len(two) == 4
    assert two == pytest.approx(one, rel=1e-4, abs=1e-5)
    assert one[-1] < one[0]
    state = json.loads((parallel / "checkpoints" / "checkpoint.json").read_text())
    assert state["fingerprint"]["processes"] == 2 and state["step"] == 4


def test_a_lone_process_is_not_parallel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert world_size() == 1
    options = FitOptions(train_batch_size=4, epochs=1)
    assert total_steps(16, options) == 4 and total_steps(16, options, processes=2) == 2
    config = TrainConfig(task="sst2", label_source="golden", out=str(tmp_path / "run"))
    assert process_config(config) is config
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    other = process_config(config)  # a non-main process writes a private scratch copy
    assert Path(other.out or "").parent != tmp_path
    assert Path(other.out or "").name == "run" and other.progress is False
