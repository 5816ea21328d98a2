"""Run directories for the reporting tests, made the way the commands make them.

A label and an eval run come from the real `run_label` / `run_eval` with scripted LMs (a second
each); a w2s run, an interrupted label run, a failed staging directory and a comparison label
run are written file by file in the layout those commands write, which is what the reporting
code reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from elicit.backends.fake import ScriptedLM
from elicit.commands.evaluate import EvalConfig, run_eval
from elicit.commands.label import LabelConfig, run_label

HOSTILE = "<script>alert('pwned')</script> & \"quotes\""


def keyword_rule(prompt: str) -> float:
    """True for claims saying 'good', False for 'bad', judged on the last (query) claim."""
    query = prompt.rsplit("\n\n", 1)[-1]
    return 2.0 if "good" in query else -2.0


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def claims_rows(n: int = 12) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"uid": f"c{i:02d}", "text": f"item {i} was {'good' if i % 2 else 'bad'}", "label": i % 2}
        for i in range(n)
    ]
    rows[0]["text"] = f"item 0 was bad {HOSTILE}"  # a claim that would run if not escaped
    return rows


@dataclass(frozen=True)
class Runs:
    root: Path
    claims: Path
    label: Path
    eval: Path
    w2s: Path
    interrupted: Path
    failed: Path


def make_label_run(claims: Path, out: Path) -> Path:
    config = LabelConfig(
        task="claims", data=str(claims), n=None, out=str(out), progress=False,
        iterations=40, batch_size=64, checkpoint_every=4, backend="fake",
    )  # fmt: skip
    run_label(config, lm=ScriptedLM(keyword_rule, name="fake-kw"))
    return out


def make_eval_run(claims: Path, label: Path, out: Path) -> Path:
    config = EvalConfig(
        task="claims", data=str(claims), n=8, pool_n=6, out=str(out), seed=0,
        methods="zero-shot,golden,random", labels=f"icm={label}", backend="fake",
        progress=False,
    )  # fmt: skip
    run_eval(config, lm=ScriptedLM(keyword_rule, name="fake-kw"))
    return out


def write_w2s_run(out: Path) -> Path:
    """The files `elicit w2s` writes (w2s.png aside): config, tidy rows, metrics."""
    out.mkdir(parents=True)
    config = {"task": "sst2", "weak": "tfidf", "strong": "gemma-3-270m", "out": str(out),
              "losses": "xent,confidence", "seed": 0, "n": 40}  # fmt: skip
    (out / "config.json").write_text(json.dumps(config))
    acc = {"weak": 0.6, "strong-zero-shot": 0.55, "w2s-xent": 0.7, "w2s-confidence": 0.75,
           "ceiling": 0.8}  # fmt: skip
    base = {"task": "sst2", "model": "gemma-3-270m", "split": "test", "n": 40, "seed": 0}
    rows = [{**base, "method": m, "metric": "accuracy", "value": v} for m, v in acc.items()]
    rows += [{**base, "method": m, "metric": "auroc", "value": v + 0.05} for m, v in acc.items()]
    for m in ("w2s-xent", "w2s-confidence"):
        rows.append({**base, "method": m, "metric": "pgr", "value": (acc[m] - 0.6) / 0.2})
        rows.append({**base, "method": m, "metric": "pgr_auroc", "value": (acc[m] - 0.6) / 0.2})
        rows.append({**base, "method": m, "metric": "agreement", "value": 0.9})
    write_jsonl(out / "results.jsonl", rows)
    (out / "metrics.json").write_text(json.dumps({"accuracy": acc, "pgr": {"w2s-xent": 0.5}}))
    return out


def write_interrupted_label_run(claims: Path, out: Path) -> Path:
    """A label run killed mid-search: config.json and a batch checkpoint, no metrics.json."""
    out.mkdir(parents=True)
    config = {"task": "claims", "data": str(claims), "split": "train", "out": str(out),
              "alpha": 50.0, "schedule": "paper", "seed": 0, "model": "fake"}  # fmt: skip
    (out / "config.json").write_text(json.dumps(config))
    batch = out / "checkpoints" / "batch-000"
    batch.mkdir(parents=True)
    (batch / "checkpoint.json").write_text(json.dumps({"iteration": 7, "accepted": 3}))
    write_jsonl(
        batch / "trace.jsonl",
        [{"iteration": i, "energy": float(i), "agreement": 0.5 + 0.05 * i} for i in range(1, 8)],
    )
    return out


def write_failed_run(root: Path) -> Path:
    """What a crashed staged run (eval, score, w2s, self-improve) leaves: its staging dir."""
    stage = root / "eval" / ".crashed.partial-abc123"
    stage.mkdir(parents=True)
    config = {"task": "sst2", "model": "gemma-3-270m", "methods": "zero-shot",
              "chat_model": "x", "out": str(root / "eval" / "crashed")}  # fmt: skip
    (stage / "config.json").write_text(json.dumps(config))
    return stage


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("runs")
    claims = write_jsonl(root.parent / f"{root.name}-claims.jsonl", claims_rows())
    label = make_label_run(claims, root / "label" / "kw")
    return Runs(
        root=root,
        claims=claims,
        label=label,
        eval=make_eval_run(claims, label, root / "eval" / "kw"),
        w2s=write_w2s_run(root / "w2s" / "kw"),
        interrupted=write_interrupted_label_run(claims, root / "label" / "stopped"),
        failed=write_failed_run(root),
    )
