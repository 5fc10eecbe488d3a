"""The one torch -> ONNX export of the model scripts (train_models.py, make_bench_models.py).

Classic TorchScript exporter, opset 17, constant folding, dimension 0 of the input and the output named "batch",
then onnx's full checker on the written file.
"""
import inspect
import os

import onnx
import torch

OPSET = 17


def export(model, example, path, input_name, output_name):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    kwargs = dict(
        input_names=[input_name],
        output_names=[output_name],
        dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
        opset_version=OPSET,
        do_constant_folding=True,
        export_params=True,
    )
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # newer torch: force the classic exporter
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, (example,), path, **kwargs)
    onnx.checker.check_model(onnx.load(path), full_check=True)
