"""Writes tests/data/sampler_cases.json: torch.randperm with a seeded
torch.Generator, and torch.utils.data.DistributedSampler's indices, for
torchlet-distributed's DistributedSampler to match (run with PyTorch
installed: python3 scripts/make_sampler_cases.py)."""
import json
import os

import torch
from torch.utils.data import DistributedSampler

randperm = []
for n in [1, 2, 5, 17, 100, 1000]:
    for seed in [0, 1, 42, 2**40 + 7]:
        g = torch.Generator()
        g.manual_seed(seed)
        randperm.append({"n": n, "seed": seed, "perm": torch.randperm(n, generator=g).tolist()})

samplers = []
for length in [1, 10, 11, 64, 1000]:
    for replicas in [2, 3]:
        for shuffle in [False, True]:
            for drop_last in [False, True]:
                for seed in [0, 42]:
                    for epoch in [0, 3]:
                        for rank in range(replicas):
                            s = DistributedSampler(
                                range(length), num_replicas=replicas, rank=rank,
                                shuffle=shuffle, seed=seed, drop_last=drop_last,
                            )
                            s.set_epoch(epoch)
                            samplers.append({
                                "len": length, "num_replicas": replicas, "rank": rank,
                                "shuffle": shuffle, "drop_last": drop_last, "seed": seed,
                                "epoch": epoch, "indices": list(iter(s)), "num_samples": len(s),
                            })

out = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "sampler_cases.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "randperm": randperm, "samplers": samplers}, f, separators=(",", ":"))
print(f"{len(randperm)} randperm cases, {len(samplers)} sampler cases -> {out}")
