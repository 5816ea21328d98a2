"""Leave-one-out scoring speed: text prompts vs shared prefixes (given order and tree order).

For each N, N labelled SST-2 claims are scored leave-one-out (each with the other N - 1 in
context, ICM's mutual predictability) four ways with one model, in one process:

    given text    the base class's path: N prompts of all other demos in given order, batched
    given prefix  the same prompts, prompt i + 1 reusing prompt i's prefix (~half the tokens)
    tree text     the tree-ordered prompts (`prompting.tree_loo_orders`), each scored in full
    tree prefix   the same prompts, depth-first over the split with a KV cache: O(N L log N)

and reports the tokens each fed the model (`HFBackend.tokens_processed`), the best wall-clock of
`--repeats` timings, the speed-up over "given text", and the largest score difference from the
text path of the same order (exactness: ~1e-5 in fp32 on scores of size ~1-5). Orders differ
in which demos sit nearest a query, so given and tree scores differ by design; that gap is
reported too. Each run starts from an empty prefix store: these are the costs of one evaluation
from scratch (re-evaluation after a small change: loo_incremental.py). Timings on a shared
machine are noisy: compare ratios within one run. On the CPU the default is one torch thread:
on a 2-core machine shared with other jobs, two OpenMP threads per forward pass made the small
passes of the prefix paths 14-21x slower while barely helping the big batched ones (measured:
tree prefix 3.6 s with one thread, 49-76 s with two).

    python benchmarks/loo_speed.py                      # N = 8, 16, 32 (text paths to 16), ~2 min
    python benchmarks/loo_speed.py --text-up-to 32      # also time the text paths at 32, ~5 min
    python benchmarks/loo_speed.py --sizes 64,128 --rows out.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import numpy as np
import torch

from elicit.backends.base import LM, TRUE_FALSE, Demo
from elicit.backends.hf import HFBackend
from elicit.backends.prompting import loo_prompts
from elicit.models import DEFAULT_MODEL
from elicit.tasks import load_task, sample
from elicit.tasks.base import TaskData

METHODS = ("given text", "given prefix", "tree text", "tree prefix")


def scorer(lm: HFBackend, method: str) -> Callable[[list[Demo]], np.ndarray]:
    order = "tree" if method.startswith("tree") else "given"
    if method.endswith("text"):
        return lambda demos: LM.loo_scores(lm, demos, order=order)
    return lambda demos: lm.loo_scores(demos, order=order)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--sizes", default="8,16,32", help="numbers of labelled examples N")
    ap.add_argument("--skip", default="", help="methods to leave out, e.g. 'given-prefix'")
    ap.add_argument(
        "--text-up-to",
        type=int,
        default=16,
        help="run the text paths (and 'given prefix') only up to this N; above it only 'tree "
        "prefix' runs, and the text path's tokens are counted without running it",
    )
    ap.add_argument("--repeats", type=int, default=1, help="best of this many timings")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--rows", default=None, help="append tidy JSON rows to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    skip = {s.strip().replace("-", " ") for s in args.skip.split(",") if s.strip()}

    lm = HFBackend(args.model, device=args.device, batch_size=args.batch_size, progress=False)
    task = load_task(args.task)
    print(
        f"{args.model} on {lm.device} ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads), task {args.task}, batch size {args.batch_size}"
    )
    print(
        "| N | method | tokens | tokens vs text | seconds | tokens/s | speed-up "
        "| max abs diff vs text |"
    )
    print("|---|---|---|---|---|---|---|---|")
    scorer(lm, "tree prefix")(_demos(task, 4))  # warm-up
    for n in (int(s) for s in args.sizes.split(",")):
        demos = _demos(task, n)
        # The text path's tokens, counted without running it (what "given text" feeds).
        text_tokens = sum(len(lm.encoder.encode(p)) for p in loo_prompts(demos, TRUE_FALSE))
        methods = [
            m for m in METHODS if m not in skip and (n <= args.text_up_to or m == "tree prefix")
        ]
        scores: dict[str, np.ndarray] = {}
        seconds: dict[str, float] = {}
        for method in methods:
            run = scorer(lm, method)
            seconds[method] = float("inf")
            for _ in range(args.repeats):
                if lm.prefix_store is not None:
                    lm.prefix_store.clear()  # one evaluation from scratch, not a re-evaluation
                lm.tokens_processed = 0
                start = time.perf_counter()
                scores[method] = run(demos)
                seconds[method] = min(seconds[method], time.perf_counter() - start)
            tokens = lm.tokens_processed
            text = method.replace("prefix", "text")
            diff = None
            if method != text and text in scores:
                diff = float(np.abs(scores[method] - scores[text]).max())
            speedup = seconds["given text"] / seconds[method] if "given text" in seconds else None
            print(
                f"| {n} | {method} | {tokens} | {tokens / text_tokens:.2f} "
                f"| {seconds[method]:.2f} | {tokens / seconds[method]:.0f} | "
                + (f"{speedup:.2f}x" if speedup else "-")
                + " | "
                + (f"{diff:.1e}" if diff is not None else "-")
                + " |",
                flush=True,
            )
            if args.rows:
                row = {
                    "benchmark": "loo_speed",
                    "task": args.task,
                    "model": args.model,
                    "device": str(lm.device),
                    "threads": torch.get_num_threads(),
                    "batch_size": args.batch_size,
                    "n": n,
                    "method": method,
                    "tokens": tokens,
                    "text_tokens": text_tokens,
                    "seconds": seconds[method],
                    "speedup_vs_given_text": speedup,
                    "max_abs_diff_vs_text": diff,
                }
                with open(args.rows, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")
        if n > args.text_up_to:
            print(f"| {n} | given text | {text_tokens} | 1.00 | (not run) | | | |")
        if "given text" in scores and "tree prefix" in scores:
            gap = float(np.abs(scores["tree prefix"] - scores["given text"]).max())
            print(f"| {n} | (order effect: max abs diff tree vs given = {gap:.2f}) | | | | | | |")


def _demos(task: TaskData, n: int) -> list[Demo]:
    data = sample(task, n, seed=0)
    # Labels are arbitrary here (the cost does not depend on them); alternate them.
    return [Demo(ex.prompt, i % 2) for i, ex in enumerate(data.examples)]


if __name__ == "__main__":
    main()
