"""Writes small ONNX detectors whose outputs are known exactly, one per supported layout.

Each model ignores the picture except for its mean brightness m (0..1 after the model's own
normalisation): class scores are fixed numbers times m, boxes are constants. So a test can
predict every detection, and a batch of frames of different brightness shows each result went
back to its own frame.

usage: gen_models.py OUTDIR
"""
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1]


def model(name, inp_shape, outputs):
    """outputs: list of (name, const_boxes, score_mask) arrays of equal shape [1, ...]."""
    nodes = [helper.make_node("ReduceMean", ["input"], ["m"], axes=[1, 2, 3], keepdims=1)]
    inits, outs = [], []
    for oname, const, mask in outputs:
        rank = const.ndim
        # m is [N,1,1,1]; reshape to [N,1,...] of the output's rank.
        shape_name = f"{oname}_shape"
        inits.append(numpy_helper.from_array(np.array([-1] + [1] * (rank - 1), dtype=np.int64), shape_name))
        inits.append(numpy_helper.from_array(const.astype(np.float32), f"{oname}_const"))
        inits.append(numpy_helper.from_array(mask.astype(np.float32), f"{oname}_mask"))
        nodes += [
            helper.make_node("Reshape", ["m", shape_name], [f"{oname}_m"]),
            helper.make_node("Mul", [f"{oname}_m", f"{oname}_mask"], [f"{oname}_scaled"]),
            helper.make_node("Add", [f"{oname}_scaled", f"{oname}_const"], [oname]),
        ]
        outs.append(helper.make_tensor_value_info(oname, TensorProto.FLOAT, ["N"] + [None] * (rank - 1)))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, inp_shape)], outs, inits
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, f"{OUT}/{name}.onnx")


# YOLOv8 [N, 4+C, A]: 3 classes, 10 anchors. Anchor 2 is a box at (32,20) 10x8 of class 1
# with score 0.8*m; anchor 5 a box at (10,50) 6x6 of class 2 with score 0.6*m.
C, A = 3, 10
const = np.zeros((1, 4 + C, A))
mask = np.zeros((1, 4 + C, A))
const[0, 0:4, 2] = [32, 20, 10, 8]
mask[0, 4 + 1, 2] = 0.8
const[0, 0:4, 5] = [10, 50, 6, 6]
mask[0, 4 + 2, 5] = 0.6
model("yolov8_dynamic_batch", ["N", 3, 64, 64], [("output0", const, mask)])
model("yolov8_transposed", [1, 3, 64, 64], [("output0", const.transpose(0, 2, 1), mask.transpose(0, 2, 1))])

# YOLOv5 [N, A, 5+C]: objectness 0.9*m times class score 0.8 on anchor 1.
const5 = np.zeros((1, A, 5 + C))
mask5 = np.zeros((1, A, 5 + C))
const5[0, 1, 0:4] = [32, 20, 10, 8]
mask5[0, 1, 4] = 0.9
const5[0, 1, 5 + 1] = 0.8
model("yolov5", [1, 3, 64, 64], [("output", const5, mask5)])

# NanoDet-style, 32x32 input: strides 8/16/32 give 16/4/1 anchors; 2 classes; 4 bins (reg_max 3).
# One hit: stride-8 cell 5 (col 1, row 1, centre (8,8)) class 0 score 0.9*m, distances
# l,t,r,b = bins 1,2,3,1 (one-hot logits) * 8 -> box (0,-8,32,16) before clipping.
levels = []
for name, n in (("s8", 16), ("s16", 4), ("s32", 1)):
    sc, sm = np.zeros((1, n, 2)), np.zeros((1, n, 2))
    bx = np.full((1, n, 16), -20.0)
    if name == "s8":
        sm[0, 5, 0] = 0.9
        for side, b in enumerate([1, 2, 3, 1]):
            bx[0, 5, side * 4 + b] = 20.0
    levels.append((f"cls_{name}", sc, sm))
    levels.append((f"box_{name}", bx, np.zeros_like(bx)))
model("nanodet_tiny", [1, 3, 32, 32], levels)
print(f"wrote test models to {OUT}")
