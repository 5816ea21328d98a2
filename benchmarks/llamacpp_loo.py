"""Where the time of a leave-one-out evaluation goes on the llama.cpp backend (issue 19, item 5).

For each N, N SST-2 claims (alternating labels; the cost does not depend on them) are scored
leave-one-out in tree order (`LlamaCppBackend.loo_scores(order="tree")`, ICM's mutual
predictability, one evaluation from an empty KV cache) and the script reports:

    tokens fed   tokens llama.cpp evaluated (`tokens_processed`)
    tree count   the fewest any prefix cache could evaluate: the distinct prefixes of the N
                 prompts (sum over the sorted prompts of length minus the common prefix with
                 the previous one); fed / tree = what the decode-call alignment costs extra
    calls        llama.cpp decode calls, and tokens per call
    seconds, tokens/s of the evaluation, next to
    prefill      tokens/s of one plain prompt of the same demos (~N * L tokens) fed from an
                 empty cache in calls of n_batch tokens: the speed without any per-call cost
    1-token call seconds of a decode call of one token at the end of that prompt: the fixed
                 cost every call pays (weights streamed once, the 151,936-word output layer
                 for the last position, thread start-up), best of 5
    min_chunk    tokens fed and calls the same evaluation would take with other `min_chunk`
                 values (counted by replaying the backend's cache rule, nothing evaluated):
                 bigger calls mean fewer of them but coarser points to cut the cache back to
    step         seconds of the next evaluation after one label flip (what an ICM step pays;
                 the cache then holds only the previous evaluation's last prompt)

`--wait-policies ACTIVE,PASSIVE` runs the whole measurement once per OpenMP wait policy, each
in a fresh process (libgomp reads OMP_WAIT_POLICY once, when llama.cpp loads); the backend's
default is PASSIVE (see `backends/llamacpp.py:_llama_cpp`). Timings on a shared machine are
noisy: compare rows of one run.

    python benchmarks/llamacpp_loo.py                                   # N = 16, 32, ~3 min
    python benchmarks/llamacpp_loo.py --wait-policies ACTIVE,PASSIVE    # both, ~10 min
    python benchmarks/llamacpp_loo.py --sizes 64 --rows out.jsonl

Needs the full data (ELICIT_DATA_DIR) and the model (fetched on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

MODEL = "qwen2.5-coder-0.5b-instruct"


def tree_count(contexts: list[list[int]]) -> int:
    """Distinct prefixes of `contexts`: what a perfect prefix cache would evaluate."""
    total, prev = 0, []
    for ctx in sorted(contexts):
        common = next(
            (k for k, (a, b) in enumerate(zip(prev, ctx, strict=False)) if a != b),
            min(len(prev), len(ctx)),
        )
        total += len(ctx) - common
        prev = ctx
    return total


def replay(lm: Any, contexts: list[list[int]], min_chunk: int) -> tuple[int, int]:
    """(tokens fed, decode calls) of scoring `contexts` in order with `min_chunk`, by the
    backend's rule (cut back to the last call boundary inside the shared prefix)."""
    saved, lm.min_chunk = lm.min_chunk, min_chunk
    fed = calls = 0
    prev: list[int] = []
    for ctx in contexts:
        bounds = lm._calls(ctx)
        shared = next(
            (k for k, (a, b) in enumerate(zip(prev, ctx, strict=False)) if a != b),
            min(len(prev), len(ctx)),
        )
        keep = max(b for b in bounds[:-1] if b <= shared)
        fed += len(ctx) - keep
        calls += sum(1 for b in bounds[:-1] if b >= keep)
        prev = ctx
    lm.min_chunk = saved
    return fed, calls


