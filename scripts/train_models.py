#!/usr/bin/python3
"""Train the bundled example models and export them to ONNX.

Regenerate with:

    apt-get install -y python3-torch python3-onnx python3-sklearn && /usr/bin/python3 scripts/train_models.py

(use /usr/bin/python3 explicitly: a pyenv python3 earlier on PATH will not have
the Debian packages). Nothing is downloaded: the data sets ship with
scikit-learn. Training is on CPU with fixed seeds, one thread and
deterministic algorithms, so re-running gives the same weights.

Output, in the model repository layout models/<model>/<version>/:

  models/breast_cancer/config.json
  models/breast_cancer/1/model.onnx     logistic regression, input `input` float32 [batch, 30]
                                        (RAW sklearn features; StandardScaler is inside the model
                                        as constants), output `probabilities` float32 [batch, 2]
                                        (softmax, class 0 = malignant, 1 = benign)
  models/breast_cancer/2/model.onnx     MLP 30-64-64-2 (ReLU), same inputs/outputs
  models/digits/config.json
  models/digits/1/model.onnx            small CNN, input `image` float32 [batch, 1, 8, 8] with raw
                                        pixel values 0..16 (scaled by 1/16 inside the model),
                                        output `logits` float32 [batch, 10]
  models/<model>/<version>/baseline.json   training-data baseline for drift monitoring (below)
  models/<m>/<v>/model.onnx.sha256    the file's sha256 (for REQUIRE_SHA256=true)
  models/METRICS.md                     held-out metrics, file sizes and sha256 of each model

Data split: sklearn train_test_split(test_size=0.25, random_state=0, stratify=y).
Export: torch.onnx.export (classic TorchScript exporter), opset 17,
do_constant_folding=True, dimension 0 of every input and output is the
symbolic dimension "batch".

At the end every exported model is checked in onnxruntime-node by
`node scripts/verify_models.mjs <tmp.json>`: the JSON holds, per model, the
test split inputs and torch's outputs; the node script asserts the max abs
difference is < 1e-5 (and recomputes the test accuracy). The script exits
non-zero if anything fails.

baseline.json format
--------------------
{
  "rows": N_train,                       # number of training rows the baseline was computed on
  "features": {
    "<input name>": {
      "<feature>": {                     # feature name from config.json "feature_names" if the
                                         # input has names, else the column index as a string
                                         # ("0", "1", ...); for inputs of rank > 2 (images) there
                                         # are exactly two features per row: "mean" and "std"
                                         # (population std, ddof=0) of all the row's values
        "edges": [e0, e1, ...],          # the 9 inner decile edges (10%, 20%, ..., 90% quantiles,
                                         # numpy linear interpolation) of the training values,
                                         # ascending, duplicates merged (so 1..9 edges)
        "proportions": [p0, ..., pK]     # len(edges) + 1 proportions of TRAINING rows per bin,
                                         # summing to 1
      }, ...
    }
  },
  "prediction": {
    "classes": [q0, q1, ...]             # proportion of training rows whose prediction (argmax of
                                         # the model output) is class i; one entry per class
  }
}
Bins: value < edges[0] -> bin 0; edges[i-1] <= value < edges[i] -> bin i;
value >= edges[-1] -> last bin (i.e. bin = number of edges <= value, numpy
searchsorted(edges, value, side="right")). Feature values are the raw values
as fed to the model (float32 widened to float64).
"""

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from onnx_export import export  # noqa: E402  (sibling module: scripts/ is sys.path[0])

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "models")
SEED = 0


def seed_everything(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# --------------------------------------------------------------------------- models


class Standardize(nn.Module):
    """(x - mean) / scale with the StandardScaler statistics as constants."""

    def __init__(self, scaler):
        super().__init__()
        self.register_buffer("mean", torch.tensor(scaler.mean_, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scaler.scale_, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale


class SoftmaxClassifier(nn.Module):
    """Standardize -> body -> softmax. `logits()` is used for training."""

    def __init__(self, scaler, body):
        super().__init__()
        self.standardize = Standardize(scaler)
        self.body = body

    def logits(self, x):
        return self.body(self.standardize(x))

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)   # 8x8
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)  # 4x4 after pool
        self.fc = nn.Linear(16 * 2 * 2, 10)          # 2x2 after pool

    def logits(self, x):
        x = x * (1.0 / 16.0)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))

    def forward(self, x):
        return self.logits(x)


# --------------------------------------------------------------------------- training


