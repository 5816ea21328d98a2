"""Screening: where can in-context labels matter at all? (issue 19, item 2)

For each model, task and seed: test AUROC of zero-shot, golden many-shot and random many-shot
(`elicit eval --methods zero-shot,golden,random`, the same demonstrations with gold or random
labels). ICM has something to find only where golden clearly beats random: the last column,
golden minus random, is the ceiling on what labels found without supervision can add over
chance labels.

    ELICIT_DATA_DIR=../shared/data python benchmarks/screen.py --tasks sst2 --seeds 0,1,2
    python benchmarks/screen.py --report benchmarks/results/screen.jsonl

Defaults: qwen2.5-coder-0.5b-instruct on the llama.cpp backend, 100 test claims, 24
demonstrations (the train pool sampled with the seed), as in the issue's first measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

from bench_common import require_full_data

METHODS = ("zero-shot", "golden", "random")


def run(args: argparse.Namespace) -> None:
    from elicit.backends import load_lm
    from elicit.commands.evaluate import EvalConfig, run_eval

    require_full_data()
    Path(args.rows).parent.mkdir(parents=True, exist_ok=True)
    for model in args.models.split(","):
        lm = load_lm(model, backend=args.backend, progress=False)
        for task in args.tasks.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                out = Path(args.out) / f"{task}-{model}-s{seed}"
                config = EvalConfig(
                    task=task,
                    split="test",
                    n=args.test_n,
                    seed=seed,
                    methods=",".join(METHODS),
                    pool_split="train",
                    pool_n=args.demos,
                    out=str(out),
                    force=True,
                    progress=False,
                    model=model,
                    backend=args.backend,
                )
                start = time.perf_counter()
                summary = run_eval(config, lm=lm)
                rows = [
                    {
                        "benchmark": "screen",
                        "model": model,
                        "backend": args.backend,
                        "task": task,
                        "seed": seed,
                        "method": r.method,
                        "n": r.n,
                        "n_demos": r.n_demos,
                        "skipped": r.skipped,
                        "auroc": r.metrics.get("auroc"),
                        "accuracy": r.metrics.get("accuracy"),
                        "calibrated_accuracy": r.metrics.get("calibrated_accuracy"),
                        # How many of the demos' labels are right (1 for golden).
                        "demo_agreement": (
                            r.demo_agreement.agreement if r.demo_agreement else None
                        ),
                        "seconds": r.seconds,
                    }
                    for r in summary.results
                ]
                with open(args.rows, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(row) + "\n" for row in rows)
                aurocs = {r["method"]: r["auroc"] for r in rows}
                print(
                    f"{model} {task} seed {seed}: AUROC {aurocs} "
                    f"({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
        lm.close()


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def report(path: str) -> None:
    """Markdown: one row per (model, task), mean ± sd over seeds of AUROC per method."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    cell: dict[tuple[str, str], dict[str, dict[int, float]]] = {}
    for r in rows:
        if r["auroc"] is None or math.isnan(r["auroc"]):
            continue
        cell.setdefault((r["model"], r["task"]), {}).setdefault(r["method"], {})[r["seed"]] = r[
            "auroc"
        ]
    print(
        "| model | task | seeds | zero-shot | golden many-shot | random many-shot | golden - random |"
    )
    print("|---|---|---|---|---|---|---|")
    for (model, task), by in cell.items():
        seeds = sorted(set(by.get("golden", {})) & set(by.get("random", {})))
        gaps = [by["golden"][s] - by["random"][s] for s in seeds]
        print(
            f"| {model} | {task} | {len(seeds)} | "
            + " | ".join(_mean_sd(list(by.get(m, {}).values())) for m in METHODS)
            + f" | {_mean_sd(gaps)} |"
        )


def per_seed(path: str) -> None:
    """Markdown: one row per (model, task, seed): AUROC and calibrated accuracy per method,
    and how many of the random demos' labels happen to be right."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    by: dict[tuple[str, str, int], dict[str, dict[str, Any]]] = {}
    for r in rows:
        by.setdefault((r["model"], r["task"], r["seed"]), {})[r["method"]] = r
    print(
        "| model | task | seed | AUROC zero-shot / golden / random | calibrated accuracy "
        "zero-shot / golden / random | random demos labelled right |"
    )
    print("|---|---|---|---|---|---|")
    for (model, task, seed), m in by.items():
        auroc = " / ".join(f"{m[k]['auroc']:.3f}" if k in m else "-" for k in METHODS)
        cal = " / ".join(
            f"{100 * m[k]['calibrated_accuracy']:.0f}" if k in m else "-" for k in METHODS
        )
        agree = m.get("random", {}).get("demo_agreement")
        agree_text = "-" if agree is None else f"{100 * agree:.0f}%"
        print(f"| {model} | {task} | {seed} | {auroc} | {cal} | {agree_text} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--backend", default="llamacpp")
    ap.add_argument("--tasks", default="sst2")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--test-n", type=int, default=100)
    ap.add_argument("--demos", type=int, default=24, help="train pool size = demonstrations")
    ap.add_argument("--out", default="runs/screen")
    ap.add_argument("--rows", default="benchmarks/results/screen.jsonl")
    ap.add_argument("--report", metavar="ROWS", help="only print the table of a rows file")
    args: Any = ap.parse_args()
    if not args.report:
        run(args)
    report(args.report or args.rows)
    print()
    per_seed(args.report or args.rows)


if __name__ == "__main__":
    main()
