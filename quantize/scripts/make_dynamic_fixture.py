"""PyTorch-computed cases for dynamic quantization (quantize/tests/dynamic.rs).

Run with a venv that has torch (CPU) and numpy:
    python3 quantize/scripts/make_dynamic_fixture.py quantize/tests/fixtures/dynamic.json
"""
import json
import sys

import torch
from torch.nn.utils.rnn import pack_padded_sequence

torch.backends.quantized.engine = "x86"
torch.manual_seed(0)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


cases = []

# Linear: two shapes, inputs with and without negative values.
for (n, k, m, lo) in [(5, 7, 3, -1.0), (16, 40, 9, 0.0)]:
    lin = torch.nn.Linear(k, n)
    x = torch.rand(m, k) * 3 + lo
    qm = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lin), {torch.nn.Linear}, dtype=torch.qint8)
    y = qm(x)
    wq = qm[0].weight()
    cases.append({
        "op": "linear_dynamic",
        "weight": flat(lin.weight), "weight_shape": list(lin.weight.shape),
        "bias": flat(lin.bias),
        "x": flat(x), "x_shape": list(x.shape),
        "weight_scale": float(wq.q_scale()), "weight_zero_point": int(wq.q_zero_point()),
        "weight_int": [int(v) for v in wq.int_repr().reshape(-1).tolist()],
        "y": flat(y),
    })

# LSTM: 2 layers, bidirectional, batch_first, packed with lengths.
for (layers, bidir, lengths) in [(1, False, None), (2, True, [5, 3, 1, 4])]:
    lstm = torch.nn.LSTM(6, 8, num_layers=layers, bidirectional=bidir, batch_first=True)
    x = torch.randn(4, 5, 6)
    qm = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(lstm), {torch.nn.LSTM}, dtype=torch.qint8)
    if lengths is None:
        out, (h_n, c_n) = qm[0](x)
        out_flat = flat(out)
    else:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out_p, (h_n, c_n) = qm[0](packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=5)
        out_flat = flat(out)
    params = {name: flat(p) for name, p in lstm.named_parameters()}
    shapes = {name: list(p.shape) for name, p in lstm.named_parameters()}
    cases.append({
        "op": "lstm_dynamic",
        "num_layers": layers, "bidirectional": bidir, "hidden_size": 8,
        "params": params, "shapes": shapes,
        "x": flat(x), "x_shape": list(x.shape), "lengths": lengths,
        "output": out_flat, "h_n": flat(h_n), "c_n": flat(c_n),
    })

with open(sys.argv[1], "w") as f:
    json.dump({"torch_version": torch.__version__, "engine": "x86", "cases": cases}, f)
print(f"{len(cases)} cases -> {sys.argv[1]}")
