"""LMSI before/after on several question sets and seeds: the table in docs/RESULTS.md.

For every task and seed, `elicit self-improve` (sample paths on unlabeled train questions,
majority vote, four-format training set, LoRA fine-tune, greedy and self-consistency accuracy
on held-out questions before and after). The base model is loaded once for sampling; each
fine-tune loads its own copy. Finished runs under --out are reused, so an interrupted table
resumes. Rows are the runs' tidy `ResultRow`s plus the run's settings, appended to --rows.

    python benchmarks/self_improve.py --tasks arithmetic:64:50,gsm8k:64:50 --seeds 0 \\
        --rows benchmarks/results/self_improve.jsonl          # hours on a 2-core CPU
    python benchmarks/self_improve.py --report benchmarks/results/self_improve.jsonl

A task is NAME:N:TEST_N. `--threads 1` keeps a second core free on a shared machine.
Measuring what the base model can do at all (no training) is `--no-finetune` at tiny sizes:

    python benchmarks/self_improve.py --tasks arithmetic:20:20 --paths 4 --eval-paths 4 \\
        --shots 4 --max-new-tokens 40 --no-finetune --threads 1 --rows /tmp/measure.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from elicit.commands.selfimprove import SelfImproveConfig, run_self_improve
from elicit.evaluation.metrics import paired_gain
from elicit.models import DEFAULT_MODEL
from elicit.runs import is_finished, read_jsonl

COLUMNS = (
    ("greedy", "accuracy", "greedy before"),
    ("lmsi-greedy", "accuracy", "greedy after"),
    ("self-consistency", "accuracy", "SC before"),
    ("lmsi-self-consistency", "accuracy", "SC after"),
    ("lmsi-self-consistency", "gain", "SC gain [95% CI]"),
    ("lmsi-self-consistency", "mcnemar_p", "McNemar p"),
    ("majority-vote", "label_accuracy", "majority = gold (train)"),
    ("majority-vote", "mean_agreement", "mean agreement"),
)


def parse_tasks(spec: str) -> list[tuple[str, int, int]]:
    out = []
    for item in spec.split(","):
        name, n, test_n = item.strip().split(":")
        out.append((name, int(n), int(test_n)))
    return out


def run(args: argparse.Namespace) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from elicit.backends import load_lm

    lm = load_lm(args.model, args.backend, batch_size=args.lm_batch_size, progress=False)
    # Runs of the default model keep their old directory names, so finished ones are reused.
    model_tag = "" if args.model == DEFAULT_MODEL else f"{args.model}-"
    rows_path = Path(args.rows)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    for task, n, test_n in parse_tasks(args.tasks):
        for seed in (int(s) for s in args.seeds.split(",")):
            config = SelfImproveConfig(
                task=task,
                n=n,
                test_n=test_n,
                seed=seed,
                model=args.model,
                backend=args.backend,
                lm_batch_size=args.lm_batch_size,
                shots=args.shots,
                paths=args.paths,
                eval_paths=args.eval_paths,
                temperature=args.temperature,
                max_new_tokens=args.max_new_tokens,
                finetune=args.finetune,
                epochs=args.epochs,
                progress=False,
                out=str(Path(args.out) / f"{task}-{model_tag}n{n}-t{test_n}-s{seed}"),
            )
            out = config.out_dir()
            start = time.perf_counter()
            if is_finished(out):
                rows = read_jsonl(out / "results.jsonl")
            else:
                rows = [r.to_dict() for r in run_self_improve(config, lm=lm).rows]
            seconds = time.perf_counter() - start
            settings = {
                "model": args.model,
                "backend": args.backend,
                "shots": args.shots,
                "paths": args.paths,
                "eval_paths": args.eval_paths,
                "temperature": args.temperature,
                "max_new_tokens": args.max_new_tokens,
                "finetune": args.finetune,
                "epochs": args.epochs,
                "run": str(out),
                "seconds": seconds,
            }
            with rows_path.open("a", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(json.dumps({**r, **settings}) + "\n")
            print(f"{task} seed {seed}: {len(rows)} rows in {seconds:.0f} s -> {rows_path}")
    lm.close()


def gains_of_older_runs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gain rows (`paired_gain` on the run's predictions.jsonl) for runs written before
    `elicit self-improve` wrote them itself: the same numbers the command now reports."""
    have = {r.get("run") for r in rows if r["metric"] == "gain"}
    added = []
    for r in rows:
        run = r.get("run")
        sc_after = r["method"] == "lmsi-self-consistency" and r["metric"] == "accuracy"
        if not sc_after or not isinstance(run, str) or run in have:
            continue
        have.add(run)
        path = Path(run) / "predictions.jsonl"
        if not path.exists():
            continue
        right: dict[str, dict[str, bool]] = defaultdict(dict)
        for p in read_jsonl(path):
            if p["decoding"] == "self-consistency":
                right[p["stage"]][p["uid"]] = p["majority"] == p["gold"]
        uids = [u for u in right["before"] if u in right["after"]]
        g = paired_gain([right["before"][u] for u in uids], [right["after"][u] for u in uids])
        common = {**r, "n": g.n}
        added.append({**common, "metric": "gain", "value": g.gain, "ci_low": g.ci.low,
                      "ci_high": g.ci.high})  # fmt: skip
        added.append({**common, "metric": "mcnemar_p", "value": g.p_value, "ci_low": None,
                      "ci_high": None})  # fmt: skip
    return added


