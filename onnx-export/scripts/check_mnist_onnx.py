#!/usr/bin/env python3
"""Runs a run folder's ONNX model in onnxruntime on the MNIST test images
and checks that it gives the same accuracy line as `torchlet eval`.

    check_mnist_onnx.py MODEL.onnx --expect "test accuracy: 0.9735" [--idx DIR]

The model takes raw images as a deployed model receives them: float32
[N, 1, 28, 28] scaled to [0, 1] (the run's normalisation is in the graph).
DIR holds t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)
(default: the 2,000 test digits embedded in torchlet-vision)."""
import argparse
import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]


def read_idx(path: Path) -> np.ndarray:
    if not path.exists():
        path = path.with_name(path.name + ".gz")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--expect", required=True, help="torchlet eval's 'test accuracy: ...' line")
    p.add_argument("--idx", default=str(ROOT / "vision" / "data" / "mnist-10k"))
    a = p.parse_args()
    onnx.checker.check_model(onnx.load(a.model), full_check=True)
    images = read_idx(Path(a.idx) / "t10k-images-idx3-ubyte")
    labels = read_idx(Path(a.idx) / "t10k-labels-idx1-ubyte").astype(np.int64)
    x = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    sess = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    preds = np.concatenate([
        sess.run(None, {name: x[i:i + 500]})[0].argmax(axis=1) for i in range(0, len(x), 500)
    ])
    line = f"test accuracy: {float((preds == labels).mean()):.4f}"
    want = a.expect.strip().splitlines()[-1].strip()
    ok = line == want
    print(f"{'ok  ' if ok else 'FAIL'} onnxruntime on {len(x)} test images: {line} (torchlet eval: {want})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
