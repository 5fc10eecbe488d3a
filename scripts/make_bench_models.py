#!/usr/bin/python3
"""Build the two models that `npm run bench` serves: random weights, fixed seed, made for speed, not accuracy.

Regenerate with:

    apt-get install -y python3-torch python3-onnx && /usr/bin/python3 scripts/make_bench_models.py

(use /usr/bin/python3: a pyenv python3 earlier on PATH will not have the Debian packages).

Output, in the model repository layout bench/models/<model>/<version>/model.onnx:

  tabular/1/model.onnx   MLP 30 -> 256 -> 256 -> 2 (ReLU), softmax at the end
                         input `input` float32 [batch, 30], output `probabilities` float32 [batch, 2]
  vision/1/model.onnx    ResNet-like CNN on 3x64x64: 3x3 stem (stride 2) to 32 channels at 32x32, then three
                         stages of two basic residual blocks (32 @ 32x32, 64 @ 16x16, 128 @ 8x8; stride-2 3x3
                         convolution plus a 1x1 projection where a stage starts), global average pooling and a
                         linear layer; BatchNorm folded into the convolutions by the exporter.
                         input `image` float32 [batch, 3, 64, 64], output `logits` float32 [batch, 100]

The names and shapes are fixed: the bench's load scripts and the echo reference server answer exactly these.
Export: torch.onnx.export (classic TorchScript exporter), opset 17, do_constant_folding=True, dimension 0 of the
input and output is the symbolic dimension "batch". Weights come from torch's default initialisation under
torch.manual_seed(0) (BatchNorm running statistics stay at mean 0, variance 1), so values stay in a normal range
(no denormals that would make the CPU slow for the wrong reason).

The script prints, per model, the file size and the FLOPs per row counted from the exported graph (2 x
multiply-accumulates of every Conv, Gemm and MatMul, with shapes from ONNX shape inference), then loads both
files in onnxruntime-node (`node` from the repository root) and checks the output names, shapes and that
onnxruntime's output matches torch's to 1e-4. It exits non-zero if anything fails.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import shape_inference
from torch import nn

from onnx_export import export  # noqa: E402  (sibling module: scripts/ is sys.path[0])

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "models")
SEED = 0


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(30, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + (x if self.down is None else self.down(x)))


class ResNetLike(nn.Module):
    def __init__(self, classes=100):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.stages = nn.Sequential(
            BasicBlock(32, 32, 1), BasicBlock(32, 32, 1),
            BasicBlock(32, 64, 2), BasicBlock(64, 64, 1),
            BasicBlock(64, 128, 2), BasicBlock(128, 128, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def flops_per_row(path):
    """2 x MACs of Conv, Gemm and MatMul for batch 1, from the exported graph with inferred shapes."""
    model = onnx.load(path)
    # pin the batch dimension to 1 so that every inferred shape is concrete
    for vi in list(model.graph.input) + list(model.graph.output):
        vi.type.tensor_type.shape.dim[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = shapes[node.input[1]]  # [cout, cin/group, kh, kw]
            out = shapes[node.output[0]]  # [1, cout, h, w]
            total += 2 * int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            a, out = shapes[node.input[0]], shapes[node.output[0]]
            k = a[-1]
            total += 2 * int(np.prod(out)) * k
    return total


def verify(cases):
    """Loads each model in onnxruntime-node and compares with torch's outputs."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
        tmp = f.name
    script = r"""
import fs from 'node:fs';
import ort from 'onnxruntime-node';
const cases = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
let failed = false;
for (const c of cases) {
  const s = await ort.InferenceSession.create(c.path);
  const x = new ort.Tensor('float32', Float32Array.from(c.input), c.shape);
  const out = (await s.run({ [c.input_name]: x }))[c.output_name];
  const dims = Array.from(out?.dims ?? []);
  let maxDiff = Infinity;
  if (out && JSON.stringify(dims) === JSON.stringify(c.out_shape)) {
    maxDiff = 0;
    for (let i = 0; i < c.expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - c.expected[i]));
  }
  const ok = JSON.stringify(s.inputNames) === JSON.stringify([c.input_name]) && JSON.stringify(s.outputNames) === JSON.stringify([c.output_name]) && maxDiff < 1e-4;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${c.name}: inputs ${s.inputNames} outputs ${s.outputNames} dims ${JSON.stringify(dims)} max |ort - torch| ${maxDiff.toExponential(2)}`);
  failed ||= !ok;
}
process.exit(failed ? 1 : 0);
"""
    try:
        r = subprocess.run(["node", "--input-type=module", "-e", script, tmp], cwd=ROOT)
    finally:
        os.unlink(tmp)
    return r.returncode == 0


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    specs = [
        ("tabular", Mlp(), torch.rand(4, 30) * 10, "input", "probabilities"),
        ("vision", ResNetLike(), torch.rand(2, 3, 64, 64), "image", "logits"),
    ]
    cases = []
    for name, model, example, input_name, output_name in specs:
        path = os.path.join(OUT, name, "1", "model.onnx")
        export(model, example, path, input_name, output_name)
        with torch.no_grad():
            expected = model.eval()(example)
        flops = flops_per_row(path)
        params = sum(p.numel() for p in model.parameters())
        print(
            f"wrote {os.path.relpath(path, ROOT)}: {os.path.getsize(path) / 1e6:.2f} MB, {params} parameters, "
            f"{flops / 1e9:.4f} GFLOP per row ({flops / 2e6:.3f} M multiply-accumulates)"
        )
        cases.append({
            "name": name,
            "path": path,
            "input_name": input_name,
            "output_name": output_name,
            "shape": list(example.shape),
            "input": example.flatten().tolist(),
            "out_shape": list(expected.shape),
            "expected": expected.flatten().tolist(),
        })
    if not verify(cases):
        sys.exit(1)


if __name__ == "__main__":
    main()
