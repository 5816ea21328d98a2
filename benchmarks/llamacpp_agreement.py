"""How closely the llama.cpp backend agrees with the transformers backend, and how fast each is.

Both backends score the same claims of a task with the same model: llama.cpp runs the GGUF's
quantised weights (Q4_K_M for gemma-3-270m), transformers the same weights dequantised to fp32.
Two settings: zero-shot (each claim alone) and many-shot (`context_scores`: each claim after
the same k gold-labelled training demos). For each it prints the correlation and the max/mean
absolute difference of the log-odds log P(True) - log P(False), the accuracy and AUROC of each
backend, how often they predict the same label, and throughput side by side: prompt tokens per
second (the tokens of the text prompts, the same for both) and the tokens each backend actually
fed its model (both share prefixes, differently). Both run on the same number of CPU threads,
one after the other, each after a warm-up call. Timings on a shared machine are noisy: compare
the ratio within one run.

    python benchmarks/llamacpp_agreement.py --task sst2 --n 100 --threads 1 \
        --rows benchmarks/results/llamacpp_agreement.jsonl
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from elicit.backends.base import LM, Demo, LabelSet
from elicit.backends.hf import HFBackend
from elicit.backends.llamacpp import LlamaCppBackend
from elicit.backends.prompting import render_context
from elicit.evaluation.metrics import accuracy, auroc
from elicit.models import DEFAULT_MODEL
from elicit.runs import atomic_write_jsonl, read_jsonl
from elicit.tasks import load_task, sample
from elicit.tasks.base import LoadOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--n", type=int, default=100, help="test claims scored")
    ap.add_argument("--shots", type=int, default=8, help="gold-labelled demos (many-shot)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads for both backends")
    ap.add_argument("--rows", default=None, help="JSONL file the tidy rows are written to")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    data = sample(load_task(args.task), args.n, seed=args.seed)
    gold = np.asarray(data.gold_of(data.examples))
    train = sample(load_task(args.task, LoadOptions(split="train")), args.shots, seed=args.seed)
    demos = [
        Demo(ex.prompt, label)
        for ex, label in zip(train, train.gold_of(train.examples), strict=True)
    ]
    labels = LabelSet(words=data.label_words)
    queries = [ex.prompt for ex in data.examples]
    settings: dict[str, Callable[[LM], np.ndarray]] = {
        "zero-shot": lambda lm: lm.score(queries, labels),
        f"{args.shots}-shot": lambda lm: lm.context_scores(demos, queries, labels),
    }
    texts = {
        "zero-shot": queries,
        f"{args.shots}-shot": [render_context(demos, q, labels) for q in queries],
    }

    hf = HFBackend(args.model, device="cpu", progress=False)
    llama = LlamaCppBackend(args.model, n_threads=args.threads, progress=False)
    print(
        f"{args.task}: {len(data)} test claims, {args.model}, {args.threads} thread(s), "
        f"{platform.processor() or platform.machine()}"
    )
    rows: list[dict[str, Any]] = []
    for setting, run in settings.items():
        prompt_tokens = sum(len(hf.encoder.encode(t)) for t in texts[setting])
        results = {name: _timed(lm, run) for name, lm in (("hf", hf), ("llamacpp", llama))}
        s_hf, s_ll = results["hf"][0], results["llamacpp"][0]
        diff = np.abs(s_hf - s_ll)
        row: dict[str, Any] = {
            "task": args.task,
            "model": args.model,
            "setting": setting,
            "n": len(data),
            "threads": args.threads,
            "correlation": float(np.corrcoef(s_hf, s_ll)[0, 1]),
            "max_abs_diff": float(diff.max()),
            "mean_abs_diff": float(diff.mean()),
            "mean_diff_llamacpp_minus_hf": float((s_ll - s_hf).mean()),
            "sign_agreement": float(((s_hf > 0) == (s_ll > 0)).mean()),
            "prompt_tokens": prompt_tokens,
        }
        for name, (scores, seconds, fed) in results.items():
            row[f"{name}_accuracy"] = accuracy(scores, gold)
            row[f"{name}_auroc"] = auroc(scores, gold)
            row[f"{name}_seconds"] = seconds
            row[f"{name}_tokens_fed"] = fed
            row[f"{name}_prompt_tokens_per_s"] = prompt_tokens / seconds
        row["speed_ratio_llamacpp_over_hf"] = results["hf"][1] / results["llamacpp"][1]
        rows.append(row)
        _print(row)
    llama.close()
    hf.close()
    if args.rows:
        # Replace this task and model's rows from an earlier run; keep the others.
        old = read_jsonl(args.rows) if Path(args.rows).exists() else []
        old = [r for r in old if (r.get("task"), r.get("model")) != (args.task, args.model)]
        atomic_write_jsonl(args.rows, old + rows)
        print(f"rows written to {args.rows}")


def _timed(lm: LM, run: Callable[[LM], np.ndarray]) -> tuple[np.ndarray, float, int]:
    """Scores, seconds and tokens fed of one call, after a warm-up call on the same prompts
    (which also fills llama.cpp's cache with whatever the last prompt left: the timed call
    then starts from that cache, as a real run's next call would)."""
    run(lm)
    start_tokens = _fed(lm)
    start = time.perf_counter()
    scores = run(lm)
    return (
        np.asarray(scores, dtype=np.float64),
        time.perf_counter() - start,
        _fed(lm) - start_tokens,
    )


def _fed(lm: LM) -> int:
    return int(getattr(lm, "tokens_processed", 0))


def _print(r: dict[str, Any]) -> None:
    print(
        f"\n{r['setting']}: log-odds correlation {r['correlation']:.4f}, max |diff| "
        f"{r['max_abs_diff']:.3f}, mean |diff| {r['mean_abs_diff']:.3f}, mean llama.cpp - hf "
        f"{r['mean_diff_llamacpp_minus_hf']:+.3f}, same prediction "
        f"{100 * r['sign_agreement']:.0f}%"
    )
    print("| backend | accuracy | AUROC | seconds | prompt tokens/s | tokens fed |")
    print("|---|---|---|---|---|---|")
    for name in ("hf", "llamacpp"):
        print(
            f"| {name} | {100 * r[f'{name}_accuracy']:.1f}% | {r[f'{name}_auroc']:.3f} | "
            f"{r[f'{name}_seconds']:.2f} | "
            f"{r[f'{name}_prompt_tokens_per_s']:.0f} | {r[f'{name}_tokens_fed']} |"
        )
    print(f"llama.cpp / hf speed: {r['speed_ratio_llamacpp_over_hf']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