def train_full_batch(model, X, y, steps, lr, weight_decay):
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model.logits(X), y)
        loss.backward()
        opt.step()
    model.eval()
    return float(loss)


def train_minibatch(model, X, y, epochs, batch_size, lr, weight_decay):
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(SEED)
    n = X.shape[0]
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(model.logits(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
    model.eval()
    return total / n


@torch.no_grad()
def predict(model, X):
    model.eval()
    return model(X)


# --------------------------------------------------------------------------- export & files


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def bin_stats(values):
    """9 inner decile edges (duplicates merged) and per-bin proportions."""
    v = np.asarray(values, dtype=np.float64)
    edges = np.unique(np.quantile(v, np.arange(1, 10) / 10.0))
    bins = np.searchsorted(edges, v, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    props = counts / counts.sum()
    return {"edges": [float(e) for e in edges], "proportions": [float(p) for p in props]}


def baseline(X_train, outputs_train, input_name, feature_names=None):
    X = X_train.numpy().astype(np.float64)
    feats = {}
    if X.ndim > 2:
        rows = X.reshape(X.shape[0], -1)
        feats["mean"] = bin_stats(rows.mean(axis=1))
        feats["std"] = bin_stats(rows.std(axis=1))
    else:
        for j in range(X.shape[1]):
            key = feature_names[j] if feature_names is not None else str(j)
            feats[key] = bin_stats(X[:, j])
    pred = outputs_train.argmax(dim=1).numpy()
    n_classes = outputs_train.shape[1]
    classes = np.bincount(pred, minlength=n_classes) / len(pred)
    return {
        "rows": int(X.shape[0]),
        "features": {input_name: feats},
        "prediction": {"classes": [float(c) for c in classes]},
    }


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def accuracy(outputs, y):
    return int((outputs.argmax(dim=1) == y).sum()) / int(y.shape[0])


# --------------------------------------------------------------------------- main


def main():
    results = []  # rows for METRICS.md
    checks = []  # what verify_models.mjs checks in onnxruntime-node

    def record(model_name, version, model, X_tr, y_tr, X_te, y_te, input_name, output_name, feature_names=None):
        vdir = os.path.join(MODELS, model_name, str(version))
        path = os.path.join(vdir, "model.onnx")
        export(model, X_te[:2], path, input_name, output_name)
        out_tr = predict(model, X_tr)
        out_te = predict(model, X_te)
        write_json(os.path.join(vdir, "baseline.json"), baseline(X_tr, out_tr, input_name, feature_names))
        acc = accuracy(out_te, y_te)
        row = {
            "model": model_name,
            "version": str(version),
            "accuracy": acc,
            "test_rows": int(X_te.shape[0]),
            "train_rows": int(X_tr.shape[0]),
            "bytes": os.path.getsize(path),
            "sha256": sha256(path),
        }
        # model.onnx.sha256 beside the file (sha256sum's format), so REQUIRE_SHA256=true serves the bundled models.
        with open(path + ".sha256", "w") as f:
            f.write(f"{row['sha256']}  model.onnx\n")
        results.append(row)
        checks.append(
            {
                "model": model_name,
                "version": str(version),
                "path": path,
                "input": {"name": input_name, "dims": list(X_te.shape), "data": X_te.flatten().tolist()},
                "output": {"name": output_name, "dims": list(out_te.shape), "data": out_te.flatten().tolist()},
                "labels": y_te.tolist(),
                "accuracy": acc,
            }
        )
        print(
            f"{model_name}/{version}: train acc {accuracy(out_tr, y_tr):.4f}, test acc {acc:.4f} "
            f"({row['test_rows']} test rows), {row['bytes']} bytes, sha256 {row['sha256']}",
            flush=True,
        )
        return out_te

    # ---------------- breast cancer
    ds = load_breast_cancer()
    feature_names = [str(n) for n in ds.feature_names]
    X_tr_np, X_te_np, y_tr_np, y_te_np = train_test_split(
        ds.data, ds.target, test_size=0.25, random_state=0, stratify=ds.target
    )
    X_tr_np = X_tr_np.astype(np.float32)
    X_te_np = X_te_np.astype(np.float32)
    scaler = StandardScaler().fit(X_tr_np.astype(np.float64))
    X_tr, X_te = torch.from_numpy(X_tr_np), torch.from_numpy(X_te_np)
    y_tr, y_te = torch.from_numpy(y_tr_np.astype(np.int64)), torch.from_numpy(y_te_np.astype(np.int64))
    assert list(ds.target_names) == ["malignant", "benign"], ds.target_names
    write_json(
        os.path.join(MODELS, "breast_cancer", "config.json"),
        {
            "task": "classification",
            "labels": {"probabilities": [str(n) for n in ds.target_names]},
            "feature_names": {"input": feature_names},
        },
    )

    seed_everything()
    logreg = SoftmaxClassifier(scaler, nn.Linear(30, 2))
    loss = train_full_batch(logreg, X_tr, y_tr, steps=500, lr=0.05, weight_decay=1e-3)
    print(f"breast_cancer/1 (logistic regression): final train loss {loss:.4f}")
    p1 = record("breast_cancer", 1, logreg, X_tr, y_tr, X_te, y_te, "input", "probabilities", feature_names)

    seed_everything()
    mlp = SoftmaxClassifier(
        scaler,
        nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2)),
    )
    loss = train_full_batch(mlp, X_tr, y_tr, steps=300, lr=1e-3, weight_decay=1e-4)
    print(f"breast_cancer/2 (MLP 30-64-64-2): final train loss {loss:.4f}")
    p2 = record("breast_cancer", 2, mlp, X_tr, y_tr, X_te, y_te, "input", "probabilities", feature_names)

    n_diff = int((p1.argmax(dim=1) != p2.argmax(dim=1)).sum())
    max_diff = float((p1 - p2).abs().max())
    print(
        f"breast_cancer v1 vs v2 on the {X_te.shape[0]} test rows: {n_diff} rows differ in argmax, "
        f"max abs probability difference {max_diff:.6f}"
    )
    if n_diff == 0:
        sys.exit("breast_cancer v1 and v2 agree on every test row; they must differ")

    # ---------------- digits
    ds = load_digits()
    X = ds.images.astype(np.float32)[:, None, :, :]  # [n, 1, 8, 8], values 0..16
    X_tr_np, X_te_np, y_tr_np, y_te_np = train_test_split(
        X, ds.target, test_size=0.25, random_state=0, stratify=ds.target
    )
    X_tr, X_te = torch.from_numpy(X_tr_np), torch.from_numpy(X_te_np)
    y_tr, y_te = torch.from_numpy(y_tr_np.astype(np.int64)), torch.from_numpy(y_te_np.astype(np.int64))
    write_json(
        os.path.join(MODELS, "digits", "config.json"),
        {"task": "classification", "labels": {"logits": [str(i) for i in range(10)]}},
    )
    seed_everything()
    cnn = DigitsCNN()
    loss = train_minibatch(cnn, X_tr, y_tr, epochs=20, batch_size=32, lr=3e-3, weight_decay=3e-3)
    print(f"digits/1 (CNN): final epoch train loss {loss:.4f}")
    record("digits", 1, cnn, X_tr, y_tr, X_te, y_te, "image", "logits")
    digits_acc = results[-1]["accuracy"]
    if digits_acc <= 0.95:
        sys.exit(f"digits test accuracy {digits_acc:.4f} is not > 0.95")

    # ---------------- METRICS.md
    lines = [
        "# Bundled model metrics",
        "",
        "Held-out test split (stratified, 25%, random_state=0). Generated by",
        "`/usr/bin/python3 scripts/train_models.py`; the figures are the ones that script printed.",
        "",
        "| model | version | test accuracy | test rows | train rows | file size (bytes) | sha256 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['version']} | {r['accuracy']:.4f} | {r['test_rows']} | {r['train_rows']} "
            f"| {r['bytes']} | `{r['sha256']}` |"
        )
    lines += [
        "",
        f"breast_cancer v1 vs v2 on the test rows: {n_diff} rows differ in argmax, "
        f"max abs probability difference {max_diff:.6f}.",
        "",
    ]
    with open(os.path.join(MODELS, "METRICS.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))

    # ---------------- verify in onnxruntime-node
    fd, tmp = tempfile.mkstemp(prefix="ortserve-verify-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"tolerance": 1e-5, "models": checks}, f)
        verifier = os.path.join(ROOT, "scripts", "verify_models.mjs")
        print(f"running node {os.path.relpath(verifier, ROOT)} {tmp} ...", flush=True)
        r = subprocess.run(["node", verifier, tmp], cwd=ROOT)
    finally:
        os.unlink(tmp)
    if r.returncode != 0:
        sys.exit("onnxruntime-node verification FAILED")


if __name__ == "__main__":
    main()
