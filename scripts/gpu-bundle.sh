#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that has the NVIDIA driver and the
# CUDA 13 libraries (cuBLAS, cuDNN, cuRAND, cuFFT, e.g. from PyTorch's wheels) but neither a
# Rust toolchain nor GStreamer: the gpu and pipeline bench binaries, the GStreamer core and
# the few plugins the bench clip needs, mosquitto, every library they load beyond glibc and
# libstdc++, ONNX Runtime's GPU build from an `onnxruntime-gpu` wheel, and vtest re-encoded as
# Theora (its DivX 3 would need gst-libav and forty codec libraries).
#
#   scripts/gpu-bundle.sh ONNXRUNTIME_GPU_WHEEL OUT_DIR
#
# Provenance: onnxruntime-gpu from PyPI (1.31.1 built for CUDA 13 was used for the figures in
# docs/benchmarks.md); the rest is this machine's Debian 12 packages.
set -euo pipefail
wheel=${1:?onnxruntime-gpu wheel}
out=${2:?output folder}
cd "$(dirname "$0")/.."
source .cache/env.sh
mkdir -p "$out"/{bin,lib,gst,ort}

# The bench binaries (built in the bench profile), without their debug info.
cargo bench -p matthan-benches --bench gpu --bench pipeline --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] in ("gpu", "pipeline"):
        print(m["target"]["name"], m["executable"])' |
    while read -r name exe; do strip -o "$out/bin/$name" "$exe"; done
cp "$(command -v mosquitto)" "$out/bin/"

gstlib=/usr/lib/x86_64-linux-gnu/gstreamer-1.0
cp /usr/lib/x86_64-linux-gnu/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner "$out/bin/"
for p in coreelements typefindfunctions playback videoconvertscale videorate app theora ogg videofilter; do
    cp "$gstlib/libgst$p.so" "$out/gst/"
done

# Every shared library these load, except the C runtime the target machine brings itself.
skip='^(libc|libm|libdl|librt|libpthread|ld-linux-x86-64|libstdc\+\+|libgcc_s|linux-vdso)\.'
for f in "$out"/bin/* "$out"/gst/*.so; do
    ldd "$f" | awk '$3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
    [[ $name =~ $skip ]] || cp -L "$path" "$out/lib/$name"
done

unzip -q -o -j "$wheel" 'onnxruntime/capi/libonnxruntime.so.*' 'onnxruntime/capi/libonnxruntime_providers_*.so' -d "$out/ort"
ln -sf "$(basename "$out"/ort/libonnxruntime.so.*)" "$out/ort/libonnxruntime.so"

gst-launch-1.0 -q filesrc location=.cache/media/vtest.avi ! decodebin ! videoconvert ! \
    theoraenc quality=36 ! oggmux ! filesink location="$out/vtest.ogv"
du -sh "$out"/*
