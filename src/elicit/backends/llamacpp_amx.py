"""Keep llama.cpp off its AMX kernels, which crash in the llama-cpp-python builds we use.

llama-cpp-python builds llama.cpp for the CPU it is installed on (`-march=native`). On a CPU
with Intel AMX (Sapphire Rapids and later Xeons) that build stores the quantised weights in an
"AMX" buffer and multiplies them with AMX tiles. With llama-cpp-python 0.3.36 (GCC 12, Debian
12) the first such multiply kills the process: `ldtilecfg` in `ggml_backend_amx_mul_mat` loads
a tile configuration that is mostly uninitialised stack memory, the CPU raises a general
protection fault, and Python dies of SIGSEGV with no message (seen on this project's 2-core
machines; a standalone AMX program runs there, so the CPU and kernel are fine).

The ways around it:
- Where the installed build has AMX kernels, `LlamaCppBackend` loads models without llama.cpp's
  "extra buffer types" (`use_extra_bufts = False`; the AMX buffer is one, weight repacking
  another), so the weights stay in plain CPU memory and the AVX-512 kernels run them. It costs
  nothing measurable there: `python benchmarks/llamacpp_extra_buffers.py` (Qwen2.5-Coder-0.5B
  Q4_K_M, 2 threads, a build without AMX, with and without extra buffer types) gave 181 and
  190 prompt tokens/s and 2.7 s for 64 generated tokens both. `ELICIT_LLAMACPP_AMX=1` keeps
  the AMX kernels, for a build where they work.
- llama.cpp's own server (`python -m llama_cpp.server`) has no such switch, so on a CPU with
  AMX `scripts/setup.sh` builds llama-cpp-python without them: `-mno-amx-tile -mno-amx-int8
  -mno-amx-bf16` in CFLAGS and CXXFLAGS (GCC honours an explicit -mno-amx-* after
  -march=native). docs/SERVING.md gives the same command for other installs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

#: Compiler flags that build llama.cpp without its AMX kernels (GCC and Clang).
NO_AMX_FLAGS = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"

#: Set to 1 to let llama.cpp use an AMX build's AMX kernels.
KEEP_AMX_ENV = "ELICIT_LLAMACPP_AMX"

REBUILD_HINT = (
    f'CFLAGS="{NO_AMX_FLAGS}" CXXFLAGS="{NO_AMX_FLAGS}" '
    "pip install --force-reinstall --no-deps --no-cache-dir llama-cpp-python"
)


def uses_amx(system_info: str) -> bool:
    """Whether a llama.cpp build's system info (`llama_print_system_info()`) says it runs AMX
    kernels: "AMX_INT8 = 1" among its CPU features."""
    features = {
        key.strip(): value.strip()
        for key, _, value in (part.partition("=") for part in system_info.split("|"))
    }
    return any(key.endswith("AMX_INT8") and value == "1" for key, value in features.items())


#: Whether this process has said that it avoids AMX (it says so once).
_warned = False


def avoid_amx(llama_cpp: Any) -> bool:
    """Whether models should load without extra buffer types: the build uses AMX and the user
    did not ask to keep it. Says so (once per process, at INFO: nothing for the user to fix)."""
    if os.environ.get(KEEP_AMX_ENV) == "1":
        return False
    if not uses_amx(llama_cpp.llama_print_system_info().decode("utf-8", "replace")):
        return False
    global _warned
    if not _warned:
        _warned = True
        log.info(
            "this llama-cpp-python was built with AMX kernels, which crash the process "
            "(SIGSEGV) in the versions elicit was tested with: loading models without llama.cpp's "
            "extra buffer types (AMX, weight repacking). A build without AMX needs no such "
            "switch: %s. Set %s=1 to use AMX anyway",
            REBUILD_HINT,
            KEEP_AMX_ENV,
        )
    return True


@contextlib.contextmanager
def without_extra_buffers(llama_cpp: Any) -> Iterator[None]:
    """Meanwhile, models load with `use_extra_bufts = False`.

    llama-cpp-python's `Llama` has no argument for it: it fills its model parameters from
    `llama_cpp.llama_cpp.llama_model_default_params()`, looked up at call time, so the default
    is wrapped for the duration of the load and restored after.
    """
    module = llama_cpp.llama_cpp
    default = module.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    module.llama_model_default_params = params
    try:
        yield
    finally:
        module.llama_model_default_params = default
