#!/usr/bin/env python3
"""Checks the models `cargo run -p torchlet-onnx --example export_models -- DIR`
wrote: onnx.checker.check_model(full_check=True), then onnxruntime on the
saved inputs of two batch sizes, compared with torchlet's outputs
(max abs diff <= 1e-5, or the tolerance after the model's name on its
manifest line). Exits non-zero on the first failure."""
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

TOL = 1e-5


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    d = Path(sys.argv[1])
    lines = [line.split() for line in (d / "manifest.txt").read_text().splitlines()]
    tols = {w[0]: float(w[1]) if len(w) > 1 else TOL for w in lines if w}
    names = list(tols)
    failed = 0
    for name in names:
        path = d / f"{name}.onnx"
        try:
            model = onnx.load(str(path))
            onnx.checker.check_model(model, full_check=True)
            sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            inp = sess.get_inputs()[0].name
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            failed += 1
            continue
        diffs = []
        for i in range(2):
            x = np.load(d / f"{name}_in_{i}.npy")
            want = np.load(d / f"{name}_out_{i}.npy")
            try:
                (got,) = sess.run(None, {inp: x})
            except Exception as e:  # noqa: BLE001
                print(f"FAIL {name}: input {x.shape}: {type(e).__name__}: {e}")
                failed += 1
                break
            if got.shape != want.shape:
                print(f"FAIL {name}: input {x.shape}: shape {got.shape} != {want.shape}")
                failed += 1
                break
            diffs.append(float(np.max(np.abs(got - want))) if want.size else 0.0)
        else:
            worst = max(diffs)
            ok = worst <= tols[name]
            failed += not ok
            shapes = [np.load(d / f"{name}_in_{i}.npy").shape for i in range(2)]
            print(f"{'ok  ' if ok else 'FAIL'} {name}: opset {model.opset_import[0].version}, "
                  f"inputs {shapes[0]} and {shapes[1]}, max abs diff {worst:.2e}")
    print(f"onnx check: {len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
