"""`elicit self-improve` on the real default model, end to end at the smallest size (slow).

Fine-tuning is left out to stay under a minute on the CPU (loading a second copy and one LoRA
step add ~15 s); the training wiring is tested on a tiny model in test_lmsi_pipeline.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elicit.cli.main import main
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
