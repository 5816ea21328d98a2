"""Real processes killed with SIGKILL at random moments, then rerun: nothing is lost or
half-written, and the final result equals an uninterrupted run's (issue 10's kill test).

20 kills in all: ICM label runs (resumed from checkpoints written every iteration), eval runs
(staged: all or nothing), and fine-tuning (checkpoints every step). Each victim is a fresh
Python process running a small script; the kill moment is drawn from a seeded RNG over the
first third of the run's duration, so some kills land in imports, some mid-run, some during writes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
RNG = random.Random(1234)

LABEL_SCRIPT = """
import sys
sys.path.insert(0, {search_tests!r})
from planted import planted_lm, pool
from elicit.commands.label import LabelConfig, run_label
from elicit.tasks.base import Consistency
import json
examples, planted = pool(Consistency.COMPARISON, 40, seed=5)
path = {data!r}
rows = [dict(uid=ex.uid, text=ex.prompt.split("\\n")[0], group=ex.group, key=ex.key) for ex in examples]
open(path, "w").write("".join(json.dumps(r) + "\\n" for r in rows))
config = LabelConfig(task="claims", data=path, n=None, out={out!r}, progress=False, iterations=400,
                     batch_size=40, checkpoint_every=1, backend="fake", resume=True)
run_label(config, lm=planted_lm(planted, seed=5))
"""

EVAL_SCRIPT = """
from elicit.backends.fake import ScriptedLM
from elicit.commands.evaluate import EvalConfig, run_eval
config = EvalConfig(task="claims", data={data!r}, n=30, pool_n=20, out={out!r}, seed=0,
                    methods="zero-shot,golden,random", progress=False)
lm = ScriptedLM(lambda p: (len(p) % 7) - 3.0)
run_eval(config, lm=lm)
"""

TRAIN_SCRIPT = """
from elicit.commands.train import TrainConfig, run_train
config = TrainConfig(task="claims", data={data!r}, model={model!r}, label_source="golden",
                     n=16, eval_n=8, max_steps=100, train_batch_size=4, checkpoint_every=1,
                     out={out!r}, progress=False, resume=True, save_model=False)
run_train(config)
"""


def run(script: str, *, kill_after: float | None) -> int:
    """Run `script` in a fresh interpreter; SIGKILL it after `kill_after` seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    if kill_after is None:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
        return 0
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return 1
    return 0  # finished before the kill


def no_leftovers(parent: Path) -> None:
    left = [p.name for p in parent.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    assert left == [], left


def claims_file(path: Path) -> Path:
    rows = [{"uid": f"c{i}", "text": f"item {i} is {'good' if i % 2 else 'bad'}", "label": i % 2}
            for i in range(60)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def kill_until(
    quota: int,
    script_for: Callable[[Path], str],
    outs: Path,
    window: tuple[float, float],
    check: Callable[[Path], None],
) -> int:
    """Kill fresh victims at random moments until `quota` kills have landed; each victim is
    then run to completion (resuming) and `check`ed. Returns the kills that landed."""
    kills, k = 0, 0
    outs.mkdir(parents=True, exist_ok=True)
    while kills < quota:
        out = outs / f"run-{k}"
        for _ in range(3 * quota):  # a bound, so a too-fast run cannot loop forever
            if kills >= quota or (out / "metrics.json").is_file():
                break
            kills += run(script_for(out), kill_after=RNG.uniform(*window))
        if not (out / "metrics.json").is_file():
            run(script_for(out), kill_after=None)
        check(out)
        k += 1
    return kills


def timed(script: str) -> float:
    start = time.perf_counter()
    run(script, kill_after=None)
    return time.perf_counter() - start


@pytest.mark.slow
def test_kills_during_label_eval_and_train(tmp_path: Path, tiny_model_dir: Path) -> None:
    # ICM label runs: kills land anywhere (imports, search, checkpoint writes); each run, resumed
    # to the end, has exactly the labels of an uninterrupted run.
    search_tests = str(ROOT / "search")

    def label_script(out: Path) -> str:
        return LABEL_SCRIPT.format(
            search_tests=search_tests, data=str(out) + ".jsonl", out=str(out)
        )

    duration = timed(label_script(tmp_path / "label-ref"))
    want_labels = (tmp_path / "label-ref" / "labels.jsonl").read_text()

    def same_labels(out: Path) -> None:
        assert (out / "labels.jsonl").read_text() == want_labels

    kills = kill_until(10, label_script, tmp_path / "labels", (0.3, duration / 3), same_labels)

    # Eval runs (staged): all or nothing after every kill; the finished run equals the reference.
    data = claims_file(tmp_path / "claims.jsonl")

    def eval_script(out: Path) -> str:
        return EVAL_SCRIPT.format(data=str(data), out=str(out))

    def tidy(run_dir: Path) -> list[tuple[str, str, float]]:
        rows = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
        return [(r["method"], r["metric"], r["value"]) for r in rows]

    duration = timed(eval_script(tmp_path / "eval-ref"))
    want_eval = tidy(tmp_path / "eval-ref")

    def same_eval(out: Path) -> None:
        assert tidy(out) == want_eval
        no_leftovers(out.parent)

    kills += kill_until(6, eval_script, tmp_path / "evals", (0.3, duration), same_eval)

    # Fine-tuning: resumed from step checkpoints to the uninterrupted final loss.
    def train_script(out: Path) -> str:
        return TRAIN_SCRIPT.format(data=str(data), model=str(tiny_model_dir), out=str(out))

    duration = timed(train_script(tmp_path / "train-ref"))
    want_loss = json.loads((tmp_path / "train-ref" / "metrics.json").read_text())["final_loss"]

    def same_loss(out: Path) -> None:
        got = json.loads((out / "metrics.json").read_text())["final_loss"]
        assert got == pytest.approx(want_loss, rel=1e-5)

    kills += kill_until(4, train_script, tmp_path / "trains", (2.0, duration / 3), same_loss)
    assert kills == 20
