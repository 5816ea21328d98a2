"""One ICM evaluation on each backend, side by side: leave-one-out, one-flip step, plain prefill.

Issue 19 (item 5) asks where the time of ICM goes with Qwen2.5-Coder-0.5B on a CPU, for the
llama.cpp backend (Q4_K_M GGUF, in process) and the transformers backend (the same weights
dequantised to fp32, with the prefix-reusing tree engine). For each backend and N, in one
process, on a freshly loaded model:

    evaluation  `lm.loo_scores(demos, order="tree")` of N SST-2 training claims (alternating
                labels: the cost does not depend on them), ICM's mutual predictability from an
                empty cache: tokens fed (`tokens_processed`), seconds, tokens/s
    step        the same labelling with the middle claim's label flipped, right after: what an
                ICM step pays (llama.cpp keeps the last prompt's cache, transformers its
                prefix store)
    prefill     one plain prompt of all N demos and a query (`lm.score`), last, so that it
                warms nothing the evaluation uses: the backend's speed without any leave-one-out
                structure

and the projection of 128 ICM steps at N (every step a full re-evaluation, as the first; the
search labels fewer claims early on, so this is the worst case). Timings on a shared machine
are noisy: compare rows of one run, and read the load column.

    python benchmarks/loo_backends.py --sizes 16,32,64 --rows benchmarks/results/loo_backends.jsonl
    python benchmarks/loo_backends.py --report benchmarks/results/loo_backends.jsonl

Needs the full data (ELICIT_DATA_DIR) and the model (fetched, and for transformers converted, on
first use).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

from bench_common import append_rows, read_rows

from elicit.backends import load_lm
from elicit.backends.base import LM, TRUE_FALSE, Demo
from elicit.backends.prompting import render_context
from elicit.tasks import load_task, sample

MODEL = "qwen2.5-coder-0.5b-instruct"
STEPS = 128


def fed(lm: LM) -> int:
    return int(getattr(lm, "tokens_processed", 0))


def timed_loo(lm: LM, demos: list[Demo]) -> tuple[float, int]:
    """(seconds, tokens fed) of one tree-order leave-one-out evaluation."""
    before = fed(lm)
    start = time.perf_counter()
    lm.loo_scores(demos, order="tree")
    return time.perf_counter() - start, fed(lm) - before


def measure(model: str, backend: str, n: int) -> dict[str, Any]:
    lm = load_lm(model, backend, progress=False)
    data = sample(load_task("sst2"), n, seed=0)
    demos = [Demo(ex.prompt, i % 2) for i, ex in enumerate(data.examples)]
    seconds, tokens = timed_loo(lm, demos)
    flipped = [Demo(d.prompt, 1 - d.label) if i == n // 2 else d for i, d in enumerate(demos)]
    step_seconds, step_tokens = timed_loo(lm, flipped)
    plain = render_context(demos[1:], demos[0].prompt, TRUE_FALSE)
    start = time.perf_counter()
    lm.score([plain])
    prefill_seconds = time.perf_counter() - start
    prefill_tokens = lm.count_tokens(plain)
    row = {
        "benchmark": "loo_backends",
        "model": model,
        "backend": backend,
        "lm": lm.name,
        "task": "sst2",
        "n": n,
        "tokens_fed": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "step_tokens_fed": step_tokens,
        "step_seconds": step_seconds,
        "prefill_tokens": prefill_tokens,
        "prefill_tokens_per_s": prefill_tokens / prefill_seconds,
        "projected_128_steps_min": STEPS * step_seconds / 60,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "load_avg_1min": os.getloadavg()[0],
    }
    lm.close()
    return row


def report(path: str) -> None:
    rows = read_rows(path)
    print(
        "| N | backend | evaluation: tokens, seconds, tokens/s | one-flip step: tokens, seconds | "
        "plain prefill tokens/s | 128 steps, min | load |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["n"], r["backend"])):
        print(
            f"| {r['n']} | {r['backend']} | {r['tokens_fed']}, {r['seconds']:.1f}, "
            f"{r['tokens_per_s']:.0f} | {r['step_tokens_fed']}, {r['step_seconds']:.1f} | "
            f"{r['prefill_tokens_per_s']:.0f} | {r['projected_128_steps_min']:.0f} | "
            f"{r['load_avg_1min']:.1f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--backends", default="llamacpp,hf")
    ap.add_argument("--sizes", default="16,32,64", help="numbers of labelled claims N")
    ap.add_argument("--rows", default=None, help="append the rows to this JSONL file")
    ap.add_argument("--report", metavar="ROWS", help="only print the table of a rows file")
    args = ap.parse_args()
    if args.report:
        report(args.report)
        return
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        for backend in args.backends.split(","):
            rows.append(measure(args.model, backend, n))
            print(json.dumps(rows[-1]), flush=True)
    if args.rows:
        append_rows(args.rows, rows)
        report(args.rows)


if __name__ == "__main__":
    main()
