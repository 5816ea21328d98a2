"""What loading without llama.cpp's extra buffer types costs (`backends/llamacpp_amx.py`).

On a build with AMX kernels, `LlamaCppBackend` loads models with `use_extra_bufts = False`
(the AMX kernels crash). That also turns off weight repacking. This script loads the same GGUF
twice in one process, with the build's extra buffer types and without them
(`without_extra_buffers`), and times a plain prefill of ~400 tokens and a 64-token greedy
generation on each. Run it on a build without AMX (what `scripts/setup.sh` installs on an AMX
CPU): there the first load is that build's normal path and the second is exactly what an AMX
build gets with the switch.

    python benchmarks/llamacpp_extra_buffers.py --model qwen2.5-coder-0.5b-instruct
"""

from __future__ import annotations

import argparse
import contextlib
import time

from elicit.backends.llamacpp_amx import uses_amx, without_extra_buffers
from elicit.models import gguf_file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    if uses_amx(info):
        raise SystemExit("this build has AMX kernels, which crash: run this on a build without")
    path = str(gguf_file(args.model, progress=False))
    print("| extra buffer types | prefill tokens | prefill tokens/s | 64 generated tokens, s |")
    print("|---|---|---|---|")
    for extra in (True, False):
        switch = contextlib.nullcontext() if extra else without_extra_buffers(llama_cpp)
        with switch:
            llm = llama_cpp.Llama(
                model_path=path, n_ctx=2048, n_threads=args.threads, verbose=False
            )
        tokens = llm.tokenize(b"The movie was great and " * 80)[:1024]
        start = time.perf_counter()
        llm.eval(tokens)
        prefill = time.perf_counter() - start
        llm.reset()
        start = time.perf_counter()
        llm.create_completion("Once upon a time", max_tokens=64, temperature=0)
        generation = time.perf_counter() - start
        llm.close()
        print(
            f"| {'on' if extra else 'off'} | {len(tokens)} | {len(tokens) / prefill:.0f} | "
            f"{generation:.1f} |"
        )


if __name__ == "__main__":
    main()
