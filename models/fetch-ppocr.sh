#!/usr/bin/env bash
# Puts PaddleOCR's PP-OCRv4 text detector and recogniser (licence-plate reading) into
# models/ppocr/, from the PyPI wheel `rapidocr-onnxruntime` 1.4.4, checking the wheel's and each
# model's sha256 against models/ppocr-v4.md. Idempotent: does nothing when the files match.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/ppocr"
card="$here/ppocr-v4.md"
want() { awk -v f="$1" '$1 == f":" {print $2}' "$card"; }
ok=1
for f in ch_PP-OCRv4_det_infer.onnx ch_PP-OCRv4_rec_infer.onnx; do
  [ -s "$out/$f" ] && [ "$(sha256sum "$out/$f" | cut -d' ' -f1)" = "$(want "$f")" ] || ok=0
done
[ "$ok" = 1 ] && exit 0
pip=${PIP:-pip3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$pip" download -q --disable-pip-version-check --no-deps rapidocr-onnxruntime==1.4.4 -d "$work" >/dev/null
whl="$work/rapidocr_onnxruntime-1.4.4-py3-none-any.whl"
have=$(sha256sum "$whl" | cut -d' ' -f1)
if [ "$have" != "$(want wheel)" ]; then
  echo "fetch-ppocr: wheel sha256 $have differs from the card's $(want wheel)" >&2
  exit 1
fi
mkdir -p "$out"
python3 - "$whl" "$out" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for f in ("ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"):
        with open(f"{out}/{f}", "wb") as o:
            o.write(z.read(f"rapidocr_onnxruntime/models/{f}"))
PY
for f in ch_PP-OCRv4_det_infer.onnx ch_PP-OCRv4_rec_infer.onnx; do
  have=$(sha256sum "$out/$f" | cut -d' ' -f1)
  if [ "$have" != "$(want "$f")" ]; then
    echo "fetch-ppocr: $f sha256 $have differs from the card's $(want "$f")" >&2
    exit 1
  fi
done
echo "fetch-ppocr: PP-OCRv4 models in $out"
