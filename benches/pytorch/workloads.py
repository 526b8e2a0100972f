#!/usr/bin/env python3
"""The torchlet benchmark workloads in PyTorch.

Same names, command line and JSON output as torchlet's runner
(`cargo run --release -p torchlet-benches --bin workloads -- ...`):

    python benches/pytorch/workloads.py NAME... [--threads N] [--steps N]
    python benches/pytorch/workloads.py --all | --list

prints one JSON object per line:
{"workload": ..., "threads": ..., "median_ms": ..., "p10_ms": ..., "steps": ...}
plus "gflops" (matmul), "gb_per_s" (memory-bound ops) or "us_per_op"
(op_overhead). All tensors are float32, inputs are random and made in
process, models use PyTorch's default initialization, and a training step
is the full step: zero_grad, forward, loss, backward, optimizer step.

Needs `pip install torch numpy`.
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print(
        f"PyTorch not found in {sys.executable}: install it with "
        f"`{sys.executable} -m pip install torch numpy`",
        file=sys.stderr,
    )
    sys.exit(2)

N4M = 4 * 1024 * 1024
OVERHEAD_OPS = 1000


class Workload:
    """One step to run repeatedly, plus what it computes per step."""

    def __init__(self, step, flops=None, bytes_=None, ops=None):
        self.step = step
        self.flops = flops
        self.bytes = bytes_
        self.ops = ops


def matmul(n):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    return Workload(lambda: torch.mm(a, b), flops=2.0 * n**3)


def add4m():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(N4M, generator=g), torch.randn(N4M, generator=g)
    return Workload(lambda: a + b, bytes_=3 * 4 * N4M)


def sigmoid4m():
    a = torch.randn(N4M, generator=torch.Generator().manual_seed(1))
    return Workload(lambda: torch.sigmoid(a), bytes_=2 * 4 * N4M)


def sum4m():
    a = torch.randn(N4M, generator=torch.Generator().manual_seed(1))
    return Workload(lambda: a.sum(), bytes_=4 * N4M)


def softmax4096x1024():
    x = torch.randn(4096, 1024, generator=torch.Generator().manual_seed(2))
    return Workload(lambda: torch.softmax(x, 1), bytes_=2 * 4 * 4096 * 1024)


def transpose2048():
    t = torch.randn(2048, 2048, generator=torch.Generator().manual_seed(3)).t()
    return Workload(lambda: t.contiguous(), bytes_=2 * 4 * 2048 * 2048)


def op_overhead():
    a = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([2.0], requires_grad=True)

    def step():
        for _ in range(OVERHEAD_OPS):
            a + b

    return Workload(step, ops=OVERHEAD_OPS)


def seed_b1():
    # The course's seed network with the slides' weights (see
    # torchlet/examples/seed_mlp.rs), written the idiomatic PyTorch way.
    model = nn.Sequential(
        nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 2), nn.Softmax(0)
    )
    with torch.no_grad():
        for layer, w in zip((model[0], model[2], model[4]), (0.05, 0.025, 1.0)):
            layer.weight.fill_(w)
        model[0].bias.copy_(torch.tensor([0.01, 0.02, 0.03]))
        model[2].bias.copy_(torch.tensor([0.01, 0.02, 0.03]))
        model[4].bias.copy_(torch.tensor([0.01, 0.02]))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.tensor([1.5, 2.5, 3.0])
    y = torch.tensor([1.0, 0.0])

    def step():
        opt.zero_grad()
        loss = F.binary_cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return Workload(step)


def classifier(model, opt, x, y):
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return Workload(step)


def mlp(batch):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return classifier(model, opt, torch.randn(batch, 784), torch.randint(0, 10, (batch,)))


def lenet_b64():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return classifier(model, opt, torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,)))


class LstmClassifier(nn.Module):
    """Embedding(5000, 64) -> LSTM(64 -> 128) -> last hidden -> Linear(128, 4)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(5000, 64)
        self.lstm = nn.LSTM(64, 128)
        self.head = nn.Linear(128, 4)

    def forward(self, tokens):  # tokens: [T, N], sequence first
        _, (h_n, _) = self.lstm(self.embedding(tokens))
        return self.head(h_n[0])


