"""Fine-tuning on golden, ICM and random labels, and reward models from golden vs ICM labels.

For every classifier task and seed: `elicit label` (ICM on --n training claims, no labels),
then `elicit train` three times on the same claims, with golden, ICM and random labels
(each run also scores the base model zero-shot on the same test claims). For every reward task
and seed: ICM labels on the training pairs, then a Bradley-Terry reward model from golden and
from ICM labels, scored by pairwise accuracy on held-out pairs. Finished runs under --out are
reused, so an interrupted table resumes. Rows are the runs' tidy `ResultRow`s plus `source`
(the run directory), appended to --rows.

    python benchmarks/train_table.py --rows benchmarks/results/train_table.jsonl
    python benchmarks/train_table.py --report benchmarks/results/train_table.jsonl
    # smoke test on the real model: a few claims, 2 steps
    python benchmarks/train_table.py --tasks sst2:8 --reward-tasks alpaca-comparison:4 \\
        --seeds 0 --eval-n 8 --iterations 4 --max-steps 2 --out /tmp/tt --rows /tmp/tt.jsonl

A task is NAME:N (N training claims; for reward tasks N claims = N/2 pairs, groups kept whole).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_common import label_settings

from elicit.commands.label import LabelConfig, run_label
from elicit.commands.train import TrainConfig, run_train
from elicit.models import DEFAULT_MODEL
from elicit.runs import is_finished, read_jsonl

DEFAULT_TASKS = "sst2:128,truthfulqa:128"
DEFAULT_REWARD_TASKS = "alpaca-comparison:128"


def parse_tasks(spec: str) -> list[tuple[str, int]]:
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, n = item.split(":")
        out.append((name, int(n)))
    return out


def label(args: argparse.Namespace, task: str, n: int, seed: int, run: Path) -> Path:
    out = run / "label"
    if not is_finished(out):
        config = LabelConfig(
            task=task,
            split="train",
            n=n,
            seed=seed,
            iterations=args.iterations,
            model=args.model,
            out=str(out),
            resume=(out / "config.json").exists(),
            progress=args.progress,
            **label_settings(args.set),
        )
        run_label(config)
    return out


def train(args: argparse.Namespace, task: str, n: int, seed: int, out: Path, **kw: Any) -> Path:
    if not is_finished(out):
        config = TrainConfig(
            task=task,
            n=n,
            seed=seed,
            model=args.model,
            eval_n=args.eval_n,
            out=str(out),
            resume=(out / "config.json").exists(),
            progress=args.progress,
            save_model=False,  # ~1 GB per run for gemma-3-270m; the table needs the rows only
            epochs=args.epochs,
            max_steps=args.max_steps,
            train_batch_size=args.batch_size,
            grad_accum=args.grad_accum,
            lr=args.lr,
            **kw,
        )
        run_train(config)
    return out


def run_table(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    root = Path(args.out)
    runs: list[Path] = []
    seeds = [int(s) for s in args.seeds.split(",")]
    for objective, tasks in (("word", args.tasks), ("reward", args.reward_tasks)):
        for task, n in parse_tasks(tasks):
            for seed in seeds:
                run = root / f"{task}-n{n}-s{seed}"
                icm = label(args, task, n, seed, run)
                sources: list[tuple[str, dict[str, Any]]] = [
                    ("golden", {"label_source": "golden"}),
                    ("icm", {"labels": str(icm)}),
                ]
                if objective == "word":
                    sources.append(("random", {"label_source": "random"}))
                for i, (name, kw) in enumerate(sources):
                    # The base model's zero-shot row once per task and seed.
                    runs.append(
                        train(
                            args,
                            task,
                            n,
                            seed,
                            run / f"{objective}-{name}",
                            objective=objective,
                            eval_before=i == 0,
                            **kw,
                        )
                    )
    rows = [{**r, "source": str(p)} for p in runs for r in read_jsonl(p / "results.jsonl")]
    Path(args.rows).parent.mkdir(parents=True, exist_ok=True)
    with open(args.rows, "a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))
    print(report(args.rows))


def _fmt(values: list[float]) -> str:
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def report(path: str, metric_of_classifiers: str = "accuracy") -> str:
    """Markdown tables: test accuracy (or `metric_of_classifiers`: calibrated_accuracy, auroc)
    of the classifiers and pairwise accuracy of the reward models, mean ± sd over seeds."""
    cells: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    seen: set[tuple[str, str, str, int, str]] = set()
    for r in read_jsonl(path):
        metric = r["metric"]
        if metric not in (metric_of_classifiers, "pairwise_accuracy") or r["value"] is None:
            continue
        key = (r["task"], r["method"], metric, r["seed"], r["source"])
        if key in seen:  # a rerun appended the same rows again
            continue
        seen.add(key)
        cells[(r["task"], r["method"], metric)].append(float(r["value"]))
    out = []
    for metric, methods in (
        (
            metric_of_classifiers,
            ["zero-shot", "finetune-golden", "finetune-icm", "finetune-random"],
        ),
        ("pairwise_accuracy", ["zero-shot", "reward-golden", "reward-icm"]),
    ):
        tasks = sorted({t for t, _, m in cells if m == metric})
        if not tasks:
            continue
        n_seeds = max(len(v) for (t, _, m), v in cells.items() if m == metric)
        out.append(f"{metric} (%), mean ± sd over up to {n_seeds} seeds\n")
        out.append("| task | " + " | ".join(methods) + " |")
        out.append("|---" * (len(methods) + 1) + "|")
        for t in tasks:
            out.append(
                f"| {t} | " + " | ".join(_fmt(cells[(t, m, metric)]) for m in methods) + " |"
            )
        out.append("")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tasks", default=DEFAULT_TASKS, help="classifier tasks, NAME:N,...")
    p.add_argument(
        "--reward-tasks", default=DEFAULT_REWARD_TASKS, help="comparison tasks, NAME:N,..."
    )
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--eval-n", type=int, default=200, help="test claims per task and seed")
    p.add_argument("--iterations", type=int, default=None, help="ICM iterations (default: paper's)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        help="label option KEY=VALUE for the ICM runs (as icm_table.py's --set; pass the same "
        "--out as icm_table.py's variant directory to reuse its runs)",
    )
    p.add_argument("--out", default="runs/train_table")
    p.add_argument("--rows", default="benchmarks/results/train_table.jsonl")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--report", metavar="ROWS", help="only print the tables of a rows file")
    p.add_argument(
        "--metric",
        default="accuracy",
        choices=["accuracy", "calibrated_accuracy", "auroc"],
        help="with --report: the classifiers' metric",
    )
    args = p.parse_args()
    if args.report:
        print(report(args.report, args.metric))
    else:
        run_table(args)


if __name__ == "__main__":
    main()
