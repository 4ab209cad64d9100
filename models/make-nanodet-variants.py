#!/usr/bin/env python3
"""Derives two variants of models/nanodet-m-416.onnx (provenance: models/nanodet-m-416-variants.md).

1. nanodet-m-416-dyn.onnx: the same weights with a dynamic batch dimension, so several cameras'
   frames go through one call. The TFJS export computes its two head Reshape shapes as
   [1, 80, -1] and [1, 44, -1] from constants; they become [0, 80, -1] and [0, 44, -1]
   (0 copies the batch dimension of the input), and the input's first dimension is named `batch`.
   Height and width are dynamic too (`height`, `width`, multiples of 32), so a camera can run
   the model on just the part of its frame its rules look at (edge-node's `detect_region`); the
   network is fully convolutional and its upsampling Resize nodes use scales, so any multiple
   of 32 works. The size it was trained at goes in the model's metadata (`input_size` =
   "416x416"), which edge-node reads as the whole frame's input size.
2. nanodet-m-416-int8.onnx: the dynamic-batch model with static int8 quantization (QDQ, per-channel
   int8 weights, uint8 activations calibrated with MinMax) of every Conv except the three head
   convs that produce the class scores and box distributions. Why only Conv, and not those three:
   quantizing Pad (its zero padding meets a non-zero zero-point) or all ops turned every output
   into noise (0 of 1,420 fp32 detections matched); the head convs feed a sigmoid and an 11-bin
   softmax whose small differences move boxes, and keeping them fp32 raised detection agreement
   from 0.907 to 0.938 for 5-10 % of the speed (measured on vtest, recorded in the card).
   Calibration frames come from the videos given with --calib (every --every-th frame of the range),
   decoded by GStreamer to 416x416 BGR and preprocessed exactly as edge-node does for NanoDet
   (stretch, BGR, mean/std).

Usage: make-nanodet-variants.py [--dyn-only] [--calib VIDEO[:FIRST-LAST] ...] [--every N] [--out DIR]
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

HERE = pathlib.Path(__file__).resolve().parent
MEAN = np.array([103.53, 116.28, 123.675], np.float32)
STD = np.array([57.375, 57.12, 58.395], np.float32)
# Head reshape shapes the export computes at run time, replaced by constants with a copied batch.
RESHAPES = {
    "PartitionedCall/onnx_tf_prefix_Reshape_167__143:0": [0, 80, -1],
    "PartitionedCall/onnx_tf_prefix_Reshape_181__136:0": [0, 44, -1],
}

# The convs whose outputs are the head's class scores and box distributions (kept fp32).
HEAD_CONVS = ["Conv__176", "Conv__178", "Conv__180"]


def dynamic_batch(src: pathlib.Path, dst: pathlib.Path) -> None:
    m = onnx.load(str(src))
    g = m.graph
    for name, shape in RESHAPES.items():
        const = name.replace(":0", "_dyn")
        g.initializer.append(numpy_helper.from_array(np.array(shape, np.int64), const))
        users = [n for n in g.node if name in n.input]
        if not users:
            sys.exit(f"make-nanodet-variants: {name} is not in {src}; is it the card's model?")
        for n in users:
            n.input[list(n.input).index(name)] = const
    dims = g.input[0].type.tensor_type.shape.dim
    dims[0].dim_param = "batch"
    dims[2].dim_param = "height"
    dims[3].dim_param = "width"
    # Shapes inferred for the fixed size would contradict the dynamic input.
    del g.value_info[:]
    for o in g.output:
        for d in o.type.tensor_type.shape.dim:
            d.Clear()
    del m.metadata_props[:]
    m.metadata_props.append(onnx.StringStringEntryProto(key="input_size", value="416x416"))
    # Nodes that only computed the old shapes are now dead; the checker and ORT ignore them,
    # but drop them so the file says what runs.
    live = {o.name for o in g.output}
    keep = []
    for n in reversed(g.node):
        if any(o in live for o in n.output):
            keep.append(n)
            live.update(i for i in n.input if i)
    del g.node[:]
    g.node.extend(reversed(keep))
    used = {i for n in g.node for i in n.input}
    inits = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))


def frame(path: pathlib.Path) -> np.ndarray:
    bgr = np.fromfile(path, np.uint8).reshape(416, 416, 3).astype(np.float32)
    return ((bgr - MEAN) / STD).transpose(2, 0, 1)[None]


class Frames(CalibrationDataReader):
    def __init__(self, files, input_name):
        self.files = iter(files)
        self.input_name = input_name

    def get_next(self):
        f = next(self.files, None)
        return None if f is None else {self.input_name: frame(f)}


def decode(spec: str, every: int, into: pathlib.Path) -> list:
    """Frames FIRST..LAST (default all) of a video as raw 416x416 BGR files, every `every`-th."""
    path, _, rng = spec.partition(":")
    if not pathlib.Path(path).is_file():
        sys.exit(f"make-nanodet-variants: calibration video {path} does not exist")
    out = into / str(len(list(into.iterdir())))
    out.mkdir()
    subprocess.run(
        ["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "decodebin", "!",
         "videoconvert", "!", "videoscale", "!",
         "video/x-raw,format=BGR,width=416,height=416", "!",
         "multifilesink", f"location={out}/f%05d.bgr"],
        check=True,
    )
    files = sorted(out.glob("*.bgr"))
    if rng:
        first, last = (int(x) for x in rng.split("-"))
        files = files[first : last + 1]
    return files[::every]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dyn-only", action="store_true")
    ap.add_argument("--calib", action="append", default=[])
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--out", type=pathlib.Path, default=HERE)
    a = ap.parse_args()
    dyn = a.out / "nanodet-m-416-dyn.onnx"
    dynamic_batch(HERE / "nanodet-m-416.onnx", dyn)
    if a.dyn_only:
        print(f"make-nanodet-variants: {dyn}")
        return
    tmp = tempfile.TemporaryDirectory()
    files = []
    for spec in a.calib:
        files += decode(spec, a.every, pathlib.Path(tmp.name))
    if not files:
        sys.exit("make-nanodet-variants: no calibration frames; give --calib VIDEO[:FIRST-LAST]")
    int8 = a.out / "nanodet-m-416-int8.onnx"
    quantize_static(
        str(dyn),
        str(int8),
        Frames(files, "input_1:0"),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv"],
        nodes_to_exclude=HEAD_CONVS,
    )
    # The quantizer writes its own metadata over the source's; the input size must survive.
    m = onnx.load(str(int8))
    if not any(p.key == "input_size" for p in m.metadata_props):
        m.metadata_props.append(onnx.StringStringEntryProto(key="input_size", value="416x416"))
        onnx.save(m, str(int8))
    print(f"make-nanodet-variants: {dyn.name}, {int8.name} ({len(files)} calibration frames)")


if __name__ == "__main__":
    main()
