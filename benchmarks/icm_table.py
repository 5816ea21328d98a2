"""ICM against its baselines on several tasks and seeds: the table in docs/RESULTS.md.

For every task and seed: `elicit label` (ICM on a pool of training claims, no labels), then
`elicit eval` on held-out test claims with zero-shot, zero-shot chat and many-shot prompting
with golden, random and the ICM labels (the same demos, only the labels differ). One model is
loaded once and shared; finished runs under --out are reused, so an interrupted table resumes.

    python benchmarks/icm_table.py --rows benchmarks/results/icm_table.jsonl
    python benchmarks/icm_table.py --report benchmarks/results/icm_table.jsonl

A task is NAME:POOL:ITERATIONS. Extra search settings go to every label run as KEY=VALUE
(`--set mp=mean --set loo_order=given`) and are recorded in each row as the `variant`, so
variants of the search can be compared on the same pools and test claims.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_common import label_settings, variant_name

from elicit.backends import load_lm
from elicit.commands.evaluate import EvalConfig, run_eval
from elicit.commands.label import LabelConfig, run_label
from elicit.labels import read_labels
from elicit.models import DEFAULT_MODEL
from elicit.runs import is_finished, read_jsonl

DEFAULT_TASKS = "sst2:32:96,truthfulqa:32:96,gsm8k-verification:16:48,alpaca-comparison:16:48"
METHODS = "zero-shot,zero-shot-chat,golden,random"
#: With --majority: the majority-vote labels of the same pool as one more many-shot method.
MAJORITY = "majority-vote"


def parse_tasks(spec: str) -> list[tuple[str, int, int]]:
    out = []
    for item in spec.split(","):
        name, n, iterations = item.strip().split(":")
        out.append((name, int(n), int(iterations)))
    return out


def run_table(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    settings = label_settings(args.set)
    variant = variant_name(settings)
    lm = load_lm(args.model, backend=args.backend, batch_size=args.batch_size)
    out_root = Path(args.out) / variant.replace("=", "-").replace(",", "_")
    for task, n, iterations in parse_tasks(args.tasks):
        for seed in [int(s) for s in args.seeds.split(",")]:
            run = out_root / f"{task}-n{n}-s{seed}"
            start = time.perf_counter()
            # Flat keywords of the nested search config (iterations, --set's): composed at run time.
            options: dict[str, Any] = dict(
                task=task,
                split="train",
                n=n,
                seed=seed,
                iterations=iterations,
                out=str(run / "label"),
                resume=(run / "label" / "config.json").exists(),
                progress=args.progress,
                model=args.model,
                backend=args.backend,
                **settings,
            )
            label_config = LabelConfig(**options)
            if is_finished(run / "label"):
                metrics = json.loads((run / "label" / "metrics.json").read_text("utf-8"))
            else:
                metrics = run_label(label_config, lm=lm).metrics.to_dict()
            label_seconds = time.perf_counter() - start
            labels = read_labels(run / "label")
            # What every row of this (task, seed) carries: the run and its ICM outcome.
            common = {
                "task": task,
                "model": lm.name,
                "variant": variant,
                "seed": seed,
                "pool": n,
                "iterations": iterations,
                "icm_n_labelled": len(labels),
                "icm_agreement": metrics.get("agreement"),
                "icm_inconsistencies": metrics.get("inconsistencies"),
                "label_seconds": label_seconds,
            }
            if args.label_only:
                row = {**common, "method": "icm-labels", "icm_energy": metrics.get("energy")}
                with open(args.rows, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{task} seed {seed} [{variant}]: {row}", flush=True)
                continue
            eval_config = EvalConfig(
                task=task,
                split="test",
                n=args.test_n,
                seed=seed,
                methods=METHODS + (f",{MAJORITY}" if args.majority else ""),
                labels=f"icm={run / 'label'}",
                pool_split="train",
                out=str(run / "eval"),
                force=True,
                progress=args.progress,
                model=args.model,
                backend=args.backend,
                **({"chat_model": args.chat_model} if args.chat_model else {}),
            )
            summary = run_eval(eval_config, lm=lm)
            rows = []
            for r in summary.results:
                m = r.metrics
                rows.append(
                    {
                        **common,
                        "method": r.method,
                        "n": r.n,
                        "n_demos": r.n_demos,
                        "skipped": r.skipped,
                        "accuracy": m.get("accuracy"),
                        "calibrated_accuracy": m.get("calibrated_accuracy"),
                        "auroc": m.get("auroc"),
                        "label_agreement": (
                            r.label_agreement.agreement if r.label_agreement else None
                        ),
                    }
                )
            with open(args.rows, "a", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row) + "\n")
            acc = {r["method"]: r["accuracy"] for r in rows}
            print(
                f"{task} seed {seed}: ICM labelled {len(labels)}/{n}, agreement "
                f"{metrics.get('agreement')}, accuracies {acc} "
                f"({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


def _fmt(values: list[float | None], scale: float = 100.0) -> str:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return "-"
    mean = statistics.fmean(vals) * scale
    if len(vals) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {statistics.stdev(vals) * scale:.1f}"


def latest_rows(path: str) -> dict[tuple[str, str, int, str], dict[str, Any]]:
    """The rows of `path` by (variant, task, seed, method); the last one wins, so reruns
    replace earlier ones."""
    return {(r["variant"], r["task"], r["seed"], r["method"]): r for r in read_jsonl(path)}


def report(path: str, metric: str) -> str:
    """Markdown: one row per (variant, task), mean ± sd over seeds of `metric` per method."""
    latest = latest_rows(path)
    cells: dict[tuple[str, str], dict[str, list[float | None]]] = defaultdict(
        lambda: defaultdict(list)
    )
    seeds: dict[tuple[str, str], set[int]] = defaultdict(set)
    sizes: dict[tuple[str, str], str] = {}
    for (variant, task, seed, method), r in latest.items():
        key = (variant, task)
        seeds[key].add(seed)
        sizes[key] = f"{r['pool']} / {r['iterations']} / {r.get('n', '-')}"
        cells[key][method].append(r.get(metric))
        if method in ("icm", "icm-labels"):
            cells[key]["icm agreement"].append(r["icm_agreement"])
            cells[key]["labelled"].append(r["icm_n_labelled"] / r["pool"])
    methods = ["zero-shot", "zero-shot-chat", "golden", "random", MAJORITY, "icm"]
    head = ["task", "variant", "pool / iterations / test n", "seeds", *methods]
    head += ["ICM labels = gold", "ICM labelled"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (variant, task), by_method in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        vals = [_fmt(by_method.get(m, [])) for m in methods]
        lines.append(
            "| "
            + " | ".join(
                [
                    task,
                    variant,
                    sizes[(variant, task)],
                    str(len(seeds[(variant, task)])),
                    *vals,
                    _fmt(by_method.get("icm agreement", [])),
                    _fmt(by_method.get("labelled", [])),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def plot(path: str, metric: str, png: str) -> str:
    """The paper's Figure 1 layout: one panel per (task, variant), a bar per method (mean over
    seeds, sd as the error bar, each seed a dot)."""
    from matplotlib.figure import Figure

    from elicit.evaluation.plots import BLUE, COLOURS, save_figure

    latest = latest_rows(path)
    panels: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (variant, task, _, method), r in latest.items():
        if r.get(metric) is not None:
            panels[(task, variant)][method].append(100 * float(r[metric]))
    if not panels:
        raise SystemExit(f"{path} has no {metric} rows to plot")
    methods = ["zero-shot", "zero-shot-chat", "golden", "random", MAJORITY, "icm"]
    fig = Figure(figsize=(4.2 * len(panels), 3.6), dpi=110)
    for k, ((task, variant), by_method) in enumerate(sorted(panels.items())):
        ax = fig.add_subplot(1, len(panels), k + 1)
        shown = [m for m in methods if by_method.get(m)]
        for x, m in enumerate(shown):
            values = by_method[m]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            ax.bar(x, statistics.fmean(values), yerr=sd, capsize=3,
                   color=COLOURS.get(m, BLUE))  # fmt: skip
            ax.plot([x] * len(values), values, "k.", markersize=3)
        ax.set_xticks(range(len(shown)), shown, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(40 if metric != "accuracy" else 0, 100)
        ax.set_ylabel(metric.replace("_", " ") + " (%)")
        ax.set_title(f"{task} ({variant})", fontsize=8)
    fig.tight_layout()
    return str(save_figure(fig, png))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--backend", default="auto", help="hf, llamacpp, openai or auto")
    ap.add_argument("--chat-model", default=None, help="zero-shot-chat model (default: eval's)")
    ap.add_argument(
        "--majority", action="store_true", help="also majority-vote labels as a many-shot method"
    )
    ap.add_argument("--tasks", default=DEFAULT_TASKS, help="NAME:POOL:ITERATIONS,...")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--test-n", type=int, default=100)
    ap.add_argument("--set", action="append", default=[], help="label option KEY=VALUE")
    ap.add_argument("--out", default="runs/table")
    ap.add_argument("--rows", default="benchmarks/results/icm_table.jsonl")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--label-only", action="store_true", help="run ICM only, no evaluation")
    ap.add_argument("--report", metavar="ROWS", help="print the markdown table of ROWS and exit")
    ap.add_argument("--plot", metavar="PNG", help="with --report: also draw the Figure 1 bars")
    ap.add_argument(
        "--metric",
        default="calibrated_accuracy",
        choices=["accuracy", "calibrated_accuracy", "auroc"],
    )
    args = ap.parse_args()
    if args.report:
        print(report(args.report, args.metric))
        if args.plot:
            print(plot(args.report, args.metric, args.plot))
        return
    run_table(args)


if __name__ == "__main__":
    main()
