#!/usr/bin/env bash
# The whole check, as CI runs it: set up, lint, type-check, then every test (slow ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
echo "== ruff"
ruff check src tests benchmarks
ruff format --check src tests benchmarks
echo "== mypy"
mypy
echo "== pytest"
python -m pytest -q "$@"
