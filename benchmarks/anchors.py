"""Anchored ICM: how label quality changes with the number of known labels, and what the
search's confidence is worth. The table and curves in docs/RESULTS.md.

For every task, seed and anchor count k: `elicit label` on a pool of training claims where k of
them (a seeded random choice) are given their gold labels as anchors (`--anchors`), optionally
with a share of them flipped (`--noise`, to see the search overrule wrong anchors), and with
`--confidence`. Rows record the agreement with gold of the labels the search chose itself (the
non-anchors), the overruled anchors and whether overruling was right, and the accuracy of the
most confident labels at several coverages. With `--eval`, test accuracy of many-shot prompting
with golden labels on the anchors only, with ICM labels and with anchored ICM labels is added
(`elicit eval` on held-out claims).

    python benchmarks/anchors.py --tasks sst2:24:48 --anchors 0,4,8,16 --seeds 0,1,2 \
        --rows benchmarks/results/anchors.jsonl
    python benchmarks/anchors.py --report benchmarks/results/anchors.jsonl
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

from elicit.backends import load_lm
from elicit.commands.evaluate import EvalConfig, run_eval
from elicit.commands.label import LabelConfig, run_label
from elicit.models import DEFAULT_MODEL
from elicit.runs import is_finished, read_jsonl
from elicit.tasks import load_task, sample
from elicit.tasks.base import LoadOptions

COVERAGES = (0.25, 0.5, 0.75, 1.0)


def parse_tasks(text: str) -> list[tuple[str, int, int]]:
    out = []
    for item in text.split(","):
        name, n, iterations = item.split(":")
        out.append((name, int(n), int(iterations)))
    return out


def coverage_curve(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Agreement with gold of the most confident non-anchor labels, at each coverage."""
    scored = [r for r in rows if r.get("gold") is not None and "anchor" not in r]
    # The margin; runs labelled before it had its own name wrote it as "confidence".
    scored.sort(key=lambda r: -float(r.get("margin", r.get("confidence", 0.0))))
    out: dict[str, float | None] = {}
    for c in COVERAGES:
        top = scored[: max(1, round(c * len(scored)))] if scored else []
        out[f"agreement_at_{int(100 * c)}"] = (
            sum(r["label"] == r["gold"] for r in top) / len(top) if top else None
        )
    return out


def write_anchors(path: Path, task: str, n: int, seed: int, k: int, noise: float) -> dict[str, int]:
    """k gold labels of the pool `elicit label --n n --seed seed` samples; `noise` share flipped."""
    pool = sample(load_task(task, LoadOptions(split="train")), n, seed, keep_groups=True)
    rng = random.Random(f"anchors-{seed}")
    chosen = rng.sample([ex.uid for ex in pool.examples], min(k, len(pool)))
    flipped = set(rng.sample(chosen, round(noise * len(chosen))))
    anchors = {u: (1 - pool.gold[u]) if u in flipped else pool.gold[u] for u in chosen}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"uid": u, "label": y}) + "\n" for u, y in anchors.items()))
    return anchors


