"""What one anchored ICM step costs with the anchors scored leave-one-out (`--anchor-mode
labelled`) and with them as fixed context demonstrations (`--anchor-mode context`).

A step of the search evaluates a labelling that differs from the last one in one label. Here:
K gold-labelled SST-2 training claims as anchors plus M claims the search labelled itself,
and the step flips one of the M. Per mode: tokens the model read and seconds, for the first
evaluation (nothing stored) and for the step after it (the prefix store holds what the first
one computed). Rows go to --rows; the table in docs/BENCHMARKS.md.

    python benchmarks/anchor_step.py --anchors 32,128 --own 8 \
        --rows benchmarks/results/anchor_step.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from elicit.backends import load_lm
from elicit.backends.base import Demo
from elicit.models import DEFAULT_MODEL
from elicit.tasks import load_task, sample
from elicit.tasks.base import LoadOptions


def timed(lm: Any, demos: list[Demo], context: list[Demo]) -> tuple[float, int]:
    """Seconds and tokens of one tree leave-one-out evaluation."""
    before = lm.tokens_processed
    start = time.perf_counter()
    lm.loo_scores(demos, order="tree", context=context)
    return time.perf_counter() - start, lm.tokens_processed - before


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--anchors", default="32,128")
    p.add_argument("--own", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", default="benchmarks/results/anchor_step.jsonl")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    lm = load_lm(args.model, batch_size=8)
    largest = max(int(k) for k in args.anchors.split(","))
    data = sample(load_task("sst2", LoadOptions(split="train")), largest + args.own, 0)
    demos = [Demo(ex.prompt, data.gold[ex.uid]) for ex in data.examples]
    own, pool = demos[: args.own], demos[args.own :]
    flipped = [Demo(own[0].prompt, 1 - own[0].label), *own[1:]]
    for k in (int(k) for k in args.anchors.split(",")):
        anchors = pool[:k]
        for mode in ("labelled", "context"):
            lm.prefix_store.clear()
            if mode == "labelled":
                first = timed(lm, [*anchors, *own], [])
                step = timed(lm, [*anchors, *flipped], [])
            else:
                first = timed(lm, own, anchors)
                step = timed(lm, flipped, anchors)
            row = {
                "model": lm.name, "task": "sst2", "anchors": k, "own": args.own, "mode": mode,
                "threads": args.threads,
                "first_seconds": first[0], "first_tokens": first[1],
                "step_seconds": step[0], "step_tokens": step[1],
            }  # fmt: skip
            print(json.dumps(row), flush=True)
            Path(args.rows).parent.mkdir(parents=True, exist_ok=True)
            with open(args.rows, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
