#!/usr/bin/env bash
# The LiteRT environment: litert-torch (the converter) pins torch < 2.15, pydantic < 2.12 and typing-extensions
# < 4.13, so it lives in a venv of its own that `gptnet export --format tflite` runs in (a subprocess). gptnet finds
# it at .venv-litert beside pyproject.toml, or wherever GPTNET_LITERT_PYTHON points.
# Usage: bash scripts/litert-env.sh [VENV_DIR]   (default: .venv-litert in this clone)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv-litert}"
start=$SECONDS
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install -c requirements/litert.txt -e ".[train,tflite]"
echo "LiteRT environment ready in $venv ($((SECONDS - start)) s): gptnet export --format tflite uses it"
