#!/usr/bin/env bash
# The GPU check of issue #20: the pipeline bench and the gpu bench (CPU and accelerator side by
# side in one run) on the CUDA execution provider of ONNX Runtime's GPU build.
#
#   scripts/gpu-check.sh BUNDLE [SECONDS_PER_TRIAL]
#
# BUNDLE is what scripts/gpu-bundle.sh packed (bench binaries, GStreamer, mosquitto, ONNX
# Runtime GPU); run from the repository root on the GPU machine. The CUDA 13 libraries are
# looked for on the machine (system folders and Python wheels such as PyTorch's). Both benches
# fail, rather than report a CPU figure, if the detector does not come up on CUDA.
set -euo pipefail
bundle=$(realpath "${1:?bundle folder from scripts/gpu-bundle.sh}")
secs=${2:-10}
repo=$PWD
nvidia-smi -L
# The dynamic-batch model is derived, not committed (models/nanodet-m-416-variants.md).
[[ -f models/nanodet-m-416-dyn.onnx ]] || python3 models/make-nanodet-variants.py --dyn-only
cuda=$(find / -xdev \( -name 'libcublasLt.so.13' -o -name 'libcudart.so.13' -o -name 'libcurand.so.10' \
    -o -name 'libcufft.so.12' -o -name 'libcudnn.so.9' \) 2>/dev/null | xargs -r -n1 dirname | sort -u | paste -sd:)
[[ -n $cuda ]] || { echo "no CUDA 13 libraries found on this machine" >&2; exit 1; }
export LD_LIBRARY_PATH="$bundle/ort:$cuda:$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="$bundle/bin:$PATH"
export GST_PLUGIN_SYSTEM_PATH="$bundle/gst" GST_PLUGIN_PATH="$bundle/gst"
export GST_PLUGIN_SCANNER="$bundle/bin/gst-plugin-scanner" GST_REGISTRY=/tmp/matthan-gst-registry.bin
export ORT_DYLIB_PATH="$bundle/ort/libonnxruntime.so" MATTHAN_REPO=$repo
export MATTHAN_VTEST="$bundle/vtest.ogv" MATTHAN_BENCH_EP=cuda
echo "== pipeline bench, cuda"
"$bundle/bin/pipeline"
echo "== pipeline bench, cpu (same machine, same run)"
MATTHAN_BENCH_EP=cpu "$bundle/bin/pipeline"
echo "== gpu bench"
"$bundle/bin/gpu" "$secs"
