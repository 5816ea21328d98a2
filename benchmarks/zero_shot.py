"""Zero-shot accuracy of a model on every registered task (the first real measurement).

Scores n examples per task and seed with `elicit score`'s code path, appends the tidy result
rows to a JSONL file and prints a markdown table for docs/RESULTS.md.

    python benchmarks/zero_shot.py --n 200 --seeds 0 \
        --rows benchmarks/results/zero_shot_gemma-3-270m.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from elicit.backends import load_lm
from elicit.commands.score import ScoreConfig, run_score
from elicit.models import DEFAULT_MODEL
from elicit.runs import atomic_write_jsonl, read_jsonl
from elicit.tasks import TASKS

SKIP = {"claims"}  # needs the user's file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--tasks", default=",".join(t for t in TASKS if t not in SKIP))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--lm-batch-size", type=int, default=8)
    ap.add_argument("--runs", default="runs/bench/zero-shot", help="run directories go here")
    ap.add_argument("--rows", required=True, help="JSONL file the tidy rows are written to")
    args = ap.parse_args()

    lm = load_lm(args.model, batch_size=args.lm_batch_size)
    rows: list[dict[str, object]] = []
    for task in args.tasks.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            out = Path(args.runs) / f"{task}-{Path(args.model).name}-n{args.n}-s{seed}"
            config = ScoreConfig(task=task, model=args.model, n=args.n, seed=seed, out=str(out))
            if not (out / "metrics.json").exists():
                run_score(config, lm=lm)
            rows.extend(read_jsonl(out / "results.jsonl"))
            metrics = json.loads((out / "metrics.json").read_text())
            print(f"{task} seed {seed}: accuracy {metrics['accuracy']:.3f}", flush=True)
    atomic_write_jsonl(args.rows, rows)
    print_table(rows)


def print_table(rows: list[dict[str, object]]) -> None:
    by: dict[tuple[str, int], dict[str, dict[str, object]]] = {}
    for r in rows:
        by.setdefault((str(r["task"]), int(str(r["seed"]))), {})[str(r["metric"])] = r
    print(
        "| task | n | accuracy [95% CI] | calibrated accuracy | AUROC | predicted True | gold True |"
    )
    print("|---|---|---|---|---|---|---|")
    for (task, _seed), m in by.items():
        acc = m["accuracy"]
        print(
            f"| {task} | {acc['n']} | {pct(acc['value'])} [{pct(acc['ci_low'])}, "
            f"{pct(acc['ci_high'])}] | {pct(m['calibrated_accuracy']['value'])} | "
            f"{num(m['auroc']['value'])} | {pct(m['frac_predicted_true']['value'])} | "
            f"{pct(m['frac_gold_true']['value'])} |"
        )


def pct(x: object) -> str:
    return (
        "n/a"
        if x is None or (isinstance(x, float) and math.isnan(x))
        else f"{100 * float(str(x)):.1f}"
    )


def num(x: object) -> str:
    return "n/a" if x is None else f"{float(str(x)):.3f}"


if __name__ == "__main__":
    main()
