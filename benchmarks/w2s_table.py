"""Weak-to-strong on several tasks and seeds: the table and figure in docs/RESULTS.md and W2S.md.

For every task and seed, one `elicit w2s` run (weak supervisor -> strong student, students per
loss, ceiling), its tidy rows appended to --rows with the run's settings. `--report` prints the
markdown table (mean ± sd over seeds of test accuracy per method, and PGR with a stability
flag from `w2s.pgr.pgr_summary`), `--plot` draws accuracy and PGR bars.

    python benchmarks/w2s_table.py --tasks sst2,ethics-commonsense,hh-comparison --seeds 0,1,2 \
        --objective probe --rows benchmarks/results/w2s_table.jsonl
    python benchmarks/w2s_table.py --report benchmarks/results/w2s_table.jsonl \
        --plot docs/figures/w2s_table.png

`--size-plot PNG` (with --report, --weak and --size-task) draws the paper's headline figure
instead: accuracy and PGR against the strong student's size, for the students in `SIZES`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from elicit.commands.w2s import W2SConfig, run_w2s
from elicit.models import DEFAULT_MODEL
from elicit.runs import is_finished, read_jsonl
from elicit.w2s.pgr import pgr_summary

METHODS = ("weak", "strong-zero-shot", "w2s-xent", "w2s-confidence", "ceiling")

#: Parameters of the strong students, from their model cards (Gemma 3 270M: 268M; Qwen2.5
#: 0.5B: 0.49B, 1.5B: 1.54B, embeddings included): the x axis of --size-plot.
SIZES = {
    "gemma-3-270m": 268e6,
    "qwen2.5-coder-0.5b-instruct": 494e6,
    "qwen2.5-coder-1.5b-instruct": 1.54e9,
}


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "weak": args.weak,
        "strong": args.strong,
        "objective": args.objective,
        "n": args.n,
        "test_n": args.test_n,
        "losses": args.losses,
    }


def run_table(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    common = settings(args)
    for task in args.tasks.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            name = f"{task}-{args.weak.replace(':', '-').replace('/', '_')}-{args.objective}"
            if args.strong != DEFAULT_MODEL:  # runs of the default student keep their names
                name += f"-to-{args.strong.replace(':', '-').replace('/', '_')}"
            out = Path(args.out) / f"{name}-n{args.n}-s{seed}"
            if not is_finished(out):
                run_w2s(W2SConfig(task=task, seed=seed, out=str(out), progress=args.progress,
                                  **common))  # fmt: skip
            rows = read_jsonl(out / "results.jsonl")
            with open(args.rows, "a", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps({**r, **common}) + "\n")
            acc = {r["method"]: round(r["value"], 3) for r in rows if r["metric"] == "accuracy"}
            print(f"{task} seed {seed}: {acc}", flush=True)


def _fmt(values: list[float], scale: float = 100.0) -> str:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return "-"
    mean = statistics.fmean(vals) * scale
    return f"{mean:.1f}" if len(vals) == 1 else f"{mean:.1f} ± {statistics.stdev(vals) * scale:.1f}"


def report(path: str, metric: str = "accuracy") -> str:
    rows = read_jsonl(path)
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:  # a rerun replaces earlier rows of the same run
        if r.get("split", "test") != "test" or r.get("step") is not None:
            continue  # easy-to-hard subsets and training curves are other views of a run
        key = (r["task"], r["weak"], r["strong"], r["objective"], r["n"], r["seed"], r["method"],
               r["metric"])  # fmt: skip
        latest[key] = r
    table: dict[tuple[Any, ...], dict[str, dict[int, float]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for (task, weak, strong, objective, n, seed, method, m), r in latest.items():
        table[(task, weak, strong, objective, n)][f"{method}/{m}"][seed] = r["value"]
    losses = ("xent", "confidence")
    head = ["task", "weak -> strong (objective)", "n", "seeds",
            *METHODS, *(f"PGR {loss}" for loss in losses)]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, weak, strong, objective, n), cells in sorted(table.items()):
        seeds = sorted(cells.get(f"ceiling/{metric}", {}))
        row = [task, f"{weak} -> {strong} ({objective})", str(n), str(len(seeds))]
        row += [
            _fmt([cells.get(f"{m}/{metric}", {}).get(s, math.nan) for s in seeds]) for m in METHODS
        ]
        for loss in losses:
            w2s = cells.get(f"w2s-{loss}/{metric}", {})
            weak_cells = cells.get(f"weak/{metric}", {})
            if not w2s or not weak_cells:
                row.append("-")
                continue
            summary = pgr_summary(
                [weak_cells[s] for s in seeds], [w2s[s] for s in seeds],
                [cells[f"ceiling/{metric}"][s] for s in seeds],
            )  # fmt: skip
            text = _fmt(list(summary.values))
            row.append(text + (" (unstable)" if summary.unstable else ""))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Student-supervisor agreement on the test claims (%), split by whether the "
              "supervisor was right:", ""]  # fmt: skip
    head = ["task", "weak", "strong", "student", "all", "supervisor right", "supervisor wrong"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, weak, strong, *_), cells in sorted(table.items()):
        for loss in losses:
            values = [cells.get(f"w2s-{loss}/{m}", {}) for m in
                      ("agreement", "agreement_supervisor_right", "agreement_supervisor_wrong")]  # fmt: skip
            if values[0]:
                row = [task, weak, strong, f"w2s-{loss}", *(_fmt(list(v.values())) for v in values)]
                lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def size_plot(path: str, weak: str, task: str, png: str, metric: str) -> Path:
    """Accuracy and PGR of the students of one supervisor on one task against their size."""
    from elicit.w2s.plots import plot_sizes

    rows = [r for r in read_jsonl(path) if r.get("weak") == weak and r["task"] == task]
    strong = sorted({str(r.get("strong")) for r in rows} & set(SIZES), key=SIZES.__getitem__)
    if len(strong) < 2:
        raise SystemExit(
            f"{path} has {len(strong)} strong student(s) of known size for weak {weak!r} on "
            f"{task} ({', '.join(strong) or 'none'}); a size plot needs two of {', '.join(SIZES)}"
        )
    title = f"{task}: {weak} supervises students of growing size"
    return plot_sizes(rows, png, SIZES, title, metric)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", default="sst2,ethics-commonsense,hh-comparison")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--weak", default="tfidf")
    ap.add_argument("--strong", default=DEFAULT_MODEL)
    ap.add_argument("--objective", default="probe", choices=["word", "linear", "probe"])
    ap.add_argument("--losses", default="xent,confidence")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--test-n", type=int, default=200)
    ap.add_argument("--out", default="runs/w2s_table")
    ap.add_argument("--rows", default="benchmarks/results/w2s_table.jsonl")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--report", metavar="ROWS", help="print the markdown table of ROWS and exit")
    ap.add_argument("--metric", default="accuracy", choices=["accuracy", "auroc"])
    ap.add_argument("--plot", metavar="PNG", help="with --report: also draw the figure")
    ap.add_argument("--size-plot", metavar="PNG",
                    help="with --report: accuracy and PGR against the strong student's size, "
                    "for --weak on --size-task")  # fmt: skip
    ap.add_argument("--size-task", default="sst2", help="the task of --size-plot")
    args = ap.parse_args()
    if args.report and args.size_plot:
        print(size_plot(args.report, args.weak, args.size_task, args.size_plot, args.metric))
        return
    if args.report:
        print(report(args.report, args.metric))
        if args.plot:
            from elicit.w2s.plots import plot_table

            # One supervisor per figure (--weak), so bars of different pairs never mix.
            every = read_jsonl(args.report)
            rows = [r for r in every if r.get("weak") == args.weak]
            if not rows:
                present = sorted({str(r.get("weak")) for r in every})
                raise SystemExit(
                    f"{args.report} has no rows with weak supervisor {args.weak!r}; pass --weak "
                    f"with one of: {', '.join(present)}"
                )
            print(plot_table(rows, args.plot))
        return
    run_table(args)


if __name__ == "__main__":
    main()
