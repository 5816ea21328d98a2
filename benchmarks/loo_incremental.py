"""Re-scoring after one change: what the prefix store (`hf_prefix.PrefixCache`) saves.

ICM evaluates a labelled set, then the set with one label flipped or one example added, and so
on. The transformers backend keeps the key and value states of the prefixes it computed, so a
re-evaluation feeds the model only the prefixes after the change (and the leaf rows). For each
N, with N labelled SST-2 claims in tree order, in one process:

    full       the set scored with an empty store (what every evaluation costs without it)
    flip       one label flipped at a random position, right after the full evaluation
    flip-last  the last demo of the order flipped
    add        one claim added at a random position
    fresh      the same changed sets scored with an empty store (exactness and fresh cost)

The tokens a change feeds depend only on the tree and the token lengths, so they are also
counted, without the model, for a flip at every position and an addition at every position,
up to N = 256 (`count`; it mirrors the engine's walk and is checked against the measured runs).

Then a short real ICM search (`search.icm.run_search`) runs twice, with the store and without
(`prefix_cache_bytes=0`), and reports the tokens its leave-one-out and many-shot calls fed the
model and whether both runs chose the same labels.

Tokens are `HFBackend.tokens_processed`; seconds are wall-clock on a shared machine, so compare
ratios within one run. One torch thread (see loo_speed.py for why).

    python benchmarks/loo_incremental.py --sizes 16,32,64 --icm-sizes 16,32 \\
        --rows benchmarks/results/loo_incremental_gemma-3-270m_cpu.jsonl     # ~40 min on 2 cores
    python benchmarks/loo_incremental.py --sizes 16 --flips 2 --additions 1 --icm-sizes 16
    python benchmarks/loo_incremental.py --sizes "" --icm-sizes "" --count-sizes 16,64,256
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from elicit.backends import load_lm
from elicit.backends.base import LM, TRUE_FALSE, Demo, FloatArray, GenerationConfig, LabelSet
from elicit.backends.hf import HFBackend
from elicit.backends.hf_prefix import TREE_LEAF, PrefixCache
from elicit.backends.prompting import render_demo
from elicit.models import DEFAULT_MODEL
from elicit.search.icm import SearchConfig, run_search
from elicit.tasks import load_task, sample
from elicit.tasks.base import TaskData


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--sizes", default="16,32,64", help="numbers of labelled examples N")
    ap.add_argument("--flips", type=int, default=3, help="random flips per N (plus the last)")
    ap.add_argument("--additions", type=int, default=2, help="random additions per N")
    ap.add_argument("--icm-sizes", default="16,32", help="pool sizes of the ICM searches")
    ap.add_argument("--icm-iterations", type=int, default=20)
    ap.add_argument(
        "--count-sizes", default="16,32,64,128,256", help="N for the model-free token counts"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--rows", default=None, help="append tidy JSON rows to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    lm = load_lm(args.model, batch_size=args.batch_size, progress=False)
    if not isinstance(lm, HFBackend) or lm.prefix_store is None:
        raise SystemExit("this benchmark needs the transformers backend with its prefix store")
    task = load_task(args.task)
    meta = {
        "model": args.model,
        "task": args.task,
        "device": str(lm.device),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "budget_bytes": lm.prefix_store.budget_bytes,
    }
    print(
        f"{args.model} on {lm.device} ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads), task {args.task}, store budget "
        f"{lm.prefix_store.budget_bytes / 2**30:.1f} GiB"
    )

    def emit(row: dict[str, Any]) -> None:
        if args.rows:
            with open(args.rows, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({**meta, **row}) + "\n")

    print("\nTokens of a re-evaluation / a fresh one, every position (counted, no model):")
    print("| N | full tokens | flip mean | flip min | flip max | add mean | add min | add max |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes(args.count_sizes):
        emit({"benchmark": "loo_incremental_count", "n": n, **count(lm, task, n)})
    timed(lm, labelled(task, 4, 0))  # warm-up
    print("\n| N | change | tokens | vs fresh | CPU s | vs fresh | wall s | reused | max diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sizes(args.sizes):
        rng = random.Random(args.seed * 1000 + n)
        for row in changes(lm, task, n, args.flips, args.additions, rng):
            emit({"benchmark": "loo_incremental", "n": n, **row})
    print(
        "\n| pool | store | LOO tokens | context tokens | tokens | CPU s | wall s | evaluations |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes(args.icm_sizes):
        for row in icm(lm, task, n, args.icm_iterations, args.seed):
            emit({"benchmark": "loo_incremental_icm", "n": n, **row})


def sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def labelled(task: TaskData, n: int, seed: int) -> list[Demo]:
    data = sample(task, n, seed=seed)
    # Labels do not change the cost; alternate them.
    return [Demo(ex.prompt, i % 2) for i, ex in enumerate(data.examples)]


@dataclass(frozen=True)
class Run:
    scores: FloatArray
    tokens: int  # fed to the model
    wall: float  # seconds
    cpu: float  # this process's CPU seconds: with one torch thread, robust to other jobs' load
    reused: int  # tokens whose states were copied from the store


def timed(lm: HFBackend, demos: Sequence[Demo]) -> Run:
    """One tree-ordered leave-one-out evaluation of `demos`."""
    assert lm.prefix_store is not None
    lm.tokens_processed = 0
    reused = lm.prefix_store.reused_tokens
    wall, cpu = time.perf_counter(), time.process_time()
    scores = lm.loo_scores(demos, order="tree")
    return Run(
        scores=scores,
        tokens=lm.tokens_processed,
        wall=time.perf_counter() - wall,
        cpu=time.process_time() - cpu,
        reused=lm.prefix_store.reused_tokens - reused,
    )


def walk_cost(
    lm: HFBackend, demos: Sequence[Demo], stored: set[tuple[int, int]] | None = None
) -> int:
    """Tokens `PrefixEngine.tree_loo` feeds for `demos` when the store holds the nodes in
    `stored` (an unbounded budget); adds the walk's nodes to `stored`.

    A node is (id of its parent node, id of its segment's token ids), ids interned in `_IDS`:
    the store's key, a path of token sequences, in a form that hashes in O(1)."""
    stored = set() if stored is None else stored
    ids = [tuple(lm.encoder.tokens(render_demo(d, TRUE_FALSE))) for d in demos]
    queries = [len(lm.encoder.tokens(d.prompt)) for d in demos]
    fed = 0

    def step(node: int, segment: tuple[int, ...]) -> int:
        nonlocal fed
        key = (node, intern(segment))
        if key not in stored:
            fed += len(segment)
            stored.add(key)
        return intern(key)

    def visit(lo: int, hi: int, node: int) -> None:
        nonlocal fed
        if hi - lo <= TREE_LEAF:  # rows: the node's other demos and the query
            for i in range(lo, hi):
                fed += sum(len(ids[j]) for j in range(lo, hi) if j != i) + queries[i]
            return
        mid = (lo + hi) // 2
        for (a, b), block in (((lo, mid), range(mid, hi)), ((mid, hi), range(lo, mid))):
            here = node
            for j in block:
                here = step(here, ids[j])
            visit(a, b, here)

    root = step(0, tuple(lm.start_tokens()))
    if demos:
        visit(0, len(demos), root)
    return fed


_IDS: dict[object, int] = {}


def intern(key: object) -> int:
    return _IDS.setdefault(key, len(_IDS) + 1)


def count(lm: HFBackend, task: TaskData, n: int) -> dict[str, Any]:
    """Token ratios of a flip at every position and an addition at every position."""
    pool = labelled(task, n + 1, seed=0)
    base, extra = pool[:n], pool[n]
    stored: set[tuple[int, int]] = set()
    full = walk_cost(lm, base, stored)

    def ratio(changed: list[Demo]) -> float:
        return walk_cost(lm, changed, set(stored)) / walk_cost(lm, changed)

    flips = [ratio([flipped(d) if i == j else d for i, d in enumerate(base)]) for j in range(n)]
    adds = [ratio([*base[:r], extra, *base[r:]]) for r in range(n + 1)]
    row = {
        "full_tokens": full,
        "flip_mean": float(np.mean(flips)),
        "flip_min": min(flips),
        "flip_max": max(flips),
        "flip_last": flips[-1],
        "add_mean": float(np.mean(adds)),
        "add_min": min(adds),
        "add_max": max(adds),
    }
    print(
        f"| {n} | {full} | {row['flip_mean']:.2f} | {row['flip_min']:.2f} | "
        f"{row['flip_max']:.2f} | {row['add_mean']:.2f} | {row['add_min']:.2f} | "
        f"{row['add_max']:.2f} |",
        flush=True,
    )
    return row


def flipped(demo: Demo) -> Demo:
    return replace(demo, label=1 - demo.label)


def changes(
    lm: HFBackend, task: TaskData, n: int, flips: int, additions: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Each change scored on a copy of the store as the full evaluation left it, then with an
    empty store (a flip's fresh cost is a full one's: same tokens; one is run for exactness)."""
    assert lm.prefix_store is not None
    budget = lm.prefix_store.budget_bytes
    pool = labelled(task, n + additions, seed=0)
    base, spare = pool[:n], pool[n:]
    lm.prefix_store = PrefixCache(budget)
    full = timed(lm, base)
    after_full = lm.prefix_store
    counted: set[tuple[int, int]] = set()
    assert walk_cost(lm, base, counted) == full.tokens, "the model-free count is off"
    trials: list[tuple[str, int, list[Demo]]] = []
    for kind, j in [("flip-last", n - 1)] + [("flip", rng.randrange(n)) for _ in range(flips)]:
        trials.append((kind, j, [flipped(d) if i == j else d for i, d in enumerate(base)]))
    for extra in spare:
        r = rng.randrange(n + 1)
        trials.append(("add", r, [*base[:r], extra, *base[r:]]))
    rows: list[dict[str, Any]] = []

    def report(kind: str, pos: int | None, run: Run, fresh: Run, diff: float | None) -> None:
        print(
            f"| {n} | {kind}" + (f" at {pos}" if pos is not None else "") + f" | {run.tokens} | "
            f"{run.tokens / fresh.tokens:.2f} | {run.cpu:.1f} | {run.cpu / fresh.cpu:.2f} | "
            f"{run.wall:.1f} | {run.reused} | "
            + (f"{diff:.1e}" if diff is not None else "-")
            + " |",
            flush=True,
        )
        rows.append(
            {
                "change": kind,
                "position": pos,
                "tokens": run.tokens,
                "seconds": run.wall,
                "cpu_seconds": run.cpu,
                "fresh_tokens": fresh.tokens,
                "fresh_seconds": fresh.wall,
                "fresh_cpu_seconds": fresh.cpu,
                "reused_tokens": run.reused,
                "store_bytes": after_full.nbytes,
                "max_abs_diff_vs_fresh": diff,
            }
        )

    report("full", None, full, full, None)
    fresh_flip: Run | None = None
    for kind, pos, demos in trials:
        lm.prefix_store = copy_store(after_full)
        run = timed(lm, demos)
        assert walk_cost(lm, demos, set(counted)) == run.tokens, "the model-free count is off"
        diff = None
        if kind == "add" or fresh_flip is None:
            lm.prefix_store = PrefixCache(budget)
            fresh = timed(lm, demos)
            diff = float(np.abs(run.scores - fresh.scores).max())
            if kind != "add":  # a flip's fresh cost: the mean of two fresh evaluations
                fresh_flip = fresh = replace(
                    fresh, wall=(fresh.wall + full.wall) / 2, cpu=(fresh.cpu + full.cpu) / 2
                )
        else:
            fresh = fresh_flip
        report(kind, pos, run, fresh, diff)
    lm.prefix_store = PrefixCache(budget)
    for kind in ("flip", "add"):
        sel = [r for r in rows if r["change"] == kind]
        if sel:
            t = np.mean([r["tokens"] / r["fresh_tokens"] for r in sel])
            c = np.mean([r["cpu_seconds"] / r["fresh_cpu_seconds"] for r in sel])
            print(f"| {n} | mean {kind} ({len(sel)}) | | {t:.2f} | | {c:.2f} | | | |", flush=True)
    return rows


def copy_store(store: PrefixCache) -> PrefixCache:
    """A store holding the same nodes (sharing their states, which are never written)."""
    out = PrefixCache(store.budget_bytes)
    twin = {id(store.root): out.root}
    for node in store.nodes():  # parents first
        assert node.parent is not None
        copied = out.insert(twin[id(node.parent)], node.segment, node.kv)
        assert copied is not None
        twin[id(node)] = copied
    out.reused_tokens = out.stored_tokens = 0
    return out


class Tally(LM):
    """Passes every call to `inner`, adding up the tokens and seconds of each kind of call."""

    def __init__(self, inner: HFBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_length = inner.max_length
        self.native_loo = inner.native_loo
        self.tokens = {"loo": 0, "context": 0, "other": 0}
        self.cpu = {"loo": 0.0, "context": 0.0, "other": 0.0}  # CPU seconds

    def _run(self, kind: str, call: Callable[[], Any]) -> Any:
        before, start = self.inner.tokens_processed, time.process_time()
        out = call()
        self.tokens[kind] += self.inner.tokens_processed - before
        self.cpu[kind] += time.process_time() - start
        return out

    def label_logprobs(
        self, prompts: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        out: FloatArray = self._run("other", lambda: self.inner.label_logprobs(prompts, label_set))
        return out

    def loo_scores(
        self,
        demos: Sequence[Demo],
        label_set: LabelSet = TRUE_FALSE,
        *,
        order: Any = "given",
        context: Sequence[Demo] = (),
    ) -> FloatArray:
        out: FloatArray = self._run(
            "loo", lambda: self.inner.loo_scores(demos, label_set, order=order, context=context)
        )
        return out

    def context_scores(
        self, demos: Sequence[Demo], queries: Sequence[str], label_set: LabelSet = TRUE_FALSE
    ) -> FloatArray:
        out: FloatArray = self._run(
            "context", lambda: self.inner.context_scores(demos, queries, label_set)
        )
        return out

    def generate(self, prompts: Sequence[str], config: GenerationConfig) -> list[str]:
        return self.inner.generate(prompts, config)


def icm(lm: HFBackend, task: TaskData, n: int, iterations: int, seed: int) -> list[dict[str, Any]]:
    """The same short search with the store and without; both must choose the same labels."""
    data = sample(task, n, seed=seed)
    store = lm.prefix_store
    rows: list[dict[str, Any]] = []
    labels: list[dict[str, int]] = []
    for use_store in (True, False):
        lm.prefix_store = store if use_store else None
        if store is not None:
            store.clear()
        reused = store.reused_tokens if store is not None else 0
        tally = Tally(lm)
        start, cpu = time.perf_counter(), time.process_time()
        result = run_search(
            tally, data.examples, data.consistency, SearchConfig(iterations=iterations), seed=seed
        )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        labels.append(result.labels)
        total = sum(tally.tokens.values())
        row = {
            "store": use_store,
            "iterations": iterations,
            "loo_tokens": tally.tokens["loo"],
            "context_tokens": tally.tokens["context"],
            "tokens": total,
            "seconds": seconds,
            "cpu_seconds": cpu,
            "loo_cpu_seconds": tally.cpu["loo"],
            "context_cpu_seconds": tally.cpu["context"],
            "reused_tokens": (store.reused_tokens - reused) if use_store and store else 0,
            "lm_evaluations": result.lm_evaluations,
            "n_labelled": result.n_labelled,
        }
        rows.append(row)
        print(
            f"| {n} | {'yes' if use_store else 'no'} | {row['loo_tokens']} | "
            f"{row['context_tokens']} | {total} | {cpu:.1f} | {seconds:.1f} | "
            f"{result.lm_evaluations} |",
            flush=True,
        )
    lm.prefix_store = store
    same = labels[0] == labels[1]
    with_store, without = rows
    print(
        f"| {n} | ratio | {with_store['loo_tokens'] / without['loo_tokens']:.2f} | "
        f"{with_store['context_tokens'] / max(1, without['context_tokens']):.2f} | "
        f"{with_store['tokens'] / without['tokens']:.2f} | "
        f"{with_store['cpu_seconds'] / without['cpu_seconds']:.2f} | "
        f"{with_store['seconds'] / without['seconds']:.2f} | same labels: {same} |",
        flush=True,
    )
    for row in rows:
        row["same_labels"] = same
    return rows


if __name__ == "__main__":
    main()
