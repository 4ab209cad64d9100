#!/usr/bin/env bash
# Makes the peer pipeline's virtual environment (benches/peer/README.md); idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.cache/peer-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import cv2, onnxruntime, supervision, numpy' 2>/dev/null; then
  "$venv/bin/pip" install -q --disable-pip-version-check \
    opencv-python-headless onnxruntime==1.32.0 supervision==0.30.9 numpy >&2
fi
echo "$venv/bin/python"
