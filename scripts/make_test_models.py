#!/usr/bin/python3
"""Build the tiny hand-made ONNX models used by the test suite.

Regenerate with:

    apt-get install -y python3-onnx && /usr/bin/python3 scripts/make_test_models.py

Output: test/fixtures/models/<name>/1/model.onnx (opset 17, ir_version 8 so
that onnxruntime 1.30 loads them). Only ``onnx.helper`` is used (no torch, no
training, no randomness), so the output is byte-for-byte reproducible for a
given onnx version. At the end the script runs
``node scripts/verify_test_models.mjs test/fixtures/models`` which loads every
fixture in onnxruntime-node and checks its outputs; the script exits non-zero
if that fails. See test/fixtures/models/README.md for what each model is for.
"""

import os
import subprocess
import sys

import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "models")
BYTES_OUT = os.path.join(ROOT, "test", "fixtures", "bytes-models")
OPSET = 17
IR_VERSION = 8

B = "batch"  # symbolic batch dimension (dim_param)


def vi(name, elem_type, shape):
    """Tensor value info. A str in shape -> dim_param, int -> dim_value,
    None -> dimension with neither set (unknown)."""
    return helper.make_tensor_value_info(name, elem_type, shape)


def save(name, nodes, inputs, outputs, initializers=(), out=None):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(
        graph,
        producer_name="ortserve-make_test_models",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    d = os.path.join(out or OUT, name, "1")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    onnx.save(model, path)
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def main():
    # x + x for each numeric dtype, x: [batch, 3]
    for suffix, t in [
        ("fp32", TensorProto.FLOAT),
        ("fp64", TensorProto.DOUBLE),
        ("int32", TensorProto.INT32),
        ("int64", TensorProto.INT64),
        ("uint8", TensorProto.UINT8),
        ("int8", TensorProto.INT8),
    ]:
        save(
            f"dtype_{suffix}",
            [helper.make_node("Add", ["x", "x"], ["y"])],
            [vi("x", t, [B, 3])],
            [vi("y", t, [B, 3])],
        )

    # bool: y = Not(x)
    save(
        "dtype_bool",
        [helper.make_node("Not", ["x"], ["y"])],
        [vi("x", TensorProto.BOOL, [B, 3])],
        [vi("y", TensorProto.BOOL, [B, 3])],
    )

    # fixed shape [2, 3], no batch dim: y = x * 2
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    save(
        "fixed_shape",
        [helper.make_node("Mul", ["x", "two"], ["y"])],
        [vi("x", TensorProto.FLOAT, [2, 3])],
        [vi("y", TensorProto.FLOAT, [2, 3])],
        initializers=[two],
    )

    # two inputs, two outputs of different dtypes
    save(
        "multi_io",
        [
            helper.make_node("Add", ["a", "b"], ["sum"]),
            helper.make_node("ArgMax", ["a"], ["argmax"], axis=1, keepdims=0),
        ],
        [vi("a", TensorProto.FLOAT, [B, 4]), vi("b", TensorProto.FLOAT, [B, 4])],
        [vi("sum", TensorProto.FLOAT, [B, 4]), vi("argmax", TensorProto.INT64, [B])],
    )

    # first dim completely unknown (no dim_value, no dim_param)
    save(
        "unknown_batch",
        [helper.make_node("Identity", ["x"], ["y"])],
        [vi("x", TensorProto.FLOAT, [None, 2])],
        [vi("y", TensorProto.FLOAT, [None, 2])],
    )

    # run fails at inference time when an index is out of range
    save(
        "gather_fail",
        [helper.make_node("GatherElements", ["data", "idx"], ["y"], axis=1)],
        [vi("data", TensorProto.FLOAT, [B, 4]), vi("idx", TensorProto.INT64, [B, 1])],
        [vi("y", TensorProto.FLOAT, [B, 1])],
    )

    # BYTES (string tensors), in a repository of its own so that the main fixture repository keeps its models:
    # y = Identity(x), for the limits on BYTES elements.
    save(
        "dtype_string",
        [helper.make_node("Identity", ["x"], ["y"])],
        [vi("x", TensorProto.STRING, [B, 2])],
        [vi("y", TensorProto.STRING, [B, 2])],
        out=BYTES_OUT,
    )

    verifier = os.path.join(ROOT, "scripts", "verify_test_models.mjs")
    print(f"running node {os.path.relpath(verifier, ROOT)} ...", flush=True)
    r = subprocess.run(["node", verifier, OUT], cwd=ROOT)
    if r.returncode != 0:
        print("verification FAILED", file=sys.stderr)
        sys.exit(r.returncode)


if __name__ == "__main__":
    main()
