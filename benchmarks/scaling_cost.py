"""What an ICM labelling job costs in forward tokens, paper order vs tree order (docs/SCALING.md).

The job: `--total` claims of `--task` searched in independent batches of `--batch-size`, each
with `--iterations` search iterations. An iteration evaluates the energy of one proposal: one
leave-one-out (LOO) evaluation of the labelled set, each labelled claim scored with all the
others in context (`--evals-per-iteration` scales that for consistency-fix rounds). The
labelled set grows by one claim per iteration from `--init-size` until the batch is full, the
fastest growth the search can have, so the counts are an upper bound for the early iterations.

Tokens of one LOO evaluation over N claims (real claim lengths from the task, tokenised with
`--model`'s tokenizer, in the prompt format ICM uses):
    paper text     every LOO prompt sent whole (the released code with a server that does not
                   cache prefixes): ~N^2 L
    paper + cache  the same prompts with an ideal prefix cache (vLLM --enable-prefix-caching
                   with room for everything): the shared prefixes of the given order, ~N^2 L / 2
    tree           elicit's recursive-split order over one KV cache (`loo_order="tree"`, what
                   `elicit label` runs): O(N L log N)
The cache-based counts are exact sizes of the prefix trie of the prompts (each trie node is
computed once), plus every prompt's query claim.

Hours follow from a throughput in prompt tokens per second: the CPU rate measured for the
default model in docs/BENCHMARKS.md, and, for GPUs, estimates from FLOPs (2 x parameters per
token at `--mfu` of the H100's 989 dense bf16 TFLOP/s); they are estimates, not measurements.

    python benchmarks/scaling_cost.py --task truthfulqa --total 10000 \
        --rows benchmarks/results/scaling_cost.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from elicit.backends.prompting import DEMO_SEPARATOR, loo_orders

H100_BF16_TFLOPS = 989.0
#: name -> (parameters, GPUs); the throughput estimate is per job (tensor parallel over GPUs).
GPU_MODELS: dict[str, tuple[float, int]] = {
    "llama-3.2-1b on 1 H100": (1.24e9, 1),
    "llama-3.1-8b on 1 H100": (8.0e9, 1),
    "llama-3.1-70b on 8 H100 (TP 8)": (70.6e9, 8),
}
#: Measured in docs/BENCHMARKS.md (gemma-3-270m, fp32, one idle core of this CPU).
CPU_TOKENS_PER_SECOND = 500.0


def trie_tokens(lengths: Sequence[int], orders: Sequence[Sequence[int]]) -> int:
    """Tokens to encode every context of `orders` (demo indices) once per prefix-trie node."""
    seen: set[tuple[int, ...]] = set()
    total = 0
    for order in orders:
        for depth in range(1, len(order) + 1):
            node = tuple(order[:depth])
            if node not in seen:
                seen.add(node)
                total += lengths[order[depth - 1]]
    return total


def loo_tokens(demo: Sequence[int], query: Sequence[int], n: int) -> dict[str, int]:
    """Tokens of one LOO evaluation over the first n claims, per method."""
    d, q = demo[:n], query[:n]
    queries = sum(q)
    return {
        "paper text": (n - 1) * sum(d) + queries,
        "paper + cache": trie_tokens(d, loo_orders(n, "given")) + queries,
        "tree": trie_tokens(d, loo_orders(n, "tree")) + queries,
    }


def job_tokens(
    demo: Sequence[int],
    query: Sequence[int],
    batch: int,
    iterations: int,
    init: int,
    evals: float,
) -> dict[str, float]:
    """Tokens of one batch's search: sum over iterations of one LOO evaluation each."""
    per_n: dict[int, dict[str, int]] = {}
    totals: dict[str, float] = {}
    for t in range(iterations):
        n = min(batch, init + t)
        if n not in per_n:
            per_n[n] = loo_tokens(demo, query, n)
        for method, tokens in per_n[n].items():
            totals[method] = totals.get(method, 0.0) + evals * tokens
    return totals