def lstm_b32():
    torch.manual_seed(0)
    model = LstmClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return classifier(model, opt, torch.randint(0, 5000, (32, 32)), torch.randint(0, 4, (32,)))


# --- Sparse workloads (issue 16) --------------------------------------------
#
# The sparse patterns are made bit for bit as torchlet's
# benches/src/graphs.rs makes them (see its module doc): a SplitMix64
# stream, the first `edges` distinct non-loop (row, col) pairs, rows and
# columns drawn by Chung-Lu power-law weights 1/sqrt(i + 1) or uniformly,
# values from the stream seed + 1 in CSR order. Dense inputs are torch's
# own randn from a fixed seed. Vectorized with numpy.

GOLDEN = 0x9E3779B97F4A7C15

POWERLAW_NODES, POWERLAW_EDGES, POWERLAW_WIDTH = 100_000, 1_000_000, 64
UNIFORM_N, UNIFORM_EDGES, UNIFORM_WIDTH = 20_000, 400_000, 128
GCN_NODES, GCN_EDGES, GCN_WIDTH = 8_000, 80_000, 64


def splitmix64(seed, count):
    """The first `count` outputs of SplitMix64 from `seed` (uint64)."""
    import numpy as np

    u64 = np.uint64
    with np.errstate(over="ignore"):
        z = u64(seed) + np.arange(1, count + 1, dtype=u64) * u64(GOLDEN)
        z = (z ^ (z >> u64(30))) * u64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> u64(27))) * u64(0x94D049BB133111EB)
    return z ^ (z >> u64(31))


def uniform01(bits):
    """Uniform doubles in [0, 1) from the top 53 bits."""
    import numpy as np

    return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _pattern(n, edges, seed, node):
    """(crow, col, values) of the first `edges` distinct non-loop pairs."""
    import numpy as np

    count = edges + edges // 4 + 1024
    while True:
        u = uniform01(splitmix64(seed, 2 * count))
        r, c = node(u[0::2]), node(u[1::2])
        keep = np.nonzero(r != c)[0]
        keys = r[keep] * n + c[keep]
        _, first = np.unique(keys, return_index=True)  # first occurrences
        if len(first) >= edges:
            break
        count *= 2
    first.sort()
    keys = np.sort(keys[first[:edges]])
    rows, col = keys // n, keys % n
    crow = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=crow[1:])
    values = uniform01(splitmix64(seed + 1, edges)).astype(np.float32)
    return crow, col, values


def power_law_graph(n, edges, seed):
    import numpy as np

    cum = np.cumsum(1.0 / np.sqrt(np.arange(1, n + 1, dtype=np.float64)))
    total = cum[-1]
    return _pattern(
        n, edges, seed,
        lambda u: np.minimum(np.searchsorted(cum, u * total, side="right"), n - 1))


def uniform_pattern(n, edges, seed):
    import numpy as np

    return _pattern(n, edges, seed, lambda u: np.minimum((u * n).astype(np.int64), n - 1))


def gcn_normalized(crow, col, n):
    """D^-1/2 (A + I) D^-1/2 with d the row sums of A + I (CSR parts)."""
    import numpy as np

    rows = np.repeat(np.arange(n), np.diff(crow))
    keys = np.sort(np.concatenate([rows * n + col, np.arange(n) * (n + 1)]))
    rows, col = keys // n, keys % n
    deg = np.bincount(rows, minlength=n)
    crow = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=crow[1:])
    deg = deg.astype(np.float64)
    values = (1.0 / np.sqrt(deg[rows] * deg[col])).astype(np.float32)
    return crow, col, values