def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from elicit.backends.base import TRUE_FALSE, Demo
    from elicit.backends.llamacpp import LlamaCppBackend
    from elicit.backends.prompting import loo_orders, render_demo
    from elicit.tasks import load_task, sample

    lm = LlamaCppBackend(args.model, progress=False, n_threads=args.threads or None)
    llm = lm._llm
    calls = 0
    real_eval = llm.eval

    def counting_eval(tokens: list[int]) -> None:
        nonlocal calls
        calls += 1
        real_eval(tokens)

    llm.eval = counting_eval
    task = load_task("sst2")
    rows = []
    for n in args.sizes:
        data = sample(task, n, seed=0)
        demos = [Demo(ex.prompt, i % 2) for i, ex in enumerate(data.examples)]
        demo_ids = [lm.encoder.tokens(render_demo(d, TRUE_FALSE)) for d in demos]
        query_ids = [lm.encoder.tokens(d.prompt) for d in demos]
        contexts = [
            lm.start_tokens() + [t for j in others for t in demo_ids[j]] + query_ids[i]
            for i, others in enumerate(loo_orders(n, "tree"))
        ]
        plain = lm.start_tokens() + [t for d in demo_ids for t in d]
        # Plain prefill: best of two, fresh cache, calls of n_batch.
        prefill = float("inf")
        for _ in range(2):
            llm.reset()
            lm._trusted = 0
            start = time.perf_counter()
            for s in range(0, len(plain), lm.n_batch):
                real_eval(plain[s : s + lm.n_batch])
            prefill = min(prefill, time.perf_counter() - start)
        one_token = float("inf")
        for _ in range(5):
            llm.n_tokens = len(plain) - 1
            start = time.perf_counter()
            real_eval(plain[-1:])
            one_token = min(one_token, time.perf_counter() - start)
        llm.reset()
        lm._trusted = 0
        lm.tokens_processed, calls = 0, 0
        start = time.perf_counter()
        lm.loo_scores(demos, order="tree")
        seconds = time.perf_counter() - start
        fed, n_calls = lm.tokens_processed, calls
        # One ICM step's evaluation: the labelling with one label flipped (the middle demo's).
        flipped = [Demo(d.prompt, 1 - d.label) if i == n // 2 else d for i, d in enumerate(demos)]
        lm.tokens_processed = 0
        start = time.perf_counter()
        lm.loo_scores(flipped, order="tree")
        step = time.perf_counter() - start
        row = {
            "benchmark": "llamacpp_loo",
            "model": args.model,
            "task": "sst2",
            "n": n,
            "wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
            "threads": args.threads or None,
            "n_batch": lm.n_batch,
            "min_chunk": lm.min_chunk,
            "mean_demo_tokens": sum(map(len, demo_ids)) / n,
            "tokens_fed": fed,
            "tree_count": tree_count(contexts),
            "calls": n_calls,
            "seconds": seconds,
            "tokens_per_s": fed / seconds,
            "prefill_tokens": len(plain),
            "prefill_tokens_per_s": len(plain) / prefill,
            "step_tokens_fed": lm.tokens_processed,
            "step_seconds": step,
            "one_token_call_seconds": one_token,
            "replay_by_min_chunk": {str(m): replay(lm, contexts, m) for m in (16, 64, 128, 256)},
            "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
            "load_avg_1min": os.getloadavg()[0],
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    lm.close()
    return rows


def table(rows: list[dict[str, Any]]) -> None:
    print(
        "| N | wait policy | tokens fed | tree count | calls (tokens/call) | seconds | tokens/s "
        "| plain prefill tokens/s | 1-token call, s | one-flip step: tokens, seconds | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['n']} | {r['wait_policy'] or 'default'} | {r['tokens_fed']} | "
            f"{r['tree_count']} | {r['calls']} ({r['tokens_fed'] / r['calls']:.0f}) | "
            f"{r['seconds']:.1f} | {r['tokens_per_s']:.0f} | {r['prefill_tokens_per_s']:.0f} | "
            f"{_get(r, 'one_token_call_seconds', '.2f')} | "
            f"{r['step_tokens_fed']}, {r['step_seconds']:.1f} s | {r['load_avg_1min']:.1f} |"
        )
    replays = [r for r in rows if "replay_by_min_chunk" in r]
    if replays:
        chunks = list(replays[0]["replay_by_min_chunk"])
        print("\n| N | " + " | ".join(f"min_chunk {m}: tokens, calls" for m in chunks) + " |")
        print("|---|" + "---|" * len(chunks))
        for n in sorted({r["n"] for r in replays}):
            r = next(r for r in replays if r["n"] == n)
            cells = [f"{f}, {c}" for f, c in r["replay_by_min_chunk"].values()]
            print(f"| {n} | " + " | ".join(cells) + " |")


def _get(row: dict[str, Any], key: str, fmt: str) -> str:
    return "-" if row.get(key) is None else format(row[key], fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--sizes", default="16,32", help="numbers of labelled examples N")
    ap.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: its default)")
    ap.add_argument(
        "--wait-policies",
        default="",
        help="comma-separated OMP_WAIT_POLICY values, each run in its own process",
    )
    ap.add_argument("--rows", default=None, help="append tidy JSON rows to this file")
    ap.add_argument("--report", metavar="ROWS", help="only print the table of a rows file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.report:
        with open(args.report, encoding="utf-8") as fh:
            table([json.loads(line) for line in fh if line.strip()])
        return
    args.sizes = [int(s) for s in str(args.sizes).split(",")]
    rows: list[dict[str, Any]] = []
    if args.wait_policies and not args.child:
        for policy in args.wait_policies.split(","):
            cmd = [sys.executable, __file__, "--child", "--model", args.model]
            cmd += ["--sizes", ",".join(map(str, args.sizes)), "--threads", str(args.threads)]
            env = {**os.environ, "OMP_WAIT_POLICY": policy}
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            rows += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    else:
        rows = measure(args)
    if args.child:
        return
    if args.rows:
        with open(args.rows, "a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    table(rows)


if __name__ == "__main__":
    main()
