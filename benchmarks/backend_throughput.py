"""Label-scoring throughput of every backend on the default model, measured in one run.

The same `--n` SST-2 test prompts (single claims, ~40 tokens) are scored by

    hf        transformers, the GGUF dequantised to fp32, batches of `--batch-size`
    llamacpp  llama.cpp in-process on the Q4_K_M GGUF
    openai    llama-cpp-python's OpenAI-compatible server on the same GGUF, started here on a
              free loopback port, `--batch-size` requests in flight

one after the other, each timed after one warm-up call (`--repeats` timings, best kept), and
each backend's scores are compared with hf's. All backends get `--threads` CPU threads. Rows:
backend, prompts/s, tokens/s (prompt tokens counted with the hf tokenizer), seconds,
correlation and largest difference of log-odds against hf. Compare ratios within one run:
the machines are shared.

    python benchmarks/backend_throughput.py --n 48 --rows benchmarks/results/backend_throughput.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import numpy as np

from elicit.backends import load_lm
from elicit.backends.base import LM
from elicit.models import DEFAULT_MODEL, gguf_file
from elicit.tasks import load_task, sample
from elicit.tasks.base import LoadOptions


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def llama_server(gguf: Path, threads: int) -> Iterator[str]:
    """llama-cpp-python's server on a free loopback port; yields its base URL."""
    port = _free_port()
    log_path = Path(tempfile.mkdtemp(prefix="llama-server-")) / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
           "gemma", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
           "--n_threads", str(threads)]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"llama_cpp.server exited; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"llama_cpp.server did not start; see {log_path}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def timed(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    fn()  # warm-up: first-call allocations, llama.cpp's first graph build
    best, out = float("inf"), np.zeros(0)
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--backends", default="hf,llamacpp,openai")
    ap.add_argument("--rows", default=None, help="append JSON rows here")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)

    data = sample(load_task("sst2", LoadOptions(split="test")), args.n, 0)
    prompts = [ex.prompt for ex in data.examples]
    hf = load_lm(args.model, "hf", batch_size=args.batch_size)
    n_tokens = sum(hf.count_tokens(p) + 1 for p in prompts)  # + BOS
    reference: np.ndarray | None = None
    rows = []
    for backend in args.backends.split(","):
        server = (
            llama_server(gguf_file(args.model), args.threads)
            if backend == "openai"
            else nullcontext("")
        )
        with server as url:
            lm: LM
            if backend == "hf":
                lm = hf
            elif backend == "llamacpp":
                lm = load_lm(args.model, "llamacpp", n_threads=args.threads)
            else:
                lm = load_lm(f"openai:{url}/gemma", batch_size=args.batch_size)
            seconds, scores = timed(partial(lm.score, prompts), args.repeats)
            if backend != "hf":
                lm.close()
        if reference is None:
            reference = scores
        row = {
            "backend": backend,
            "model": args.model,
            "n": len(prompts),
            "tokens": n_tokens,
            "seconds": seconds,
            "prompts_per_s": len(prompts) / seconds,
            "tokens_per_s": n_tokens / seconds,
            "corr_vs_hf": float(np.corrcoef(scores, reference)[0, 1]),
            "max_abs_diff_vs_hf": float(np.max(np.abs(scores - reference))),
            "threads": args.threads,
            "batch_size": args.batch_size,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        }
        rows.append(row)
        print(
            f"{backend:9s} {row['prompts_per_s']:7.2f} prompts/s {row['tokens_per_s']:8.1f} "
            f"tokens/s  corr vs hf {row['corr_vs_hf']:.4f}  max |diff| "
            f"{row['max_abs_diff_vs_hf']:.3f}",
            flush=True,
        )
    if args.rows:
        with open(args.rows, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