def to_csr(parts, n):
    crow, col, values = parts
    return torch.sparse_csr_tensor(
        torch.from_numpy(crow), torch.from_numpy(col), torch.from_numpy(values), (n, n))


def spmm(a, width, seed, flops_nnz):
    b = torch.randn(a.shape[1], width, generator=torch.Generator().manual_seed(seed))
    return Workload(lambda: torch.sparse.mm(a, b), flops=2.0 * flops_nnz * width)


def spmm_powerlaw():
    a = to_csr(power_law_graph(POWERLAW_NODES, POWERLAW_EDGES, 0), POWERLAW_NODES)
    return spmm(a, POWERLAW_WIDTH, 1, a._nnz())


def spmm_uniform():
    a = to_csr(uniform_pattern(UNIFORM_N, UNIFORM_EDGES, 0), UNIFORM_N)
    return spmm(a, UNIFORM_WIDTH, 1, a._nnz())


def spmm_powerlaw_fb():
    # A sparse CSR leaf: PyTorch's CSR backward (sampled_addmm for A's
    # gradient, A^T G for B's) is ~30x faster than the COO one here.
    a = to_csr(power_law_graph(POWERLAW_NODES, POWERLAW_EDGES, 0), POWERLAW_NODES)
    a.requires_grad_(True)
    g = torch.Generator().manual_seed(1)
    b = torch.randn(POWERLAW_NODES, POWERLAW_WIDTH, generator=g).requires_grad_(True)
    weight = torch.randn(POWERLAW_NODES, POWERLAW_WIDTH, generator=g)

    def step():
        a.grad = None
        b.grad = None
        loss = (torch.sparse.mm(a, b) * weight).sum()
        loss.backward()

    return Workload(step, flops=6.0 * a._nnz() * POWERLAW_WIDTH)


def sddmm():
    c = to_csr(uniform_pattern(UNIFORM_N, UNIFORM_EDGES, 0), UNIFORM_N)
    g = torch.Generator().manual_seed(2)
    a = torch.randn(UNIFORM_N, UNIFORM_WIDTH, generator=g)
    b = torch.randn(UNIFORM_WIDTH, UNIFORM_N, generator=g)
    return Workload(lambda: torch.sparse.sampled_addmm(c, a, b),
                    flops=2.0 * c._nnz() * UNIFORM_WIDTH)


def gcn(dense):
    """One GCN layer A_hat @ (X W), forward + backward (loss sum(out * G))."""
    parts = gcn_normalized(*power_law_graph(GCN_NODES, GCN_EDGES, 0)[:2], GCN_NODES)
    a = to_csr(parts, GCN_NODES)
    if dense:
        a = a.to_dense()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(GCN_NODES, GCN_WIDTH, generator=g)
    w = torch.randn(GCN_WIDTH, GCN_WIDTH, generator=g).requires_grad_(True)
    weight = torch.randn(GCN_NODES, GCN_WIDTH, generator=g)
    mm = torch.mm if dense else torch.sparse.mm

    def step():
        w.grad = None
        loss = (mm(a, x @ w) * weight).sum()
        loss.backward()

    return Workload(step)


EMBEDDING_ROWS, EMBEDDING_DIM, EMBEDDING_BATCH = 200_000, 64, 4_096


def embedding_sparse_adam():
    """Embedding(200000, 64, sparse=True), 4096 fixed random lookups,
    loss = sum of their squares, backward, SparseAdam step (lr 1e-3)."""
    torch.manual_seed(0)
    emb = nn.Embedding(EMBEDDING_ROWS, EMBEDDING_DIM, sparse=True)
    opt = torch.optim.SparseAdam(emb.parameters(), lr=1e-3)
    idx = torch.randint(0, EMBEDDING_ROWS, (EMBEDDING_BATCH,),
                        generator=torch.Generator().manual_seed(4))

    def step():
        opt.zero_grad()
        rows = emb(idx)
        loss = (rows * rows).sum()
        loss.backward()
        opt.step()

    return Workload(step)