def claim_lengths(task: str, model: str, k: int, seed: int) -> tuple[list[int], list[int]]:
    """Token lengths of k random claims of `task` as demos (prompt, label word, separator)
    and as queries (the prompt)."""
    from transformers import AutoTokenizer

    from elicit.models import resolve_model
    from elicit.tasks import load_task
    from elicit.tasks.base import LoadOptions

    data = load_task(task, LoadOptions(split="all"))
    examples = list(data.examples)
    random.Random(seed).shuffle(examples)
    chosen = examples[:k]
    tok = AutoTokenizer.from_pretrained(resolve_model(model, progress=False))
    word = data.label_words[1]
    query = [len(tok(ex.prompt, add_special_tokens=False)["input_ids"]) for ex in chosen]
    demo = [
        len(tok(ex.prompt + word + DEMO_SEPARATOR, add_special_tokens=False)["input_ids"])
        for ex in chosen
    ]
    return demo, query


def gpu_rate(params: float, gpus: int, mfu: float) -> float:
    return gpus * mfu * H100_BF16_TFLOPS * 1e12 / (2 * params)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--task", default="truthfulqa")
    ap.add_argument("--model", default="gemma-3-270m", help="whose tokenizer counts tokens")
    ap.add_argument("--total", type=int, default=10_000, help="claims in the job")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=3000, help="search iterations per batch")
    ap.add_argument("--init-size", type=int, default=8)
    ap.add_argument("--evals-per-iteration", type=float, default=1.0)
    ap.add_argument("--mfu", type=float, default=0.4, help="assumed GPU utilisation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=Path, default=None, help="append JSON rows here")
    args = ap.parse_args()

    demo, query = claim_lengths(args.task, args.model, args.batch_size, args.seed)
    batches = -(-args.total // args.batch_size)
    per_batch = job_tokens(
        demo, query, args.batch_size, args.iterations, args.init_size, args.evals_per_iteration
    )
    at_full = loo_tokens(demo, query, args.batch_size)
    rates = {"gemma-3-270m on this CPU (1 core, measured)": CPU_TOKENS_PER_SECOND}
    rates.update({name: gpu_rate(p, g, args.mfu) for name, (p, g) in GPU_MODELS.items()})
    print(
        f"{args.task}: {args.total} claims = {batches} batches of {args.batch_size}, "
        f"{args.iterations} iterations each; claim length {statistics.mean(demo):.1f} tokens "
        f"as a demo (median {statistics.median(demo):.0f}), {args.model} tokenizer"
    )
    print(f"GPU rates assume {args.mfu:.0%} of {H100_BF16_TFLOPS:.0f} TFLOP/s per H100 (estimates)")
    n = args.batch_size
    header = f"| method | tokens per LOO at N = {n} | tokens per batch | tokens per job |"
    print(header + "".join(f" hours: {name} |" for name in rates))
    print("|---" * (4 + len(rates)) + "|")
    rows: list[dict[str, Any]] = []
    for method, tokens in per_batch.items():
        job = tokens * batches
        hours = {name: job / rate / 3600 for name, rate in rates.items()}
        print(
            f"| {method} | {at_full[method]:,} | {tokens:.3g} | {job:.3g} |"
            + "".join(f" {h:,.3g} |" for h in hours.values())
        )
        rows.append(
            {
                "task": args.task, "model": args.model, "total": args.total,
                "batch_size": args.batch_size, "iterations": args.iterations,
                "evals_per_iteration": args.evals_per_iteration, "method": method,
                "tokens_per_loo_full": at_full[method], "tokens_per_batch": tokens,
                "tokens_per_job": job, "mean_demo_tokens": statistics.mean(demo),
                "hours": hours, "mfu": args.mfu,
            }
        )  # fmt: skip
    if args.rows is not None:
        args.rows.parent.mkdir(parents=True, exist_ok=True)
        with args.rows.open("a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
