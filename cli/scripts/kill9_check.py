#!/usr/bin/env python3
"""No data lost under kill -9: starts `torchlet train` many times, sends
SIGKILL at a different moment each time (spread over the whole run and
packed near its end, where the files are written), and checks that every
file the run folder holds is complete: `config.json` parses,
`metrics.csv` has only whole rows, `model.safetensors` has a consistent
header and `torchlet eval` loads it, `curves.png` ends with its IEND
chunk, `model.onnx` loads in `onnx` (when the module is importable).
torchlet writes each file to a hidden temporary name and renames it, so a
killed run may leave a hidden `.NAME.tmp*` file but never a truncated NAME.

With --checkpoints EXAMPLE (torchlet-train's `checkpoint_files` example)
it does the same for the library's own checkpoint files: BestCheckpoint's
state dict and the optimizer state, each killed run's folder checked by
the example's `check` (strict model load, optimizer load).

Usage: kill9_check.py TORCHLET [--rounds N] [--seed S] [--checkpoints EXAMPLE]
"""
import argparse
import csv
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

TRAIN = ["train", "--model", "mlp", "--epochs", "2", "--quiet", "--threads", "1"]


def check_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    assert 8 + n + end == len(data), f"{path}: {len(data)} bytes, header says {8 + n + end}"


def check_run(torchlet, run):
    names = sorted(n for n in os.listdir(run) if not n.startswith("."))
    for name in names:
        path = os.path.join(run, name)
        if name == "config.json":
            with open(path) as f:
                json.load(f)
        elif name == "metrics.csv":
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            assert rows and all(len(r) == len(rows[0]) for r in rows), f"{path}: a partial row"
            with open(path, "rb") as f:
                assert f.read().endswith(b"\n"), f"{path}: no final newline"
        elif name == "model.safetensors":
            check_safetensors(path)
            if "config.json" in names:
                subprocess.run([torchlet, "eval", "--run", run], check=True, capture_output=True)
        elif name == "curves.png":
            with open(path, "rb") as f:
                png = f.read()
            assert png.startswith(b"\x89PNG") and png[-8:-4] == b"IEND", f"{path}: truncated"
        elif name == "model.onnx":
            try:
                import onnx
            except ImportError:
                continue
            onnx.checker.check_model(onnx.load(path))
        else:
            raise AssertionError(f"{path}: an unexpected file")
    return names


def kill_checkpoints(example, root, rounds, rng):
    """Kills the checkpoint_files example at random moments; every file
    left must load."""
    train = [example, "train"]
    start = time.monotonic()
    subprocess.run([*train, os.path.join(root, "ck_full"), "8"], check=True)
    full = time.monotonic() - start
    subprocess.run([example, "check", os.path.join(root, "ck_full")], check=True)
    print(f"checkpoints: a whole run takes {full:.2f} s")
    seen = {}
    for k in range(rounds):
        at = rng.uniform(0.0, full)
        run = os.path.join(root, f"ck{k}")
        child = subprocess.Popen([*train, run, "8"])
        time.sleep(at)
        child.send_signal(signal.SIGKILL)
        child.wait()
        if os.path.isdir(run):
            subprocess.run([example, "check", run], check=True)
            names = tuple(sorted(n for n in os.listdir(run) if not n.startswith(".")))
            hidden = len(os.listdir(run)) - len(names)
        else:
            names, hidden = (), 0
        seen[names] = seen.get(names, 0) + 1
        print(f"checkpoints: killed at {at:.3f} s: {list(names)} load, {hidden} hidden temporaries")
    print(f"checkpoints: {rounds} kills, every file left loads ({seen})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torchlet")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoints", help="torchlet-train's checkpoint_files example")
    ap.add_argument("--checkpoint-rounds", type=int, default=20)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = tempfile.mkdtemp(prefix="torchlet_kill9_")
    try:
        if args.checkpoints:
            kill_checkpoints(args.checkpoints, root, args.checkpoint_rounds, rng)
        start = time.monotonic()
        subprocess.run(
            [args.torchlet, *TRAIN, "--out", os.path.join(root, "full")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        full = time.monotonic() - start
        complete = check_run(args.torchlet, os.path.join(root, "full"))
        print(f"a whole run takes {full:.2f} s and writes {', '.join(complete)}")
        seen = {}
        for k in range(args.rounds):
            # Half the kills anywhere in the run, half in its last fifth.
            at = rng.uniform(0.0, full) if k % 2 == 0 else rng.uniform(0.75 * full, full)
            run = os.path.join(root, f"kill{k}")
            child = subprocess.Popen([args.torchlet, *TRAIN, "--out", run], stdout=subprocess.DEVNULL)
            time.sleep(at)
            child.send_signal(signal.SIGKILL)
            child.wait()
            names = check_run(args.torchlet, run) if os.path.isdir(run) else []
            hidden = [n for n in os.listdir(run) if n.startswith(".")] if os.path.isdir(run) else []
            seen[len(names)] = seen.get(len(names), 0) + 1
            print(f"killed at {at:.3f} s: complete {names}, {len(hidden)} hidden temporaries")
        print(f"{args.rounds} kills, every file left complete (complete files per run: {seen})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