# name -> (builder, default timed steps); the same defaults as torchlet's runner.
# --- Quantized workloads (issue 17) ------------------------------------------
#
# PyTorch's eager static quantization on the x86 engine (fbgemm): QuantStub,
# fused Conv+BN+ReLU / Linear+ReLU, get_default_qconfig("x86"), calibration
# on four random batches, convert; dynamic quantization with
# quantize_dynamic. Inference runs under torch.inference_mode.


def _quantized(float_model, shape):
    import torch.ao.quantization as tq

    torch.backends.quantized.engine = "x86"
    model = nn.Sequential(tq.QuantStub(), *float_model, tq.DeQuantStub()).eval()
    groups, layers = [], list(model)
    for i, m in enumerate(layers):
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
            third = layers[i + 2] if i + 2 < len(layers) else None
            groups.append([str(i), str(i + 1)] + ([str(i + 2)] if isinstance(third, nn.ReLU) else []))
        elif isinstance(m, nn.Linear) and isinstance(nxt, nn.ReLU):
            groups.append([str(i), str(i + 1)])
    model = tq.fuse_modules(model, groups)
    model.qconfig = tq.get_default_qconfig("x86")
    tq.prepare(model, inplace=True)
    g = torch.Generator().manual_seed(7)
    with torch.inference_mode():
        for _ in range(4):
            model(torch.randn(*shape, generator=g))
    return tq.convert(model)


def _inference(model, x):
    def step():
        with torch.inference_mode():
            model(x)

    return Workload(step)


def qgemm1024():
    torch.backends.quantized.engine = "x86"
    n = 1024
    g = torch.Generator().manual_seed(0)
    x = torch.quantize_per_tensor(torch.rand(n, n, generator=g), 1.0 / 127.0, 0, torch.quint8)
    w = torch.quantize_per_channel(
        torch.randn(n, n, generator=g), torch.full((n,), 3.0 / 127.0, dtype=torch.double),
        torch.zeros(n, dtype=torch.long), 0, torch.qint8)
    packed = torch.ops.quantized.linear_prepack(w, None)
    return Workload(lambda: torch.ops.quantized.linear(x, packed, 0.5, 64), flops=2.0 * n**3)


def _one_rank(net):
    """The DDP workloads' baseline: the same step, batch 64, one thread."""
    torch.set_num_threads(1)
    if net == "mlp":
        w = mlp(64)
    else:
        w = lenet_b64()
    w.ops = 64
    return w


def _ddp(name, steps, warmup):
    """Runs benches/pytorch/ddp.py on 2 ranks under torchrun; returns
    rank 0's JSON line as a dict."""
    import os
    import subprocess
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp.py")
    # gloo's rendezvous now and then aborts a rank at start-up on this
    # machine: a failed launch is tried again (up to 3 times).
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
             "2", script, name, "--steps", str(steps), "--warmup", str(warmup)],
            capture_output=True, text=True)
        if out.returncode == 0:
            break
    if out.returncode != 0:
        sys.exit(f"torchrun failed ({out.returncode}):\n{out.stderr}")
    return json.loads([l for l in out.stdout.splitlines() if l.startswith("{")][-1])


def _mlp_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    ).eval()


def _lenet_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    ).eval()


def mlp_int8_b256():
    return _inference(_quantized(_mlp_model(), (256, 784)), torch.randn(256, 784))


def mlp_f32_infer_b256():
    return _inference(_mlp_model(), torch.randn(256, 784))


def lenet_int8_b256():
    shape = (256, 1, 28, 28)
    return _inference(_quantized(_lenet_model(), shape), torch.randn(*shape))


def lenet_f32_infer_b256():
    return _inference(_lenet_model(), torch.randn(256, 1, 28, 28))


def lstm_dynamic_int8_b32():
    torch.backends.quantized.engine = "x86"
    torch.manual_seed(0)
    model = torch.ao.quantization.quantize_dynamic(
        LstmClassifier().eval(), {nn.LSTM, nn.Linear}, dtype=torch.qint8)
    return _inference(model, torch.randint(0, 5000, (32, 32)))


