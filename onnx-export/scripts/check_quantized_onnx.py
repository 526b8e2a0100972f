#!/usr/bin/env python3
"""Checks a quantized (QDQ) MNIST model exported by torchlet against
torchlet's own int8 predictions.

    check_quantized_onnx.py MODEL.onnx --predictions FILE [--idx DIR]

Runs onnx.checker.check_model(full_check=True), then onnxruntime on the
MNIST test digits (default: the 2,000 embedded in torchlet-vision, as
check_mnist_onnx.py loads them) given as float32 [N, 1, 28, 28] in [0, 1]
(the model's normalization is in the graph). FILE holds torchlet's int8
predictions, one class per line in test order (`torchlet eval
--predictions FILE`). Prints both accuracies and their agreement, and
fails (exit 1) unless

- at least 99.5% of the predictions are identical, and
- the accuracies differ by at most 0.0005 (one digit in 2,000).

onnxruntime evaluates the QDQ graph with float Conv / int8 QGemm kernels
where torchlet accumulates in int32, so an intermediate value that lands
within float rounding of a half step can round the other way (measured: a
few of 20,000 MNIST logits move by one step, no prediction changes; with
`bias_input`, onnxruntime's int32 bias quantization moves ~1 % of the
logits and about one prediction in 2,000)."""
import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_mnist_onnx import ROOT, read_idx  # noqa: E402

MIN_AGREEMENT = 0.995
MAX_ACCURACY_DIFF = 0.0005


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--predictions", required=True, help="torchlet's int8 predictions, one per line")
    p.add_argument("--idx", default=str(ROOT / "vision" / "data" / "mnist-10k"))
    a = p.parse_args()
    onnx.checker.check_model(onnx.load(a.model), full_check=True)
    images = read_idx(Path(a.idx) / "t10k-images-idx3-ubyte")
    labels = read_idx(Path(a.idx) / "t10k-labels-idx1-ubyte").astype(np.int64)
    x = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]
    want = np.array([int(v) for v in Path(a.predictions).read_text().split()], dtype=np.int64)
    if len(want) != len(labels):
        print(f"FAIL {a.predictions}: {len(want)} predictions for {len(labels)} test images")
        return 1
    sess = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    preds = np.concatenate([
        sess.run(None, {name: x[i:i + 500]})[0].argmax(axis=1) for i in range(0, len(x), 500)
    ])
    n = len(labels)
    right_ort, right_torchlet = int((preds == labels).sum()), int((want == labels).sum())
    same = int((preds == want).sum())
    agreement = same / n
    # Compared as counts, so 0.0005 of 2,000 is exactly one digit.
    acc_ok = abs(right_ort - right_torchlet) <= MAX_ACCURACY_DIFF * n + 1e-9
    ok = acc_ok and agreement >= MIN_AGREEMENT
    print(f"{'ok  ' if ok else 'FAIL'} quantized model on {n} test images: "
          f"onnxruntime accuracy {right_ort / n:.4f}, torchlet int8 accuracy {right_torchlet / n:.4f}, "
          f"agreement {agreement:.4f} ({n - same} predictions differ; "
          f"need >= {MIN_AGREEMENT} and accuracies within {MAX_ACCURACY_DIFF})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
