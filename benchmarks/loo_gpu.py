"""Tree leave-one-out on a GPU: tokens, wall-clock and TFLOP/s of every engine side by side.

For each N, N random "demos" of ~L tokens (a prompt, a label token, a separator) are scored
leave-one-out (each query with the other N - 1 demos in context, ICM's mutual predictability)
by, in one process and one model:

    given     paper order (all other demos in given order) with prefix reuse:
              `PrefixEngine.given_loo`, ~N^2 L / 2 tokens
    tree      the recursive-split order, depth-first over one KV cache:
              `PrefixEngine.tree_loo`, O(N L log N) tokens in ~1.5 N calls
    packed    the same tree in a few packed forward passes with a tree attention mask:
              `hf_packed.PackedEngine` (FlexAttention on CUDA, dense masks on CPU)
    packed-dense   (optional) the packed engine with dense SDPA masks, for comparison
    prefill   one plain forward pass over `--prefill-tokens` random tokens: the model's
              throughput ceiling for this kind of work

Nothing is downloaded: `--config` builds a randomly initialised model from a hard-coded real
configuration (the speed of a forward pass does not depend on the weights), in bf16 on CUDA.
`--model` loads a real model (registered name or local directory) instead.

How FLOPs are counted (useful work only, the same for every engine that feeds the same tokens):
    2 x (parameters of the decoder layers) x tokens       matmuls; embeddings and the LM head
                                                          are left out (logits are computed
                                                          only at the read positions)
  + 4 x heads x head_dim x (visible keys) per layer       QK^T and PV, 2 FLOPs per multiply-add;
                                                          a token at path position t sees t + 1
                                                          keys, or min(t + 1, window) on a
                                                          sliding-window layer
Masked-out work a kernel still does (dense masks, padding) is not counted: TFLOP/s is achieved
useful throughput, compared with `--peak-tflops` (default 800, ~H100 bf16 dense in practice).

Timings: CUDA is synchronised around each run; every method runs once untimed at the smallest
N first (kernels, cuBLAS handles), and the packed engine once untimed at every N (torch.compile
of FlexAttention and of the BlockMask for new shapes). `--given-up-to` limits the slowest
method; above it the given order's tokens are counted without running it.

    python benchmarks/loo_gpu.py --config llama-3.2-1b                # N = 16..256, L = 80
    python benchmarks/loo_gpu.py --config llama-3.1-8b --given-up-to 128
    python benchmarks/loo_gpu.py --device cpu --config tiny --sizes 4,8,16 --prefill-tokens 512
    python benchmarks/loo_gpu.py ... --rows benchmarks/results/loo_gpu.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from elicit.backends.hf_packed import PackedEngine, loo_tree, tree_positions
from elicit.backends.hf_prefix import PrefixEngine, Request

#: Real model shapes (from their published config.json files), plus tiny ones for CPU tests.
CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        arch="llama", vocab_size=512, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=65536,
    ),
    "tiny-gemma3": dict(
        arch="gemma3", vocab_size=512, hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=16,
        sliding_window=64, layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=65536,
    ),
    "llama-3.2-1b": dict(
        arch="llama", vocab_size=128256, hidden_size=2048, intermediate_size=8192,
        num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, head_dim=64,
        max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
        rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0,
                          high_freq_factor=4.0, original_max_position_embeddings=8192),
    ),
    "llama-3.1-8b": dict(
        arch="llama", vocab_size=128256, hidden_size=4096, intermediate_size=14336,
        num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
        max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=False,
        rope_theta=500000.0,
        rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                          high_freq_factor=4.0, original_max_position_embeddings=8192),
    ),
    "gemma-3-270m": dict(
        arch="gemma3", vocab_size=262144, hidden_size=640, intermediate_size=2048,
        num_hidden_layers=18, num_attention_heads=4, num_key_value_heads=1, head_dim=256,
        sliding_window=512, max_position_embeddings=32768, query_pre_attn_scalar=256,
        rope_theta=1000000.0, rope_local_base_freq=10000.0, tie_word_embeddings=True,
        layer_types=[("full_attention" if (i + 1) % 6 == 0 else "sliding_attention")
                     for i in range(18)],
    ),
    "gemma-3-1b": dict(
        arch="gemma3", vocab_size=262144, hidden_size=1152, intermediate_size=6912,
        num_hidden_layers=26, num_attention_heads=4, num_key_value_heads=1, head_dim=256,
        sliding_window=512, max_position_embeddings=32768, query_pre_attn_scalar=256,
        rope_theta=1000000.0, rope_local_base_freq=10000.0, tie_word_embeddings=True,
        layer_types=[("full_attention" if (i + 1) % 6 == 0 else "sliding_attention")
                     for i in range(26)],
    ),
}  # fmt: skip

METHODS = ("given", "tree", "packed", "packed-dense", "prefill")


def build_model(name: str, dtype: torch.dtype, device: torch.device) -> Any:
    """A randomly initialised causal LM of configuration `name`, created on `device`."""
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, LlamaConfig

    spec = dict(CONFIGS[name])
    arch = spec.pop("arch")
    config = LlamaConfig(**spec) if arch == "llama" else Gemma3TextConfig(**spec)
    torch.manual_seed(0)
    make: Any = AutoModelForCausalLM.from_config  # untyped in transformers
    with torch.device(device):  # initialise on the GPU: an 8B model in fp32 on CPU is slow
        model = make(config, dtype=dtype)
    return model.eval()


def load_model(name: str, dtype: torch.dtype, device: torch.device) -> Any:
    from elicit.backends.hf import _load

    model, _ = _load(name, dtype, progress=False)
    return model.to(device).eval()


@dataclass(frozen=True)
class Workload:
    """N demos (prompt + label + separator) and their query prompts, as token ids."""

    start: list[int]
    demos: list[list[int]]
    queries: list[list[int]]
    singles: torch.Tensor

    @classmethod
    def random(cls, n: int, length: int, jitter: float, vocab: int, seed: int) -> Workload:
        rng = np.random.default_rng(seed)
        labels, sep = [vocab - 3, vocab - 2], vocab - 1
        lo, hi = max(3, int(length * (1 - jitter))), max(3, int(length * (1 + jitter)))
        prompts = [
            [int(t) for t in rng.integers(4, vocab - 4, size=int(rng.integers(lo, hi + 1)) - 2)]
            for _ in range(n)
        ]
        demos = [[*p, labels[int(rng.integers(2))], sep] for p in prompts]
        return cls([1], demos, prompts, torch.tensor(labels))

    @property
    def requests(self) -> list[list[Request]]:
        return [[Request(tuple(q), ())] for q in self.queries]

    def given_positions(self) -> np.ndarray:
        """Path positions of every token `PrefixEngine.given_loo` feeds."""
        out: list[np.ndarray] = [np.arange(len(self.start))]
        base = len(self.start)
        for i, q in enumerate(self.queries):
            if i:
                d = len(self.demos[i - 1])
                out.append(np.arange(base, base + d))
                base += d
            rest = sum(len(self.demos[j]) for j in range(i + 1, len(self.demos))) + len(q)
            out.append(np.arange(base, base + rest))
        return np.concatenate(out)

    def tree_positions(self) -> np.ndarray:
        root, _, _ = loo_tree(self.start, self.demos, self.requests)
        return np.fromiter(tree_positions(root), dtype=np.int64)


class Flops:
    """Useful FLOPs of a forward pass over tokens at given path positions (module docs)."""

    def __init__(self, model: Any) -> None:
        config = model.config
        self.layer_params = sum(p.numel() for p in model.base_model.layers.parameters())
        head_dim = getattr(config, "head_dim", None) or (
            config.hidden_size // config.num_attention_heads
        )
        self.attn_width = config.num_attention_heads * head_dim
        kinds = getattr(config, "layer_types", None) or ["full_attention"] * (
            config.num_hidden_layers
        )
        self.n_full = sum(k == "full_attention" for k in kinds)
        self.n_sliding = len(kinds) - self.n_full
        self.window = getattr(config, "sliding_window", None) or 0

    def __call__(self, positions: np.ndarray) -> tuple[float, float]:
        """(matmul FLOPs, attention FLOPs)."""
        keys = positions.astype(np.float64) + 1
        visible = self.n_full * keys.sum()
        if self.n_sliding:
            visible += self.n_sliding * np.minimum(keys, self.window).sum()
        return 2.0 * self.layer_params * len(positions), 4.0 * self.attn_width * visible


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--config", default="llama-3.2-1b", choices=sorted(CONFIGS))
    src.add_argument("--model", default=None, help="a real model (registered name or directory)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default=None, help="bfloat16 (CUDA default) or float32 (CPU)")
    ap.add_argument("--sizes", default="16,32,64,128,256", help="numbers of demos N")
    ap.add_argument("--length", type=int, default=80, help="mean demo length L in tokens")
    ap.add_argument("--jitter", type=float, default=0.25, help="demo lengths L*(1 +- jitter)")
    ap.add_argument("--methods", default="given,tree,packed,prefill", help=", ".join(METHODS))
    ap.add_argument("--given-up-to", type=int, default=256, help="run 'given' only up to this N")
    ap.add_argument("--batch-size", type=int, default=16, help="rows per call (tree, given)")
    ap.add_argument("--packed-tokens", type=int, default=None, help="packed tokens per pass")
    ap.add_argument("--prefill-tokens", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=1, help="best of this many timings")
    ap.add_argument("--peak-tflops", type=float, default=800.0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", default=None, help="append tidy JSON rows to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype_name = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}[
        dtype_name
    ]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if unknown := set(methods) - set(METHODS):
        ap.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    name = args.model or args.config
    model = (
        load_model(args.model, dtype, device) if args.model else build_model(name, dtype, device)
    )
    flops = Flops(model)
    vocab = int(model.config.vocab_size)
    gpu = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine()
    )
    print(
        f"{name} ({flops.layer_params / 1e9:.3f}B layer parameters), {dtype_name} on {device} "
        f"({gpu}, {torch.get_num_threads()} threads), L = {args.length}"
    )
    calls = [0]
    tokens = [0]

    def count(n: int) -> None:
        calls[0] += 1
        tokens[0] += n

    engine = PrefixEngine(
        model, device=device, pad_id=0, batch_size=args.batch_size, count=count, store=None
    )
    packed = PackedEngine(engine, max_tokens=args.packed_tokens) if "packed" in methods else None
    dense = (
        PackedEngine(engine, attention="dense", max_tokens=args.packed_tokens)
        if "packed-dense" in methods
        else None
    )

    def prefill(_: Workload) -> None:
        ids = torch.randint(4, vocab - 4, (1, args.prefill_tokens), device=device)
        with torch.inference_mode():
            model(input_ids=ids, use_cache=False, logits_to_keep=1)
        count(args.prefill_tokens)

    runners: dict[str, Callable[[Workload], Any]] = {
        "given": lambda w: engine.given_loo(w.start, w.demos, w.requests, w.singles),
        "tree": lambda w: engine.tree_loo(w.start, w.demos, w.requests, w.singles),
        "prefill": prefill,
    }
    engines = {k: e for k, e in (("packed", packed), ("packed-dense", dense)) if e is not None}
    if packed is not None:
        runners["packed"] = lambda w: packed.tree_loo(w.start, w.demos, w.requests, w.singles)
    if dense is not None:
        runners["packed-dense"] = lambda w: dense.tree_loo(w.start, w.demos, w.requests, w.singles)

    def timed(method: str, work: Workload) -> tuple[float, Any]:
        best, result = float("inf"), None
        for _ in range(args.repeats):
            calls[0] = tokens[0] = 0
            synchronize(device)
            t0 = time.perf_counter()
            result = runners[method](work)
            synchronize(device)
            best = min(best, time.perf_counter() - t0)
        return best, result

    sizes = [int(s) for s in args.sizes.split(",")]
    warm = Workload.random(min(sizes), args.length, args.jitter, vocab, args.seed)
    for method in methods:
        runners[method](warm)

    print("| N | method | tokens | calls | seconds | tokens/s | TFLOP/s | % peak | vs prefill "
          "| max abs diff vs tree |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    prefill_rate: float | None = None
    if "prefill" in methods:
        seconds, _ = timed("prefill", warm)
        prefill_rate = args.prefill_tokens / seconds
    for n in sizes:
        work = Workload.random(n, args.length, args.jitter, vocab, args.seed + n)
        tree_scores: np.ndarray | None = None
        for method in methods:
            if method == "given":
                positions = work.given_positions()
            elif method == "prefill":
                positions = np.arange(args.prefill_tokens)
            else:
                positions = work.tree_positions()
            mm, attn = flops(positions)
            row: dict[str, Any] = {
                "benchmark": "loo_gpu",
                "model": name,
                "device": str(device),
                "device_name": gpu,
                "dtype": dtype_name,
                "threads": torch.get_num_threads(),
                "n": n,
                "length": args.length,
                "method": method,
                "tokens": len(positions),
                "matmul_flops": mm,
                "attention_flops": attn,
                "attention": engines[method].attention if method in engines else None,
                "packed_tokens": engines[method].max_tokens if method in engines else None,
            }
            if method == "given" and n > args.given_up_to:
                row.update(seconds=None)
                print(f"| {n} | {method} | {len(positions)} | (not run) | | | | | | |")
            else:
                if method == "packed" and device.type == "cuda":
                    runners[method](work)  # compile for this shape, untimed
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                seconds, result = timed(method, work)
                assert tokens[0] == len(positions), (method, tokens[0], len(positions))
                diff = None
                if method in ("tree", "packed", "packed-dense"):
                    lo = np.array([[float(r[0][1] - r[0][0])] for r in result]).ravel()
                    if method == "tree":
                        tree_scores = lo
                    elif tree_scores is not None:
                        diff = float(np.abs(lo - tree_scores).max())
                rate = len(positions) / seconds
                tflops = (mm + attn) / seconds / 1e12
                row.update(
                    calls=calls[0],
                    seconds=seconds,
                    tokens_per_s=rate,
                    tflops=tflops,
                    pct_peak=100 * tflops / args.peak_tflops,
                    vs_prefill=rate / prefill_rate if prefill_rate else None,
                    max_abs_diff_vs_tree=diff,
                    peak_memory_gb=torch.cuda.max_memory_allocated(device) / 2**30
                    if device.type == "cuda"
                    else None,
                )
                vs = f"{rate / prefill_rate:.2f}" if prefill_rate else "-"
                print(
                    f"| {n} | {method} | {len(positions)} | {calls[0]} | {seconds:.3f} "
                    f"| {rate:.0f} | {tflops:.3g} | {100 * tflops / args.peak_tflops:.2g} | {vs} "
                    f"| {'-' if diff is None else f'{diff:.1e}'} |",
                    flush=True,
                )
            if args.rows:
                with open(args.rows, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
