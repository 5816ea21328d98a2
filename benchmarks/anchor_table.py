"""Test accuracy against the number of known labels: golden-only many-shot, pure ICM and
anchored ICM, with 0, 8, 32 and 128 anchors (issue 9). The table and plot in docs/RESULTS.md.

For each task and seed:

    pool      P training claims (`elicit label --n P --seed S`): the unlabelled claims
    anchors   k gold-labelled training claims from outside the pool, whole consistency groups
              taken in a seeded order (k = 0, 8, 32, 128; groups that would overshoot k are
              skipped, so there are exactly k and no group is split)
    test      T test claims (`elicit eval --n T --seed S`)

Methods, all scored on the same test claims by many-shot prompting (`elicit eval --labels`):

    golden-k        the k anchors alone as demonstrations (k = 0: zero-shot)
    icm             ICM on the pool with no labels; its labels as demonstrations (one run per
                    seed, the same for every k)
    anchored-k      ICM on the pool with the k anchors frozen as context demonstrations
                    (`--anchors --anchor-weight inf --anchor-mode context`); demonstrations:
                    the anchors plus the search's own labels

Rows also record the agreement with gold of the labels each search chose itself, and at 25, 50
and 75% coverage when only the most confident of them are kept (`--confidence`).

    python benchmarks/anchor_table.py --tasks sst2,truthfulqa --seeds 0,1,2 \
        --rows benchmarks/results/anchor_table.jsonl
    python benchmarks/anchor_table.py --report benchmarks/results/anchor_table.jsonl \
        --plot docs/figures/anchor_table.png
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from anchors import COVERAGES, coverage_curve
from bench_common import add_run_arguments, anchors_file, run_seeds

from elicit.backends import load_lm
from elicit.commands.evaluate import EvalConfig, run_eval
from elicit.commands.label import LabelConfig, run_label
from elicit.runs import is_finished, read_jsonl
from elicit.tasks import load_task, sample
from elicit.tasks.base import LoadOptions, TaskData

_LM: dict[str, Any] = {}


def choose_anchors(full: TaskData, pool: TaskData, k: int, seed: int) -> dict[str, int]:
    """k gold labels of training claims outside `pool`: whole groups in a seeded order, a
    group skipped when it would overshoot k."""
    in_pool = {ex.uid for ex in pool.examples}
    groups: dict[str, list[str]] = defaultdict(list)
    for ex in full.examples:
        if ex.uid not in in_pool:
            groups[ex.group].append(ex.uid)
    order = sorted(groups)
    random.Random(f"anchor-table-{full.task}-{seed}").shuffle(order)
    chosen: list[str] = []
    for g in order:
        if len(chosen) == k:
            break
        if len(chosen) + len(groups[g]) <= k:
            chosen.extend(groups[g])
    if len(chosen) < k:
        raise SystemExit(f"{full.task}: cannot choose {k} anchors outside the pool")
    return {uid: full.gold[uid] for uid in chosen}


def label(args: argparse.Namespace, lm: Any, task: str, seed: int, out: Path, anchors: str | None):
    """`elicit label` on the pool (with anchors as context demos); its metrics and rows."""
    if not is_finished(out):
        run_label(
            LabelConfig(
                task=task, split="train", n=args.pool, seed=seed, iterations=args.iterations,
                out=str(out), resume=(out / "config.json").exists(), progress=args.progress,
                model=args.model, confidence=True, anchors=anchors,
                anchor_weight=math.inf, anchor_mode="context",
            ),
            lm=lm,
        )  # fmt: skip
    return json.loads((out / "metrics.json").read_text("utf-8")), read_jsonl(out / "labels.jsonl")


def run_seed(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    if args.model not in _LM:
        _LM[args.model] = load_lm(args.model, batch_size=args.batch_size)
    lm = _LM[args.model]
    rows: list[dict[str, Any]] = []
    counts = [int(k) for k in args.anchors.split(",")]
    for task in args.tasks.split(","):
        full = load_task(task, LoadOptions(split="train"))
        pool = sample(full, args.pool, seed, keep_groups=True)
        run = Path(args.out) / f"{task}-p{args.pool}-i{args.iterations}-s{seed}"
        sources: dict[str, str] = {}
        searches: dict[str, dict[str, Any]] = {}
        for k in counts:
            start = time.perf_counter()
            anchors = choose_anchors(full, pool, k, seed) if k else {}
            path = anchors_file(run / f"golden-{k}", anchors)
            name = f"anchored-{k}" if k else "icm"
            metrics, labels = label(args, lm, task, seed, run / name, path)
            own = [r for r in labels if "anchor" not in r and r.get("gold") is not None]
            searches[name] = {
                "anchors": k,
                "n_own": len(own),
                "own_agreement": sum(r["label"] == r["gold"] for r in own) / len(own)
                if own
                else None,
                **coverage_curve(labels),
                "label_seconds": time.perf_counter() - start,
                "label_seconds_recorded": metrics.get("seconds"),
            }
            sources[name] = str(run / name)
            if path is not None:
                sources[f"golden-{k}"] = path
        # One eval per source: `elicit eval` keeps only demos every source labels.
        results: dict[str, dict[str, Any]] = {}
        for name, labels_path in sources.items():
            eval_dir = run / f"eval-{name}"
            if not is_finished(eval_dir):
                run_eval(
                    EvalConfig(
                        task=task, split="test", n=args.test_n, seed=seed, methods="zero-shot",
                        labels=f"{name}={labels_path}", pool_split="train",
                        context_tokens=args.context_tokens, out=str(eval_dir), force=True,
                        progress=args.progress, model=args.model,
                    ),
                    lm=lm,
                )  # fmt: skip
            for r in json.loads((eval_dir / "results.json").read_text("utf-8")):
                results[r["method"]] = r
        for method_name, r in results.items():
            name = "golden-0" if method_name == "zero-shot" else method_name
            method, k = name.rsplit("-", 1) if name != "icm" else ("icm", "0")
            row = {
                "task": task, "model": lm.name, "seed": seed, "pool": args.pool,
                "iterations": args.iterations, "test_n": args.test_n,
                "method": method, "anchors": int(k), "n_demos": r["n_demos"],
                "accuracy": r.get("accuracy"),
                "calibrated_accuracy": r.get("calibrated_accuracy"),
                "auroc": r.get("auroc"),
                **searches.get(name, {}),
            }  # fmt: skip
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _cell(values: list[Any]) -> str:
    vals = [100 * float(v) for v in values if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.1f}"
    return f"{statistics.fmean(vals):.1f} ± {statistics.stdev(vals):.1f}"


def table(rows: list[dict[str, Any]], metric: str) -> str:
    """Test `metric` by method (rows) and anchor count (columns), per task."""
    by: dict[tuple[str, str, int], list[Any]] = defaultdict(list)
    for r in rows:
        by[(r["task"], r["method"], r["anchors"])].append(r.get(metric))
    icm = {(t, k): v for (t, m, k), v in by.items() if m == "icm"}
    counts = sorted({r["anchors"] for r in rows})
    lines = [
        "| task | method | " + " | ".join(f"{k} anchors" for k in counts) + " |",
        "|---|---|" + "---|" * len(counts),
    ]
    for task in sorted({r["task"] for r in rows}):
        icm_vals = next((v for (t, _), v in icm.items() if t == task), [])
        for method, label in (("golden", "golden-only many-shot (k = 0: zero-shot)"),
                              ("icm", "pure ICM (no anchors)"),
                              ("anchored", "anchored ICM (anchors + own labels)")):  # fmt: skip
            cells = []
            for k in counts:
                if method == "icm" or (method == "anchored" and k == 0):
                    vals = icm_vals
                else:
                    vals = by.get((task, method, k), [])
                cells.append(_cell(vals))
            lines.append(f"| {task} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def search_table(rows: list[dict[str, Any]]) -> str:
    """Per search: its own labels' agreement with gold, overall and at each coverage."""
    searches = [r for r in rows if r["method"] in ("icm", "anchored")]
    by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in searches:
        by[(r["task"], r["anchors"])].append(r)
    head = ["task", "anchors", "seeds", "own labels", "own labels = gold",
            *(f"top {int(100 * c)}% by confidence" for c in COVERAGES[:-1]), "search minutes"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, k), rs in sorted(by.items()):
        minutes = statistics.fmean(float(r["label_seconds"]) for r in rs) / 60
        cells = [task, str(k), str(len(rs)),
                 f"{statistics.fmean(r['n_own'] for r in rs):.1f}",
                 _cell([r.get("own_agreement") for r in rs]),
                 *(_cell([r.get(f"agreement_at_{int(100 * c)}") for r in rs]) for c in COVERAGES[:-1]),
                 f"{minutes:.1f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Top: test calibrated accuracy against anchors. Bottom: agreement with gold of each
    search's own labels against coverage, keeping the most confident first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(2, len(tasks), figsize=(5 * len(tasks), 7), squeeze=False)
    for col, task in enumerate(tasks):
        ax = axes[0][col]
        mine = [r for r in rows if r["task"] == task]
        for method, style in (("golden", "o-"), ("anchored", "s-")):
            pts: dict[int, list[float]] = defaultdict(list)
            for r in mine:
                if r["method"] == method or (method == "anchored" and r["method"] == "icm"):
                    pts[r["anchors"]].append(100 * r["calibrated_accuracy"])
            ks = sorted(pts)
            sds = [statistics.stdev(pts[k]) if len(pts[k]) > 1 else 0.0 for k in ks]
            ax.errorbar([max(k, 1) for k in ks], [statistics.fmean(pts[k]) for k in ks],
                        yerr=sds, fmt=style, capsize=3, label=f"{method} many-shot")  # fmt: skip
        icm = [100 * r["calibrated_accuracy"] for r in mine if r["method"] == "icm"]
        if icm:
            ax.axhline(statistics.fmean(icm), color="grey", ls="--", label="pure ICM")
        ax.set_xscale("log", base=2)
        ax.set(xlabel="anchors (0 drawn at 1)", ylabel="test calibrated accuracy %", title=task)
        ax.legend(fontsize=8)
        ax = axes[1][col]
        for k in sorted({r["anchors"] for r in mine if r["method"] in ("icm", "anchored")}):
            rs = [r for r in mine if r["method"] in ("icm", "anchored") and r["anchors"] == k]
            xs, ys = [], []
            for c in COVERAGES:
                vals = [r[f"agreement_at_{int(100 * c)}"] for r in rs]
                vals = [100 * v for v in vals if v is not None]
                if vals:
                    xs.append(100 * c)
                    ys.append(statistics.fmean(vals))
            ax.plot(xs, ys, "o-", label="pure ICM" if k == 0 else f"anchored, {k}")
        ax.set(xlabel="coverage % (most confident own labels first)",
               ylabel="own labels = gold %", title=f"{task}: confidence filtering")  # fmt: skip
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def report(path: Path, plot_path: str | None = None) -> None:
    rows = read_jsonl(path)
    print("Calibrated accuracy\n\n" + table(rows, "calibrated_accuracy"))
    print("\nAccuracy\n\n" + table(rows, "accuracy"))
    print("\nAUROC\n\n" + table(rows, "auroc"))
    print("\nSearches\n\n" + search_table(rows))
    if plot_path:
        plot(rows, Path(plot_path))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_run_arguments(p, "anchor_table")
    p.add_argument("--tasks", default="sst2,truthfulqa")
    p.add_argument("--anchors", default="0,8,32,128", help="anchor counts")
    p.add_argument("--pool", type=int, default=16, help="unlabelled training claims per seed")
    p.add_argument("--iterations", type=int, default=32)
    p.add_argument("--test-n", type=int, default=60)
    p.add_argument("--context-tokens", type=int, default=8192)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--plot", help="with --report: write the plot here")
    args = p.parse_args()
    if args.report:
        report(Path(args.report), args.plot)
        return
    run_seeds(args, run_seed, lambda rows: report(rows, args.plot))


if __name__ == "__main__":
    main()
