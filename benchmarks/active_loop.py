"""Where to spend a human label: the `elicit label --suggest K` loop, simulated with gold labels
as the human (issue 9, item 3). Rows for docs/RESULTS.md.

Round 0 runs ICM on a pool of training claims with no labels and `--suggest K`. Each later
round asks the oracle (gold) for the labels of K claims and reruns ICM with every label asked so
far as anchors. Two strategies pick the K claims:

    suggest   the K least confident non-anchor claims of the previous round (suggestions.jsonl)
    random    K non-anchor claims drawn at random (seeded)

Per round and strategy the rows give the agreement with gold of the labels the search chose
itself (the non-anchors), so the strategies are compared on the claims nobody labelled, and
the share of the whole pool whose label (the human's or the search's) is right, claims left
unlabelled counting as wrong: what a user ends up with after spending the labels.

`--anchor-mode context` gives the asked labels to the search as frozen context demonstrations
(`elicit label --anchor-weight inf --anchor-mode context`) instead of sticky labels.

    python benchmarks/active_loop.py --task sst2 --pool 16 --k 4 --rounds 2 --seeds 0 \
        --rows benchmarks/results/active_loop.jsonl
    python benchmarks/active_loop.py --report benchmarks/results/active_loop.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_common import add_run_arguments, anchors_file, main_for

from elicit.commands.label import LabelConfig, run_label
from elicit.runs import is_finished, read_jsonl
from elicit.tasks import load_task, sample
from elicit.tasks.base import LoadOptions

STRATEGIES = ("suggest", "random")


def icm(
    args: argparse.Namespace, out: Path, seed: int, anchors: dict[str, int]
) -> tuple[dict[str, int], list[str]]:
    """(labels, suggested uids, least confident first) of one ICM run with these anchors."""
    if not is_finished(out):
        config = LabelConfig(
            task=args.task, split="train", n=args.pool, seed=seed,
            iterations=args.iterations, model=args.model, out=str(out),
            resume=(out / "config.json").exists(), progress=args.progress,
            anchors=anchors_file(out, anchors), suggest=args.pool,
            **({"anchor_weight": math.inf, "anchor_mode": "context"}
               if args.anchor_mode == "context" else {}),
        )  # fmt: skip
        run_label(config)
    labels = {r["uid"]: int(r["label"]) for r in read_jsonl(out / "labels.jsonl")}
    suggested = [r["uid"] for r in read_jsonl(out / "suggestions.jsonl")]
    return labels, suggested


def run_seed(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    data = sample(
        load_task(args.task, LoadOptions(split="train")), args.pool, seed, keep_groups=True
    )
    gold = dict(data.gold)
    uids = [ex.uid for ex in data.examples]
    mode = "" if args.anchor_mode == "labelled" else f"-{args.anchor_mode}"
    root = Path(args.out) / f"{args.task}-p{args.pool}-k{args.k}-i{args.iterations}{mode}-s{seed}"
    rows: list[dict[str, Any]] = []
    first, first_suggested = icm(args, root / "round-0", seed, {})
    for strategy in STRATEGIES:
        anchors: dict[str, int] = {}
        labels, suggested = first, first_suggested
        rng = random.Random(f"active/{seed}/{strategy}")
        for r in range(args.rounds + 1):
            if r > 0:
                free = [u for u in uids if u not in anchors]
                if strategy == "suggest":
                    ask = [u for u in suggested if u not in anchors][: args.k]
                    ask += rng.sample([u for u in free if u not in ask], args.k - len(ask))
                else:
                    ask = rng.sample(free, args.k)
                anchors.update({u: gold[u] for u in ask})
                labels, suggested = icm(args, root / f"{strategy}-round-{r}", seed, anchors)
            own = [u for u in labels if u not in anchors and u in gold]
            rows.append({
                "task": args.task, "pool": args.pool, "k": args.k, "seed": seed,
                "strategy": strategy, "round": r, "anchors": len(anchors),
                "labelled": len(own), "anchor_mode": args.anchor_mode,
                "iterations": args.iterations,
                "agreement": sum(labels[u] == gold[u] for u in own) / len(own) if own else None,
                "pool_right": (len(anchors) + sum(labels[u] == gold[u] for u in own)) / len(uids),
            })  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    return rows


def pool_right(row: dict[str, Any]) -> float:
    """The share of the pool labelled right: every asked label, plus the search's own right
    ones (rows written before the column existed carry what it is computed from)."""
    if "pool_right" in row:
        return float(row["pool_right"])
    own_right = (row["agreement"] or 0.0) * row["labelled"]
    return (row["anchors"] + own_right) / row["pool"]


def report(path: Path) -> None:
    rows = [{**row, "pool_right": pool_right(row)} for row in read_jsonl(path)]
    for metric, title in (("agreement", "own labels = gold"), ("pool_right", "pool labels right")):
        groups: dict[tuple[str, int], list[float]] = defaultdict(list)
        anchors: dict[int, int] = {}
        for row in rows:
            if row.get(metric) is not None:
                groups[(row["strategy"], row["round"])].append(100 * row[metric])
                anchors[row["round"]] = row["anchors"]
        rounds = sorted(anchors)
        print(f"\n{title}\n")
        print("| strategy | " + " | ".join(f"{anchors[r]} gold labels" for r in rounds) + " |")
        print("|---" * (len(rounds) + 1) + "|")
        for strategy in STRATEGIES:
            cells = []
            for r in rounds:
                vals = groups.get((strategy, r), [])
                sd = f" ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else ""
                cells.append(f"{statistics.mean(vals):.1f}{sd} (n={len(vals)})" if vals else "-")
            print(f"| {strategy} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--task", default="sst2")
    p.add_argument("--pool", type=int, default=16)
    p.add_argument("--k", type=int, default=4, help="labels asked per round")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--iterations", type=int, default=24)
    p.add_argument("--anchor-mode", default="labelled", choices=["labelled", "context"])
    add_run_arguments(p, "active_loop")
    main_for(p, run_seed, report)


if __name__ == "__main__":
    main()
