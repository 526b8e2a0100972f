"""PyTorch-computed rounding ties of the int8 output stage (quantize/tests/requant.rs).

fbgemm (PyTorch's x86 engine) requantizes a Linear/Conv2d sum as
`rint((acc + bias / (x_scale * w_scale)) * ((x_scale * w_scale) / out_scale))`
in float32. The mathematically equal `rint((acc * x_scale * w_scale + bias) / out_scale)`
differs from it by one in rare near-ties; this script searches random layers for
such outputs and records each as a one-output layer (a quint8 input row, a qint8
weight row with its scale, a bias, the output parameters) with PyTorch's result
from `nnq.Linear` and from a 1x1 `nnq.Conv2d` on the same numbers.

Run with a venv that has torch (CPU) and numpy:
    python3 quantize/scripts/make_requant_fixture.py quantize/tests/fixtures/requant.json
"""
import json
import sys

import numpy as np
import torch

torch.backends.quantized.engine = "x86"
torch.manual_seed(0)
rng = np.random.default_rng(0)
f32 = np.float32


def other_formula(acc, atws, bias, out_scale):
    return np.rint((f32(acc) * atws + bias) / f32(out_scale))


def fbgemm_formula(acc, atws, bias, out_scale):
    return np.rint((f32(acc) + f32(bias / atws)) * f32(atws / f32(out_scale)))


def one_output(xq_row, xs, xz, wq_row, ws, bias, os_, oz):
    """PyTorch's Linear(k, 1) and Conv2d(k, 1, 1) outputs on these integers."""
    k = len(xq_row)
    x = torch._make_per_tensor_quantized_tensor(torch.tensor([xq_row], dtype=torch.uint8), xs, xz)
    w = torch._make_per_channel_quantized_tensor(
        torch.tensor([wq_row], dtype=torch.int8), torch.tensor([ws], dtype=torch.double),
        torch.zeros(1, dtype=torch.long), 0)
    b = torch.tensor([bias], dtype=torch.float32)
    lin = torch.ao.nn.quantized.Linear(k, 1)
    lin.set_weight_bias(w, b)
    lin.scale, lin.zero_point = os_, oz
    conv = torch.ao.nn.quantized.Conv2d(k, 1, 1)
    conv.set_weight_bias(w.reshape(1, k, 1, 1), b)
    conv.scale, conv.zero_point = os_, oz
    y_lin = int(lin(x).int_repr()[0, 0])
    y_conv = int(conv(x.reshape(1, k, 1, 1)).int_repr().reshape(-1)[0])
    return y_lin, y_conv


cases = []
trials = 0
while len(cases) < 12 and trials < 3000:
    trials += 1
    m, k, o = 256, int(rng.integers(8, 300)), int(rng.integers(4, 64))
    xs, xz = float(f32(rng.uniform(0.005, 0.05))), int(rng.integers(0, 40))
    xq = rng.integers(0, 128, size=(m, k)).astype(np.int64)  # 7-bit, as x86 calibrates
    wq = rng.integers(-127, 128, size=(o, k)).astype(np.int64)
    ws = rng.uniform(0.001, 0.02, size=o).astype(np.float32)
    bias = rng.standard_normal(o).astype(np.float32)
    os_, oz = float(f32(rng.uniform(0.02, 0.3))), int(rng.integers(0, 200))
    acc = (xq - xz) @ wq.T
    atws = (f32(xs) * ws).astype(np.float32)
    a = other_formula(acc, atws, bias, os_)
    b = fbgemm_formula(acc, atws, bias, os_)
    # Ties inside the output range (outside, both clamp to 0 or 255).
    a, b = np.clip(a + oz, 0, 255), np.clip(b + oz, 0, 255)
    for i, j in zip(*np.nonzero(a != b)):
        y_lin, y_conv = one_output(xq[i].tolist(), xs, xz, wq[j].tolist(), float(ws[j]),
                                   float(bias[j]), os_, oz)
        cases.append({
            "x": xq[i].tolist(), "x_scale": xs, "x_zero_point": xz,
            "w": wq[j].tolist(), "w_scale": float(ws[j]), "bias": float(bias[j]),
            "out_scale": os_, "out_zero_point": oz,
            "linear": y_lin, "conv1x1": y_conv,
            "fbgemm_formula": int(b[i, j]),
            "other_formula": int(a[i, j]),
        })
        if len(cases) >= 12:
            break

out = {"torch": torch.__version__, "engine": "x86", "trials": trials, "cases": cases}
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
agree = sum(c["linear"] == c["fbgemm_formula"] for c in cases)
agree_conv = sum(c["conv1x1"] == c["fbgemm_formula"] for c in cases)
print(f"{len(cases)} ties in {trials} trials; PyTorch Linear agrees with fbgemm's formula on "
      f"{agree}, Conv2d on {agree_conv}")
