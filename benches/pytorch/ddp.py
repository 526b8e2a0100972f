"""The DDP workloads' PyTorch twins, one process per rank: run by
workloads.py as `python -m torch.distributed.run --standalone
--nproc_per_node 2 ddp.py NAME` (torchrun), gloo backend, one thread per
rank, a batch of 64 on each rank (128 samples a step); rank 0 prints the
JSON line (us_per_op: microseconds per sample over all ranks). The same
models, optimizers and batches as benches/src/workloads/ddp.rs."""

import argparse
import json
import statistics
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

BATCH = 64


def model_and_optimizer(net):
    torch.manual_seed(0)
    if net == "mlp":
        model = nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        return model, lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9), (784,)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return model, lambda ps: torch.optim.Adam(ps, lr=1e-3), (1, 28, 28)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name", choices=["ddp_mlp_b64", "ddp_lenet_b64"])
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model, make_opt, shape = model_and_optimizer(args.name.split("_")[1])
    ddp = DistributedDataParallel(model)
    opt = make_opt(ddp.parameters())
    g = torch.Generator().manual_seed(rank)
    xs = torch.randn(BATCH, *shape, generator=g)
    ys = torch.randint(0, 10, (BATCH,), generator=g)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(ddp(xs), ys)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    dist.barrier()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    if rank == 0:
        times.sort()
        out = {"workload": args.name, "threads": 1, "median_ms": statistics.median(times),
               "p10_ms": times[len(times) // 10], "steps": args.steps,
               "us_per_op": statistics.median(times) * 1e3 / (BATCH * world), "ranks": world}
        print(json.dumps(out), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
