#!/usr/bin/python3
"""Train the Fashion-MNIST demo CNN for sampan and export it to ONNX.

Offline only: nothing in the build or the tests runs this script. It needs
Debian's python3-torch, python3-onnx, python3-numpy and dataset-fashion-mnist
(see host/models/models.mk) and must run under /usr/bin/python3, which sees them.

    /usr/bin/python3 host/models/train_fmnist.py [--epochs 3] [--seed 0] [--out host/models]

Writes, under --out:
    fmnist_cnn.onnx                 opset 13, float32, static batch 1
    samples/<index>_<label>.pgm     the first test image of each class, 28x28 P5
    samples/<index>_<label>.npy     the same, float32 (1, 1, 28, 28), normalized
    samples/expected.tsv            file, label, float prediction of the model

Input normalization (the only one the model knows): x = pixel / 255.0, so
0 (black background) -> 0.0 and 255 -> 1.0; layout NCHW, one channel.
"""

import argparse
import gzip
import importlib.util
import os
import struct
import sys
import time
import warnings

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
OPSET = 13
# The ops of the models issue that the sampan runtime takes from float models.
ALLOWED_OPS = {"Conv", "Gemm", "MatMul", "Relu", "MaxPool", "AveragePool",
               "GlobalAveragePool", "Flatten", "Reshape", "Add", "Softmax",
               "BatchNormalization"}


# ---------------------------------------------------------------- data

def read_idx(path):
    """Read an idx file (gzip or plain): big-endian magic 0x0000TTNN (TT=0x08
    for unsigned bytes, NN the number of dimensions), NN big-endian uint32
    dimensions, then the data row-major. Returns a uint8 numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        sys.exit(f"{path}: truncated idx header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08 or ndim < 1:
        sys.exit(f"{path}: not an unsigned-byte idx file")
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        sys.exit(f"{path}: {body.size} data bytes, header says {dims}")
    return body.reshape(dims)


def load_split(split):
    """Images (N, 1, 28, 28) uint8 and labels (N,) int64 of 'train' or 't10k'."""
    images = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        sys.exit(f"{split}: unexpected shapes {images.shape} {labels.shape}")
    return images[:, None, :, :], labels.astype(np.int64)


def normalize(images_u8):
    """uint8 pixels -> the model's float32 input: pixel / 255."""
    return images_u8.astype(np.float32) / np.float32(255.0)


# ---------------------------------------------------------------- model

