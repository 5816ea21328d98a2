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

Random labels are coin flips seeded by the seed alone (`baselines.random_labels`), so every
task's seed 0 gets the same label sequence: three seeds are three labellings. `--random-draws
R` adds R - 1 more random labellings of the same demos per seed (method `random-dK`, coin
flips seeded by 1000 k + seed) and the report's random column averages over all of them.

    python benchmarks/screen.py --tasks sst2 --seeds 0,1,2 --random-draws 5
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
                if args.draws_only and (out / "demos.jsonl").is_file():
                    rows = [
                        random_draw(lm, config, out, model, args, seed, k)
                        for k in range(1, args.random_draws)
                    ]
                    with open(args.rows, "a", encoding="utf-8") as f:
                        f.writelines(json.dumps(row) + "\n" for row in rows)
                    continue
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
                for k in range(1, args.random_draws):
                    rows.append(random_draw(lm, config, out, model, args, seed, k))
                with open(args.rows, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(row) + "\n" for row in rows)
                aurocs = {r["method"]: r["auroc"] for r in rows}
                print(
                    f"{model} {task} seed {seed}: AUROC {aurocs} "
                    f"({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
        lm.close()


def random_draw(
    lm: Any, config: Any, out: Path, model: str, args: argparse.Namespace, seed: int, k: int
) -> dict[str, Any]:
    """One more random labelling of the seed's demos (`demos.jsonl` of its run), as a row."""
    import dataclasses

    from elicit.commands.evaluate import run_eval
    from elicit.evaluation.baselines import random_labels
    from elicit.labels import write_labels

    demos = [json.loads(line) for line in (out / "demos.jsonl").read_text("utf-8").splitlines()]
    uids = [d["uid"] for d in demos]
    name = f"random-d{k}"
    labels_file = Path(args.out) / "random-draws" / f"{out.name}-{name}.jsonl"
    labels_file.parent.mkdir(parents=True, exist_ok=True)
    write_labels(labels_file, random_labels(uids, 1000 * k + seed))
    draw = dataclasses.replace(
        config, methods="", labels=f"{name}={labels_file}", out=str(out) + f"-{name}"
    )
    (r,) = run_eval(draw, lm=lm).results
    return {
        "benchmark": "screen",
        "model": model,
        "backend": args.backend,
        "task": config.task,
        "seed": seed,
        "method": name,
        "n": r.n,
        "n_demos": r.n_demos,
        "skipped": r.skipped,
        "auroc": r.metrics.get("auroc"),
        "accuracy": r.metrics.get("accuracy"),
        "calibrated_accuracy": r.metrics.get("calibrated_accuracy"),
        "demo_agreement": r.demo_agreement.agreement if r.demo_agreement else None,
        "seconds": r.seconds,
    }


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
    draws: dict[tuple[str, str, int], dict[str, float]] = {}
    for r in rows:
        if r["auroc"] is None or math.isnan(r["auroc"]):
            continue
        if r["method"].startswith("random"):  # the seed's own draw and any extra ones
            draws.setdefault((r["model"], r["task"], r["seed"]), {})[r["method"]] = r["auroc"]
            continue
        cell.setdefault((r["model"], r["task"]), {}).setdefault(r["method"], {})[r["seed"]] = r[
            "auroc"
        ]
    for (model, task, seed), by_draw in draws.items():
        mean = statistics.fmean(by_draw.values())
        cell.setdefault((model, task), {}).setdefault("random", {})[seed] = mean
    print(
        "| model | task | seeds | zero-shot | golden many-shot | random many-shot "
        "(mean of the seed's draws) | golden - random |"
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
        "zero-shot / golden / random | random demos labelled right | AUROC of more random "
        "draws (labelled right) |"
    )
    print("|---|---|---|---|---|---|---|")
    for (model, task, seed), m in by.items():
        auroc = " / ".join(f"{m[k]['auroc']:.3f}" if k in m else "-" for k in METHODS)
        cal = " / ".join(
            f"{100 * m[k]['calibrated_accuracy']:.0f}" if k in m else "-" for k in METHODS
        )
        agree = m.get("random", {}).get("demo_agreement")
        agree_text = "-" if agree is None else f"{100 * agree:.0f}%"
        extra = sorted((k, r) for k, r in m.items() if k.startswith("random-d"))
        extra_text = (
            ", ".join(
                f"{r['auroc']:.3f} ({100 * r['demo_agreement']:.0f}%)"
                if r["demo_agreement"] is not None
                else f"{r['auroc']:.3f}"
                for _, r in extra
            )
            or "-"
        )
        print(f"| {model} | {task} | {seed} | {auroc} | {cal} | {agree_text} | {extra_text} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--backend", default="llamacpp")
    ap.add_argument("--tasks", default="sst2")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--test-n", type=int, default=100)
    ap.add_argument("--demos", type=int, default=24, help="train pool size = demonstrations")
    ap.add_argument(
        "--random-draws", type=int, default=1, help="random labellings per seed (see above)"
    )
    ap.add_argument(
        "--draws-only", action="store_true", help="only the extra draws, for seeds already run"
    )
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
