#!/usr/bin/env python3
"""Writes the stand-in helmet/riders classifier the violation tests use (no helmet model with a
clean licence exists offline). It reads only the colour of the riders' heads that make.py paints
on the motorbike sprites, in the upper half of the crop:

  helmet       = 40 x (fraction of pixels that are strongly blue)
  no_helmet    = 40 x (fraction that are strongly orange)
  three_riders = 40 x (fraction that are strongly green) - 1

Input `x` [N,3,32,32] RGB in 0..1; output `scores` [N,3] logits (edge-node applies a softmax).
It tests the plumbing (crops, every n-th sighting, votes, evidence), not helmet recognition: a
real deployment configures its own trained model under [[classifiers]] (see README).

usage: helmet_model.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def const(name, v, dtype=np.float32):
    return numpy_helper.from_array(np.array(v, dtype=dtype), name)


nodes, inits = [], []
inits += [const("starts", [0], np.int64), const("ends", [16], np.int64), const("axes", [2], np.int64)]
nodes.append(helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["top"]))
nodes.append(helper.make_node("Split", ["top"], ["r", "g", "b"], axis=1))
inits += [const("hi", 0.6), const("lo", 0.35), const("mid", 0.45)]


def frac(name, high, lows):
    """Fraction of pixels whose `high` channel is above 0.6 and each `lows` channel below."""
    terms = [f"{name}_h"]
    nodes.append(helper.make_node("Greater", [high, "hi"], [f"{name}_h"]))
    for i, (ch, lim) in enumerate(lows):
        nodes.append(helper.make_node("Less", [ch, lim], [f"{name}_l{i}"]))
        nodes.append(helper.make_node("And", [terms[-1], f"{name}_l{i}"], [f"{name}_a{i}"]))
        terms.append(f"{name}_a{i}")
    nodes.append(helper.make_node("Cast", [terms[-1]], [f"{name}_f"], to=TensorProto.FLOAT))
    nodes.append(helper.make_node("ReduceMean", [f"{name}_f"], [f"{name}_m"], axes=[1, 2, 3], keepdims=0))
    return f"{name}_m"


blue = frac("blue", "b", [("r", "lo"), ("g", "mid")])
orange = frac("orange", "r", [("b", "lo")])
green = frac("green", "g", [("r", "lo"), ("b", "lo")])
nodes.append(helper.make_node("Unsqueeze", [blue, "ax1"], ["bu"]))
nodes.append(helper.make_node("Unsqueeze", [orange, "ax1"], ["ou"]))
nodes.append(helper.make_node("Unsqueeze", [green, "ax1"], ["gu"]))
inits.append(const("ax1", [1], np.int64))
nodes.append(helper.make_node("Concat", ["bu", "ou", "gu"], ["fr"], axis=1))
inits += [const("scale", [40.0, 40.0, 40.0]), const("bias", [0.0, 0.0, -1.0])]
nodes.append(helper.make_node("Mul", ["fr", "scale"], ["fs"]))
nodes.append(helper.make_node("Add", ["fs", "bias"], ["scores"]))
graph = helper.make_graph(
    nodes,
    "helmet_standin",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
    [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
    inits,
)
m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
m.ir_version = 9
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
