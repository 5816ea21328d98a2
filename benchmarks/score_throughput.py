"""Throughput of label scoring (`LM.label_logprobs`) against batch size, side by side.

Scores the same prompts at each batch size in one process, after one warm-up call, and
reports prompt tokens per second and the speed-up over batch size 1. Timings on shared
machines are noisy: compare the ratios within one run, not absolute numbers across runs.

    python benchmarks/score_throughput.py --task truthfulqa --n 64 --batch-sizes 1,4,8,16,32
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from elicit.backends.hf import HFBackend
from elicit.commands.score import score_examples
from elicit.models import DEFAULT_MODEL
from elicit.tasks import load_task, sample
from elicit.tasks.base import TaskData


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--task", default="truthfulqa")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch-sizes", default="1,4,8,16,32")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many timings")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--rows", default=None, help="append tidy JSON rows to this file")
    args = ap.parse_args()

    data = sample(load_task(args.task), args.n, seed=0)
    lm = HFBackend(args.model, device=args.device, progress=False)
    tokens = sum(len(lm.encoder.encode(ex.prompt)) for ex in data.examples)
    score_examples(lm, data)  # warm-up
    base: float | None = None
    print(f"{args.task}: {len(data)} prompts, {tokens} tokens, {lm.device}, {platform.processor()}")
    print("| batch size | seconds | tokens/s | speed-up vs batch 1 |")
    print("|---|---|---|---|")
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        lm.batch_size = bs
        best = min(_timed(lm, data) for _ in range(args.repeats))
        base = base or best
        print(f"| {bs} | {best:.2f} | {tokens / best:.0f} | {base / best:.2f}x |", flush=True)
        if args.rows:
            with open(args.rows, "a", encoding="utf-8") as fh:
                row = {
                    "task": args.task,
                    "model": args.model,
                    "device": str(lm.device),
                    "batch_size": bs,
                    "n": len(data),
                    "tokens": tokens,
                    "seconds": best,
                }
                fh.write(json.dumps(row) + "\n")


def _timed(lm: HFBackend, data: TaskData) -> float:
    start = time.perf_counter()
    score_examples(lm, data)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