class FmnistCnn(nn.Module):
    """(1,1,28,28) -> Conv3x3(16)+BN+ReLU+MaxPool2 -> (16,14,14)
    -> Conv3x3(32)+BN+ReLU+MaxPool2 -> (32,7,7) -> Flatten(1568)
    -> Gemm(32)+ReLU -> Gemm(10) logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def accuracy(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            x = torch.from_numpy(normalize(images[i:i + batch]))
            pred = model(x).argmax(1).numpy()
            correct += int((pred == labels[i:i + batch]).sum())
    return correct / len(labels)


def train(model, images, labels, epochs, seed, batch=128):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters())  # lr set by the one-cycle schedule
    steps = epochs * ((len(labels) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    x_all = torch.from_numpy(normalize(images))
    y_all = torch.from_numpy(labels)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(labels), generator=gen)
        total = 0.0
        for i in range(0, len(labels), batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(labels):.4f} "
              f"({time.time() - t0:.1f} s)", flush=True)


# ---------------------------------------------------------------- ONNX

def export(model, path):
    """Export at opset 13 with a static batch of 1. BatchNormalization stays a
    node of its own (TrainingMode.PRESERVE on a model in eval mode), so that
    the quantizer's BN folding is exercised. Constant folding stays on: without
    it the graph gains Identity nodes. torch warns that folding may change
    parameters in training mode; the model is in eval mode, so it does not."""
    model.eval()
    warnings.filterwarnings("ignore", message="It is recommended that constant folding")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path,
                      opset_version=OPSET, input_names=["input"],
                      output_names=["logits"],
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    print(f"onnx: {path}: {os.path.getsize(path)} bytes, opset {OPSET}, ops {ops}")
    if set(ops) - ALLOWED_OPS:
        sys.exit(f"onnx: ops outside the runtime's list: {sorted(set(ops) - ALLOWED_OPS)}")
    return m


def conv2d_np(x, w, b, pads):
    """NCHW float convolution, stride 1, no dilation, group 1, via im2col."""
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i:i + oh, j:j + ow]
    y = np.tensordot(w.reshape(oc, -1), cols.reshape(n, c * kh * kw, oh * ow),
                     axes=([1], [1]))  # (oc, n, oh*ow)
    y = y.transpose(1, 0, 2).reshape(n, oc, oh, ow)
    return y + (b.reshape(1, oc, 1, 1) if b is not None else 0)


def run_onnx_np(m, x):
    """Evaluate the exported graph with numpy, node by node, independently of
    torch: only the ops this model contains, with the attributes it uses."""
    env = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    env[m.graph.input[0].name] = x
    for node in m.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        i = [env[n] if n else None for n in node.input]
        if node.op_type == "Conv":
            assert a.get("strides", [1, 1]) == [1, 1] and a.get("group", 1) == 1
            y = conv2d_np(i[0], i[1], i[2] if len(i) > 2 else None, a["pads"])
        elif node.op_type == "BatchNormalization":
            xs, scale, bias, mean, var = i
            k = (scale / np.sqrt(var + a.get("epsilon", 1e-5))).reshape(1, -1, 1, 1)
            y = (xs - mean.reshape(1, -1, 1, 1)) * k + bias.reshape(1, -1, 1, 1)
        elif node.op_type == "Relu":
            y = np.maximum(i[0], 0)
        elif node.op_type == "MaxPool":
            assert a["kernel_shape"] == [2, 2] and a["strides"] == [2, 2]
            n_, c_, h_, w_ = i[0].shape
            y = i[0].reshape(n_, c_, h_ // 2, 2, w_ // 2, 2).max(axis=(3, 5))
        elif node.op_type == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif node.op_type == "Gemm":
            bmat = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (i[0] @ bmat) + a.get("beta", 1.0) * i[2]
        else:
            sys.exit(f"numpy check: op {node.op_type} not handled")
        env[node.output[0]] = y.astype(np.float32)
    return env[m.graph.output[0].name]


def onnx_accuracy(m, images, labels, batch=1000):
    """Test accuracy of the ONNX graph itself (the model is exported with batch
    1; the numpy evaluator runs it on batches, which the ops allow)."""
    correct = 0
    for i in range(0, len(labels), batch):
        logits = run_onnx_np(m, normalize(images[i:i + batch]))
        correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
    return correct / len(labels)


# ---------------------------------------------------------------- samples

def write_samples(model, images, labels, outdir):
    """The first test image of each class as PGM (P5) and .npy, and a table of
    the float model's predictions for them."""
    os.makedirs(outdir, exist_ok=True)
    rows = ["file\tlabel\tclass\tfloat_pred"]
    model.eval()
    for cls in range(10):
        idx = int(np.flatnonzero(labels == cls)[0])
        stem = os.path.join(outdir, f"{idx}_{cls}")
        with open(stem + ".pgm", "wb") as f:
            f.write(b"P5\n28 28\n255\n" + images[idx, 0].tobytes())
        x = normalize(images[idx:idx + 1])
        np.save(stem + ".npy", x)
        with torch.no_grad():
            pred = int(model(torch.from_numpy(x)).argmax(1))
        rows.append(f"{idx}_{cls}\t{cls}\t{CLASSES[cls]}\t{pred}")
    with open(os.path.join(outdir, "expected.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    print(f"samples: 10 images in {outdir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    t0 = time.time()
    train_x, train_y = load_split("train")
    test_x, test_y = load_split("t10k")
    model = FmnistCnn()
    train(model, train_x, train_y, args.epochs, args.seed)
    train_s = time.time() - t0
    acc = accuracy(model, test_x, test_y)
    print(f"torch float test accuracy: {acc * 100:.2f}% "
          f"({int(round(acc * len(test_y)))}/{len(test_y)}), "
          f"training {train_s:.0f} s")

    path = os.path.join(args.out, "fmnist_cnn.onnx")
    m = export(model, path)
    onnx_acc = onnx_accuracy(m, test_x, test_y)
    print(f"onnx float test accuracy (numpy evaluator): {onnx_acc * 100:.2f}% "
          f"({int(round(onnx_acc * len(test_y)))}/{len(test_y)})")
    have_ref = importlib.util.find_spec("onnx.reference") is not None
    print(f"onnx.reference: {'present' if have_ref else 'absent'} in python3-onnx "
          f"{onnx.__version__}; the graph was checked with the numpy evaluator")
    write_samples(model, test_x, test_y, os.path.join(args.out, "samples"))
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