def run_table(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    lm = load_lm(args.model, batch_size=args.batch_size)
    for task, n, iterations in parse_tasks(args.tasks):
        for seed in [int(s) for s in args.seeds.split(",")]:
            for k in [int(a) for a in args.anchors.split(",")]:
                run = Path(args.out) / f"{task}-n{n}-s{seed}-a{k}-noise{args.noise}"
                start = time.perf_counter()
                if k:
                    write_anchors(run / "anchors.jsonl", task, n, seed, k, args.noise)
                label_dir = run / "label"
                if not is_finished(label_dir):
                    run_label(
                        LabelConfig(
                            task=task, split="train", n=n, seed=seed, iterations=iterations,
                            out=str(label_dir), resume=(label_dir / "config.json").exists(),
                            progress=args.progress, model=args.model, confidence=True,
                            anchors=str(run / "anchors.jsonl") if k else None,
                            anchor_weight=args.anchor_weight,
                        ),
                        lm=lm,
                    )  # fmt: skip
                metrics = json.loads((label_dir / "metrics.json").read_text("utf-8"))
                rows = read_jsonl(label_dir / "labels.jsonl")
                own = [r for r in rows if "anchor" not in r and r.get("gold") is not None]
                overruled = metrics.get("overruled", [])
                row: dict[str, Any] = {
                    "task": task, "model": lm.name, "seed": seed, "pool": n,
                    "iterations": iterations, "anchors": k, "noise": args.noise,
                    "anchor_weight": args.anchor_weight,
                    "n_labelled": len(rows), "n_own": len(own),
                    "own_agreement": (
                        sum(r["label"] == r["gold"] for r in own) / len(own) if own else None
                    ),
                    "agreement": metrics.get("agreement"),
                    "overruled": len(overruled),
                    "overruled_rightly": sum(o["label"] == o["gold"] for o in overruled),
                    "wrong_anchors": round(args.noise * min(k, n)),
                    **coverage_curve(rows),
                    "label_seconds": time.perf_counter() - start,
                }  # fmt: skip
                if args.eval:
                    row.update(evaluate(args, lm, task, seed, run, k))
                with open(args.rows, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)


def evaluate(
    args: argparse.Namespace, lm: Any, task: str, seed: int, run: Path, k: int
) -> dict[str, Any]:
    """Test accuracy: golden labels on the anchors only, and the labels of this run."""
    out: dict[str, Any] = {}
    sources = [("icm", f"{'anchored-icm' if k else 'icm'}={run / 'label'}", run / "eval")]
    if k:
        sources.append(
            ("golden-anchors", f"golden-anchors={run / 'anchors.jsonl'}", run / "eval-a")
        )
    for _, labels, eval_dir in sources:
        summary = run_eval(
            EvalConfig(
                task=task, split="test", n=args.test_n, seed=seed, methods="zero-shot",
                labels=labels, pool_split="train", out=str(eval_dir), force=True,
                progress=args.progress, model=args.model,
            ),
            lm=lm,
        )  # fmt: skip
        for r in summary.results:
            out[f"{r.method}_calibrated_accuracy"] = r.metrics.get("calibrated_accuracy")
            out[f"{r.method}_n_demos"] = r.n_demos
    return out


def _fmt(values: list[Any], scale: float = 100.0) -> str:
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return "-"
    mean = statistics.fmean(vals) * scale
    return f"{mean:.1f}" if len(vals) == 1 else f"{mean:.1f} ± {statistics.stdev(vals) * scale:.1f}"


def report(path: str) -> str:
    rows = read_jsonl(path)
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["task"], r["pool"], r["iterations"], r["noise"], r["anchors"])].append(r)
    cols = ["own_agreement", *(f"agreement_at_{int(100 * c)}" for c in COVERAGES)]
    head = ["task", "pool / iterations", "wrong anchors", "anchors", "seeds",
            "non-anchor labels = gold", *(f"top {int(100 * c)}% by confidence" for c in COVERAGES[:-1]),
            "anchors overruled (rightly)"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, pool, iters, noise, k), rs in sorted(groups.items()):
        overruled = f"{sum(r['overruled'] for r in rs)} ({sum(r['overruled_rightly'] for r in rs)})"
        cells = [task, f"{pool} / {iters}", f"{100 * noise:.0f}%", str(k), str(len(rs))]
        cells += [_fmt([r.get(c) for r in rs]) for c in cols[:-1]]
        lines.append("| " + " | ".join([*cells, overruled]) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--tasks", default="sst2:24:48", help="NAME:POOL:ITERATIONS,...")
    ap.add_argument("--anchors", default="0,4,8,16", help="anchor counts")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--noise", type=float, default=0.0, help="share of anchors given a wrong label")
    ap.add_argument("--anchor-weight", type=float, default=5.0)
    ap.add_argument("--eval", action="store_true", help="also evaluate many-shot test accuracy")
    ap.add_argument("--test-n", type=int, default=100)
    ap.add_argument("--out", default="runs/anchors")
    ap.add_argument("--rows", default="benchmarks/results/anchors.jsonl")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--report", metavar="ROWS", help="print the markdown table of ROWS and exit")
    args = ap.parse_args()
    if args.report:
        print(report(args.report))
        return
    run_table(args)


if __name__ == "__main__":
    main()