def _cell(rows: list[dict[str, Any]], metric: str) -> str:
    """One seed: the value (a gain with its interval, a p-value as is); several: mean ± sd."""
    if not rows:
        return "-"
    if metric == "mcnemar_p":
        return ", ".join(f"{r['value']:.2g}" for r in rows)
    v = [100 * float(r["value"]) for r in rows]
    if len(v) > 1:
        return f"{statistics.mean(v):+.1f} ± {statistics.stdev(v):.1f} ({len(v)})"
    if metric == "gain":
        return f"{v[0]:+.1f} [{100 * rows[0]['ci_low']:+.1f}, {100 * rows[0]['ci_high']:+.1f}]"
    return f"{v[0]:.1f}"


def report(path: str) -> str:
    """Markdown table: one line per (model, task, paths, eval paths), mean ± sd over seeds."""
    cells: dict[tuple[str, str, int, int], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    rows = [r for r in read_jsonl(path) if r.get("value") is not None]
    for r in [*rows, *gains_of_older_runs(rows)]:
        cell = cells[(r.get("model", DEFAULT_MODEL), r["task"], r["paths"], r["eval_paths"])]
        cell[f"{r['method']}/{r['metric']}"].append(r)
    header = ["model", "task", "paths / eval paths", *(c[2] for c in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (model, task, paths, eval_paths), values in sorted(cells.items()):
        row = [model, task, f"{paths} / {eval_paths}"]
        row += [
            _cell(values.get(f"{method}/{metric}", []), metric) for method, metric, _ in COLUMNS
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tasks", default="arithmetic:64:50,gsm8k:64:50")
    p.add_argument("--seeds", default="0")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--backend", default="auto", help="hf, llamacpp or auto (sampling and eval)")
    p.add_argument("--lm-batch-size", type=int, default=16)
    p.add_argument("--shots", type=int, default=4)
    p.add_argument("--paths", type=int, default=32)
    p.add_argument("--eval-paths", type=int, default=32)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--finetune", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument("--out", default="runs/bench-self-improve")
    p.add_argument("--rows", default="benchmarks/results/self_improve.jsonl")
    p.add_argument("--report", metavar="ROWS", help="print the markdown table of a rows file")
    args = p.parse_args()
    if args.report:
        print(report(args.report))
    else:
        run(args)


if __name__ == "__main__":
    main()
