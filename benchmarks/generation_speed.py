"""Generation speed of the llama.cpp and transformers backends for LMSI's sampling (issue 23).

Self-improvement samples 8-32 chain-of-thought paths per question; what that costs on this
machine is the backend's generation throughput. For each model and backend, one process each,
side by side in one run:

    greedy     `--questions` 4-shot CoT prompts of the arithmetic set, one path each
    sampled    `--paths` paths of each of the same prompts at temperature 0.7, as
               `selfimprove.sampling.sample_paths` asks for them (the paths of a question in
               one `LM.generate` call: a batch of copies on transformers, one after another on
               llama.cpp, whose prompt cache keeps the shared prompt)

and reports generated tokens (the model's own tokenizer counts the continuations), prompt
tokens, wall seconds and generated tokens per second. transformers runs fp32 on the CPU with
`--hf-batch` prompts per forward pass. `--llamacpp-threads` runs llama.cpp once per thread
count ("default" is llama-cpp-python's choice: half the cores for generation, all of them for
prompts; a number sets both). Timings on a shared machine are noisy: compare rows of one run,
and read the load column.

    python benchmarks/generation_speed.py --rows benchmarks/results/generation_speed.jsonl
    python benchmarks/generation_speed.py --models qwen2.5-coder-0.5b-instruct --backends llamacpp \
        --llamacpp-threads default,2 --rows benchmarks/results/generation_threads.jsonl
    python benchmarks/generation_speed.py --report benchmarks/results/generation_speed.jsonl
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
from elicit.backends.base import LM, GenerationConfig
from elicit.selfimprove.prompts import STOP, cot_prompt
from elicit.selfimprove.questions import load_exemplars, load_questions, sample_questions


def prompts_for(n: int, shots: int) -> list[str]:
    questions = sample_questions(load_questions("arithmetic", "test"), n, seed=0)
    exemplars = load_exemplars("arithmetic", shots, seed=0)
    return [cot_prompt(exemplars, q.text, questions.kind) for q in questions.questions]


def timed(lm: LM, prompts: list[str], config: GenerationConfig) -> tuple[float, list[str]]:
    start = time.perf_counter()
    texts = lm.generate(prompts, config)
    return time.perf_counter() - start, texts


def measure(
    model: str, backend: str, threads: int | None, args: argparse.Namespace
) -> list[dict[str, Any]]:
    options: dict[str, Any] = {} if threads is None else {"n_threads": threads}
    lm = load_lm(model, backend, batch_size=args.hf_batch, progress=False, **options)
    prompts = prompts_for(args.questions, args.shots)
    prompt_tokens = sum(lm.count_tokens(p) for p in prompts)
    lm.generate(prompts[:1], GenerationConfig(max_new_tokens=4, stop=STOP))  # warm-up
    runs = {
        "greedy": (prompts, GenerationConfig(max_new_tokens=args.max_new_tokens, stop=STOP)),
        "sampled": (
            [p for p in prompts for _ in range(args.paths)],
            GenerationConfig(
                max_new_tokens=args.max_new_tokens, temperature=0.7, stop=STOP, seed=0
            ),
        ),
    }
    rows = []
    for mode, (batch, config) in runs.items():
        seconds, texts = timed(lm, batch, config)
        generated = sum(lm.count_tokens(t) for t in texts)
        rows.append(
            {
                "benchmark": "generation_speed",
                "model": model,
                "backend": backend,
                "mode": mode,
                "prompts": len(batch),
                "prompt_tokens": prompt_tokens * len(batch) // len(prompts),
                "generated_tokens": generated,
                "seconds": seconds,
                "generated_per_s": generated / seconds,
                "hf_batch": args.hf_batch if backend == "hf" else None,
                "threads": threads,
                "max_new_tokens": args.max_new_tokens,
                "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
                "load_avg_1min": os.getloadavg()[0],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    lm.close()
    return rows


def thread_counts(spec: str) -> list[int | None]:
    """'default,2' -> [None, 2]; an empty spec is the backend's default alone."""
    words = [w.strip() for w in spec.split(",") if w.strip()] or ["default"]
    return [None if w == "default" else int(w) for w in words]


def report(path: str) -> None:
    rows = read_rows(path)
    print(
        "| model | backend | mode | prompts | prompt tokens | generated tokens | seconds | "
        "generated tokens/s | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        backend = r["backend"] + (f" (batch {r['hf_batch']})" if r["hf_batch"] else "")
        if r.get("threads"):
            backend += f", {r['threads']} threads"
        print(
            f"| {r['model']} | {backend} | {r['mode']} | {r['prompts']} | {r['prompt_tokens']} | "
            f"{r['generated_tokens']} | {r['seconds']:.1f} | {r['generated_per_s']:.1f} | "
            f"{r['load_avg_1min']:.1f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default="qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--backends", default="llamacpp,hf")
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--paths", type=int, default=8, help="sampled paths per question")
    ap.add_argument("--shots", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--hf-batch", type=int, default=8, help="transformers prompts per batch")
    ap.add_argument(
        "--llamacpp-threads",
        default="default",
        help="comma-separated llama.cpp thread counts to compare ('default': the library's)",
    )
    ap.add_argument("--rows", default=None, help="append the rows to this JSONL file")
    ap.add_argument("--report", metavar="ROWS", help="only print the table of a rows file")
    args = ap.parse_args()
    if args.report:
        report(args.report)
        return
    rows = []
    for model in args.models.split(","):
        for backend in args.backends.split(","):
            for threads in thread_counts(args.llamacpp_threads if backend == "llamacpp" else ""):
                rows += measure(model, backend, threads, args)
    if args.rows:
        append_rows(args.rows, rows)
        report(args.rows)


if __name__ == "__main__":
    main()