def lstm_f32_infer_b32():
    torch.manual_seed(0)
    return _inference(LstmClassifier().eval(), torch.randint(0, 5000, (32, 32)))


# The jit workloads (issue 18): torch.jit.trace + freeze +
# optimize_for_inference for the script rows, the plain module for the
# eager rows.

class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + short)


class ResNet8(nn.Module):
    """torchlet-vision's ResNet::resnet8: a 3x3 stem, three stages of one
    BasicBlock (16, 32, 64 channels), adaptive average pooling, fc."""

    def __init__(self, in_channels=3, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(BasicBlock(16, 16, 1))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2))
        self.layer3 = nn.Sequential(BasicBlock(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def _randn(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(3))


def _scripted(model, x):
    model = model.eval()
    traced = torch.jit.trace(model, x)
    frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    return _inference(frozen, x)


class TextLstm(nn.Module):
    """The fortunes LSTM classifier: Embedding(5000, 64, padding_idx=0) ->
    LSTM(64 -> 64, batch_first) over packed lengths -> Linear(64, 4)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5000, 64, padding_idx=0)
        self.lstm = nn.LSTM(64, 64, batch_first=True)
        self.head = nn.Linear(64, 4)

    def forward(self, tokens):
        lengths = (tokens != 0).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])


def _text_tokens():
    """32 right-padded rows of 40 tokens, row i keeping 40 - (7i mod 30)."""
    torch.manual_seed(0)
    ids = torch.randint(1, 5000, (32, 40))
    for i in range(32):
        ids[i, 40 - (7 * i) % 30:] = 0
    return ids


def _text_lstm():
    torch.manual_seed(0)
    return TextLstm().eval()


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(4)
        self.w = nn.Parameter(torch.randn(1024, generator=g), requires_grad=False)
        self.b = nn.Parameter(torch.randn(1024, generator=g), requires_grad=False)

    def forward(self, x):
        return torch.nn.functional.gelu(x * self.w + self.b) * torch.sigmoid(x) + x / 2


def _resnet8():
    torch.manual_seed(0)
    return ResNet8().eval()


# Run in processes of their own under torchrun (see _ddp), not built here.
DDP_WORKLOADS = {"ddp_mlp_b64": 300, "ddp_lenet_b64": 100}

WORKLOADS = {
    "ddp_mlp_b64_1rank": (lambda: _one_rank("mlp"), 300),
    "ddp_lenet_b64_1rank": (lambda: _one_rank("lenet"), 100),
    "matmul64": (lambda: matmul(64), 2000),
    "matmul256": (lambda: matmul(256), 300),
    "matmul1024": (lambda: matmul(1024), 40),
    "add4m": (add4m, 100),
    "sigmoid4m": (sigmoid4m, 100),
    "sum4m": (sum4m, 200),
    "softmax4096x1024": (softmax4096x1024, 50),
    "transpose2048": (transpose2048, 50),
    "op_overhead": (op_overhead, 200),
    "seed_b1": (seed_b1, 3000),
    "mlp_b64": (lambda: mlp(64), 200),
    "mlp_b256": (lambda: mlp(256), 100),
    "lenet_b64": (lenet_b64, 50),
    "lstm_b32": (lstm_b32, 30),
    "spmm_powerlaw": (spmm_powerlaw, 40),
    "spmm_powerlaw_fb": (spmm_powerlaw_fb, 20),
    "spmm_uniform": (spmm_uniform, 40),
    "sddmm": (sddmm, 40),
    "gcn_sparse": (lambda: gcn(False), 100),
    "gcn_dense": (lambda: gcn(True), 10),
    "embedding_sparse_adam": (embedding_sparse_adam, 200),
    "qgemm1024": (qgemm1024, 40),
    "mlp_int8_b256": (mlp_int8_b256, 200),
    "mlp_f32_infer_b256": (mlp_f32_infer_b256, 200),
    "lenet_int8_b256": (lenet_int8_b256, 50),
    "lenet_f32_infer_b256": (lenet_f32_infer_b256, 50),
    "lstm_dynamic_int8_b32": (lstm_dynamic_int8_b32, 50),
    "lstm_f32_infer_b32": (lstm_f32_infer_b32, 50),
    "lenet_infer_b1": (lambda: _scripted(_lenet_model(), _randn(1, 1, 28, 28)), 2000),
    "lenet_eager_b1": (lambda: _inference(_lenet_model(), _randn(1, 1, 28, 28)), 2000),
    "lenet_infer_b256": (lambda: _scripted(_lenet_model(), _randn(256, 1, 28, 28)), 50),
    "lenet_eager_b256": (lambda: _inference(_lenet_model(), _randn(256, 1, 28, 28)), 50),
    "mlp_infer_b64": (lambda: _scripted(_mlp_model(), _randn(64, 784)), 500),
    "mlp_eager_b64": (lambda: _inference(_mlp_model(), _randn(64, 784)), 500),
    "resnet8_infer_b64": (lambda: _scripted(_resnet8(), _randn(64, 3, 32, 32)), 30),
    "resnet8_eager_b64": (lambda: _inference(_resnet8(), _randn(64, 3, 32, 32)), 30),
    "lstm_text_infer_b32": (lambda: _scripted(_text_lstm(), _text_tokens()), 50),
    "lstm_text_eager_b32": (lambda: _inference(_text_lstm(), _text_tokens()), 50),
    "elementwise_chain4m": (lambda: _scripted(Chain(), _randn(4096, 1024)), 50),
    "elementwise_chain4m_eager": (lambda: _inference(Chain().eval(), _randn(4096, 1024)), 50),
}


def summarize(times_ms):
    """Median and 10th percentile (nearest rank), as torchlet's runner."""
    t = sorted(times_ms)
    return statistics.median(t), t[round((len(t) - 1) * 0.1)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="workloads to run (see --list)")
    p.add_argument("--all", action="store_true", help="run every workload")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--steps", type=int, help="timed steps (default: each workload's own)")
    p.add_argument("--warmup", type=int, help="warm-up steps (default: steps/10, 1..20)")
    args = p.parse_args()
    if args.list:
        for name in list(WORKLOADS) + list(DDP_WORKLOADS):
            print(name)
        return
    names = list(WORKLOADS) + list(DDP_WORKLOADS) if args.all else args.names
    if not names:
        p.error("no workload given: name some (see --list) or pass --all")
    for name in names:
        if name not in WORKLOADS and name not in DDP_WORKLOADS:
            p.error(f"unknown workload {name!r}; --list shows them")
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    for name in names:
        if name in DDP_WORKLOADS:
            steps = max(1, args.steps or DDP_WORKLOADS[name])
            warmup = args.warmup if args.warmup is not None else min(max(steps // 10, 1), 20)
            print(json.dumps(_ddp(name, steps, warmup)), flush=True)
            continue
        build, default_steps = WORKLOADS[name]
        steps = max(1, args.steps or default_steps)
        warmup = args.warmup if args.warmup is not None else min(max(steps // 10, 1), 20)
        w = build()
        threads = torch.get_num_threads()  # a workload may set its own
        for _ in range(warmup):
            w.step()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            w.step()
            times.append((time.perf_counter() - start) * 1e3)
        median, p10 = summarize(times)
        out = {"workload": name, "threads": threads, "median_ms": median, "p10_ms": p10,
               "steps": steps}
        if w.flops:
            out["gflops"] = w.flops / (median * 1e-3) / 1e9
        if w.bytes:
            out["gb_per_s"] = w.bytes / (median * 1e-3) / 1e9
        if w.ops:
            out["us_per_op"] = median * 1e3 / w.ops
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
