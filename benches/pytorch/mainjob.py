#!/usr/bin/env python3
"""The main job's recipe in PyTorch, the twin of `torchlet train` with its
defaults: LeNet-5 with BatchNorm on the embedded MNIST-10k digits (8,000
train, 2,000 test, pixels / 255 normalised with mean 0.1307 and std
0.3081), Adam (lr 1e-3), batch 64, reshuffled every epoch, 5 epochs, the
test set evaluated after each epoch (batches of 500), then the weights
saved. It prints one line per epoch and the final test accuracy, as
torchlet does.

    python3 benches/pytorch/mainjob.py [--threads N] [--epochs N] [--out DIR]

`benches/compare.py mainjob` times this whole process (interpreter start
and `import torch` included, as a user waits for them) against the whole
`torchlet train` process. torchlet also writes config.json and an ONNX
export of the run; PyTorch's exporter needs onnxscript, so the twin saves
only the state dict (torchlet's extra files make the comparison harder on
torchlet, not easier)."""
import argparse
import gzip
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "vision" / "data" / "mnist-10k"
MEAN, STD = 0.1307, 0.3081


def read_idx(name: str) -> np.ndarray:
    raw = gzip.decompress((DATA / f"{name}.gz").read_bytes())
    ndim = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def split(prefix: str):
    x = torch.from_numpy(read_idx(f"{prefix}-images-idx3-ubyte").astype(np.float32) / 255.0)
    x = ((x - MEAN) / STD).unsqueeze(1)
    y = torch.from_numpy(read_idx(f"{prefix}-labels-idx1-ubyte").astype(np.int64))
    return x, y


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


def evaluate(model, x, y):
    model.eval()
    loss, right = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            logits = model(x[i:i + 500])
            loss += nn.functional.cross_entropy(logits, y[i:i + 500], reduction="sum").item()
            right += int((logits.argmax(1) == y[i:i + 500]).sum())
    return loss / len(x), right / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--out", default=None, help="where to save the weights (default: a temp dir)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    (xt, yt), (xe, ye) = split("train"), split("t10k")
    model = lenet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(xt), generator=g)
        total, right = 0.0, 0
        for i in range(0, len(xt), 64):
            idx = order[i:i + 64]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad()
            logits = model(xb)
            loss = nn.functional.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            right += int((logits.argmax(1) == yb).sum())
        test_loss, test_acc = evaluate(model, xe, ye)
        print(f"epoch {epoch + 1}/{a.epochs}: train loss {total / len(xt):.4f} "
              f"acc {right / len(xt):.4f} | test loss {test_loss:.4f} acc {test_acc:.4f} | "
              f"{time.perf_counter() - t0:.2f} s")
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="mainjob-"))
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    print(f"test accuracy: {test_acc:.4f}")


if __name__ == "__main__":
    main()
