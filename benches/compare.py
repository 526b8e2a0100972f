#!/usr/bin/env python3
"""Compare torchlet with PyTorch on the same workloads, same machine.

    cargo build --release -p torchlet-benches --bin workloads
    python3 benches/compare.py --python /path/to/python-with-torch \\
        [--rounds 5] [--threads 2] [--steps N] [WORKLOAD...]

Runs target/release/workloads (torchlet) and benches/pytorch/workloads.py
(PyTorch, in the given Python) on each workload, interleaved: one process
per side per workload per round, the order of the two sides alternating
between rounds. Prints the machine, versions and a markdown table of the
median over rounds of each side's median step time, and the speed ratio
(PyTorch time / torchlet time: above 1 means torchlet is faster).

Standard library only; PyTorch is needed only in the Python given with
--python (`PYTHON -m pip install torch numpy`).
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "target", "release", "workloads")
PY_WORKLOADS = os.path.join(ROOT, "benches", "pytorch", "workloads.py")

# The workloads the comparison covers by default, with the project's targets
# (minimum PyTorch time / torchlet time).
TARGETS = {
    "matmul1024": 1.1,
    "matmul64": 1.5,
    "add4m": 1.0,
    "sigmoid4m": 2.0,
    "softmax4096x1024": 1.5,
    "op_overhead": 7.0,
    "seed_b1": 20.0,
    "mlp_b64": 1.5,
    "mlp_b256": 1.2,
    "lenet_b64": 1.2,
    "lstm_b32": 1.2,
    # Sparse (issue 16); PyTorch runs its CSR kernels (see workloads.py).
    "spmm_powerlaw": 1.5,
    "spmm_powerlaw_fb": 2.0,
    "spmm_uniform": 1.5,
    "sddmm": 1.5,
    "embedding_sparse_adam": 2.0,
}

# Targets between two workloads of the same side: (slow, fast) -> minimum
# slow time / fast time, checked for torchlet (PyTorch shown alongside)
# when both workloads are run.
RELATIVE_TARGETS = {
    ("gcn_dense", "gcn_sparse"): 10.0,
}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def git_commit():
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_json(cmd):
    """Runs a workload process; returns its one JSON line as a dict."""
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"command failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1])


def fmt_ms(ms):
    return f"{ms:.4g}" if ms >= 0.001 else f"{ms:.3e}"


def spread(xs):
    """(max - min) / median over rounds, in percent."""
    return 100.0 * (max(xs) - min(xs)) / statistics.median(xs)


def main():
    p = argparse.ArgumentParser(description="Compare torchlet with PyTorch.")
    p.add_argument("names", nargs="*", help="workloads (default: those with a target)")
    p.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    p.add_argument("--steps", type=int, help="timed steps per run (default: each workload's)")
    p.add_argument("--baseline", help="a workloads binary built from an earlier commit: run as a "
                   "third side in the same rounds, to check a change against PyTorch and against "
                   "what it replaces")
    args = p.parse_args()

    check = subprocess.run([args.python, "-c", "import platform, torch; print(torch.__version__, platform.python_version())"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        print(f"PyTorch not found in {args.python}: install it with "
              f"`{args.python} -m pip install torch numpy`")
        sys.exit(2)
    torch_version, py_version = check.stdout.split()
    if not os.path.exists(RUNNER):
        print(f"{RUNNER} not found: build it first with\n"
              "    cargo build --release -p torchlet-benches --bin workloads")
        sys.exit(2)

    names = args.names or list(TARGETS)
    extra = ["--threads", str(args.threads)]
    if args.steps:
        extra += ["--steps", str(args.steps)]
    sides = {
        "torchlet": lambda n: [RUNNER, n] + extra,
        "pytorch": lambda n: [args.python, PY_WORKLOADS, n] + extra,
    }
    if args.baseline:
        sides["baseline"] = lambda n: [args.baseline, n] + extra
    times = {n: {side: [] for side in sides} for n in names}
    for r in range(args.rounds):
        # The sides take turns going first, so drift hits none of them alone.
        order = list(sides)[r % len(sides):] + list(sides)[:r % len(sides)]
        for n in names:
            for side in order:
                times[n][side].append(run_json(sides[side](n))["median_ms"])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), {args.threads} threads")
    print(f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- torchlet commit: {git_commit()}; PyTorch {torch_version}; "
          f"Python {py_version} ({args.python})")
    print(f"- {args.rounds} interleaved rounds; each number is the median over rounds of "
          "the median step time; spread = (max - min) / median over rounds")
    print()
    if args.baseline:
        print(f"- baseline: {args.baseline}")
    base_cols = " baseline ms | baseline ratio |" if args.baseline else ""
    print("| workload | torchlet ms | PyTorch ms | ratio (PyTorch / torchlet) | target | "
          "met | spread torchlet / PyTorch |" + base_cols)
    print("|---|---:|---:|---:|---:|:-:|---:|" + ("---:|---:|" if args.baseline else ""))
    for n in names:
        t = statistics.median(times[n]["torchlet"])
        pt = statistics.median(times[n]["pytorch"])
        ratio = pt / t
        target = TARGETS.get(n)
        met = "" if target is None else ("yes" if ratio >= target else "no")
        tgt = "" if target is None else f"≥ {target:g}"
        sp = f"{spread(times[n]['torchlet']):.0f}% / {spread(times[n]['pytorch']):.0f}%"
        row = f"| {n} | {fmt_ms(t)} | {fmt_ms(pt)} | {ratio:.2f} | {tgt} | {met} | {sp} |"
        if args.baseline:
            b = statistics.median(times[n]["baseline"])
            row += f" {fmt_ms(b)} | {pt / b:.2f} |"
        print(row)
    for (slow, fast), target in RELATIVE_TARGETS.items():
        if slow in times and fast in times:
            med = {side: statistics.median(times[slow][side]) / statistics.median(times[fast][side])
                   for side in ("torchlet", "pytorch")}
            met = "met" if med["torchlet"] >= target else "NOT met"
            print(f"\n- {fast} is {med['torchlet']:.1f}x faster than {slow} in torchlet "
                  f"(target ≥ {target:g}: {met}); {med['pytorch']:.1f}x in PyTorch")


if __name__ == "__main__":
    main()
