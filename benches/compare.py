#!/usr/bin/env python3
"""Compare torchlet with PyTorch on the same workloads, same machine.

    cargo build --release -p torchlet-benches --bin workloads   # and -p torchlet-cli for mainjob
    python3 benches/compare.py --python /path/to/python-with-torch \\
        [--rounds 5] [--threads 2] [--steps N] [--max-other-load CORES] [WORKLOAD...]

Runs target/release/workloads (torchlet) and benches/pytorch/workloads.py
(PyTorch, in the given Python) on each workload, interleaved: one process
per side per workload per round, the order of the two sides alternating
between rounds. Prints the machine, versions and a markdown table of the
median over rounds of each side's median step time, and the speed ratio
(PyTorch time / torchlet time: above 1 means torchlet is faster).

On a machine shared with other work, --max-other-load waits for the other
processes to go quiet before each run and runs again when they used more
than that many cores during it (from /proc/stat minus the run's own CPU
time). PyTorch's OpenMP team suffers most from a busy machine: a thread
descheduled for a moment stalls every parallel region: on a 2-CPU machine
busy with builds, spmm_uniform went from 10 to 71 ms in PyTorch and from
3.4 to 7.2 ms in torchlet.

Standard library only; PyTorch is needed only in the Python given with
--python (`PYTHON -m pip install torch numpy`).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

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
    # Quantized (issue 17); PyTorch runs torch.ao static quantization and
    # quantize_dynamic on its x86 engine (fbgemm).
    "mlp_int8_b256": 1.5,
    "lenet_int8_b256": 1.5,
    # JIT (issue 18); PyTorch runs torch.jit.trace + freeze +
    # optimize_for_inference on the same models.
    "lenet_infer_b1": 1.5,
    "lenet_infer_b256": 1.5,
    "mlp_infer_b64": 1.5,
    "resnet8_infer_b64": 1.5,
    "lstm_text_infer_b32": 1.5,
    "elementwise_chain4m": 1.5,
    # Distributed (issue 19); PyTorch runs DDP over gloo, 2 processes under
    # torchrun, 1 thread each; torchlet 2 Local ranks x 1 thread.
    "ddp_mlp_b64": 1.5,
    "ddp_lenet_b64": 1.5,
    # The main job (issue 15): the whole `torchlet train` process with its
    # defaults against benches/pytorch/mainjob.py, wall time of each
    # process (torchlet at most 0.8x PyTorch's).
    "mainjob": 1.25,
}

# Rows timed as whole processes (benches/wall.py), not by the runners.
CLI = os.path.join(ROOT, "target", "release", "torchlet")
PY_MAINJOB = os.path.join(ROOT, "benches", "pytorch", "mainjob.py")
WALL = os.path.join(ROOT, "benches", "wall.py")

# Run by default too (for RELATIVE_TARGETS and as side-by-side rows).
COMPANIONS = [
    "qgemm1024", "mlp_f32_infer_b256", "lenet_f32_infer_b256",
    "lstm_dynamic_int8_b32", "lstm_f32_infer_b32",
    "lenet_eager_b1", "lenet_eager_b256", "mlp_eager_b64", "resnet8_eager_b64",
    "lstm_text_eager_b32", "elementwise_chain4m_eager",
    "ddp_mlp_b64_1rank", "ddp_lenet_b64_1rank",
]

# Targets between two workloads of the same side: (slow, fast) -> minimum
# slow time / fast time, checked for torchlet (PyTorch shown alongside)
# when both workloads are run.
RELATIVE_TARGETS = {
    ("gcn_dense", "gcn_sparse"): 10.0,
    # 2.0 on CPUs with VNNI (vpdpbusd), set below.
    ("matmul1024", "qgemm1024"): 1.3,
    ("mlp_f32_infer_b256", "mlp_int8_b256"): 2.0,
    ("lenet_f32_infer_b256", "lenet_int8_b256"): 2.0,
    ("lenet_eager_b1", "lenet_infer_b1"): 2.0,
    ("lenet_eager_b256", "lenet_infer_b256"): 1.3,
    ("mlp_eager_b64", "mlp_infer_b64"): 1.3,
    ("resnet8_eager_b64", "resnet8_infer_b64"): 1.3,
    ("elementwise_chain4m_eager", "elementwise_chain4m"): 3.0,
}

# Data-parallel scaling: (1 rank, 2 ranks) -> minimum ratio of samples per
# second (us_per_op: microseconds per sample over all ranks), 2 ranks x 1
# thread against 1 rank x 1 thread, a batch of 64 on every rank.
SCALING_TARGETS = {
    ("ddp_mlp_b64_1rank", "ddp_mlp_b64"): 1.7,
    ("ddp_lenet_b64_1rank", "ddp_lenet_b64"): 1.7,
}


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# The int8 GEMM's target is twice the f32 one where the CPU multiplies
# bytes with vpdpbusd (AVX-VNNI or AVX512-VNNI).
if cpu_flags() & {"avx_vnni", "avx512_vnni"}:
    RELATIVE_TARGETS[("matmul1024", "qgemm1024")] = 2.0


def isa_summary():
    """The vector extensions that pick kernels (x86: AVX-512, VNNI, AMX,
    AVX2), from /proc/cpuinfo."""
    flags = cpu_flags()
    parts = []
    avx512 = [f[len("avx512"):].lstrip("_").upper() for f in
              ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16") if f in flags]
    if avx512:
        parts.append("AVX-512 " + "/".join(avx512))
    if "avx_vnni" in flags:
        parts.append("AVX-VNNI")
    if "amx_int8" in flags:
        parts.append("AMX-INT8")
    if "avx2" in flags:
        parts.append("AVX2" + ("+FMA" if "fma" in flags else ""))
    return ", ".join(parts) or "no AVX2 (baseline kernels)"


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


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (steal included: time
    the host gave to someone else), from /proc/stat; None elsewhere."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def child_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_idle(max_other, timeout_s):
    """Waits (up to timeout_s) until other processes use at most max_other
    cores, measured over one second."""
    deadline = time.monotonic() + timeout_s
    while True:
        b0 = busy_cpu_seconds()
        time.sleep(1.0)
        b1 = busy_cpu_seconds()
        if b0 is None or b1 - b0 <= max_other or time.monotonic() > deadline:
            return
        time.sleep(4.0)


class Runner:
    """Runs workload processes; with max_other set, waits for an idle
    machine first and runs again (up to `tries` times) when other
    processes used more than max_other cores during the run (its CPU
    time subtracted from the machine's)."""

    def __init__(self, max_other=None, tries=5, idle_timeout_s=900):
        self.max_other, self.tries, self.idle_timeout_s = max_other, tries, idle_timeout_s
        self.retries = 0
        self.others = []  # other processes' mean cores during each kept run

    def run_json(self, cmd):
        """Runs a workload process; returns its one JSON line as a dict."""
        for attempt in range(self.tries if self.max_other is not None else 1):
            if self.max_other is not None:
                wait_idle(self.max_other, self.idle_timeout_s)
            b0, c0, t0 = busy_cpu_seconds(), child_cpu_seconds(), time.monotonic()
            out = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.monotonic() - t0
            if out.returncode != 0:
                sys.exit(f"command failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
            other = None
            if b0 is not None:
                other = max(0.0, (busy_cpu_seconds() - b0) - (child_cpu_seconds() - c0)) / wall
            if self.max_other is None or other is None or other <= self.max_other:
                break
            if attempt + 1 < self.tries:
                self.retries += 1
                print(f"  again: other processes used {other:.2f} cores during {' '.join(cmd[:2])}",
                      file=sys.stderr)
        if other is not None:
            self.others.append(other)
        lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
        return json.loads(lines[-1])


def fmt_ms(ms):
    return f"{ms:.4g}" if ms >= 0.001 else f"{ms:.3e}"


def spread(xs):
    """(max - min) / median over rounds, in percent."""
    return 100.0 * (max(xs) - min(xs)) / statistics.median(xs)


def main():
    p = argparse.ArgumentParser(description="Compare torchlet with PyTorch.")
    p.add_argument("names", nargs="*",
                   help="workloads (default: those with a target and COMPANIONS)")
    p.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    p.add_argument("--steps", type=int, help="timed steps per run (default: each workload's)")
    p.add_argument("--baseline", help="a workloads binary built from an earlier commit: run as a "
                   "third side in the same rounds, to check a change against PyTorch and against "
                   "what it replaces")
    p.add_argument("--max-other-load", type=float, metavar="CORES",
                   help="on a shared machine: wait until other processes use at most CORES "
                   "cores before each run, and run again (up to 5 times) when they used more "
                   "during it")
    args = p.parse_args()
    runner = Runner(args.max_other_load)

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

    names = args.names or list(TARGETS) + COMPANIONS
    extra = ["--threads", str(args.threads)]
    if args.steps:
        extra += ["--steps", str(args.steps)]
    threads = ["--threads", str(args.threads)]
    scratch = tempfile.mkdtemp(prefix="compare-")

    def mainjob(side):
        if side == "torchlet":
            job = [CLI, "train", "--quiet", "--out", os.path.join(scratch, "run")] + threads
        else:
            job = [args.python, PY_MAINJOB, "--out", os.path.join(scratch, "pt")] + threads
        return [sys.executable, WALL, "mainjob", "--"] + job

    sides = {
        "torchlet": lambda n: mainjob("torchlet") if n == "mainjob" else [RUNNER, n] + extra,
        "pytorch": lambda n: mainjob("pytorch") if n == "mainjob" else [args.python, PY_WORKLOADS, n] + extra,
    }
    if "mainjob" in names and not os.path.exists(CLI):
        print(f"{CLI} not found: build it first with\n"
              "    cargo build --release -p torchlet-cli")
        sys.exit(2)
    if args.baseline:
        sides["baseline"] = lambda n: (mainjob("torchlet") if n == "mainjob"
                                       else [args.baseline, n] + extra)
    families = set()
    times = {n: {side: [] for side in sides} for n in names}
    per_sample = {n: {side: [] for side in sides} for n in names}
    for r in range(args.rounds):
        # The sides take turns going first, so drift hits none of them alone.
        order = list(sides)[r % len(sides):] + list(sides)[:r % len(sides)]
        for n in names:
            for side in order:
                out = runner.run_json(sides[side](n))
                if side == "torchlet" and "simd" in out:
                    families.add(f"{out['simd']} (int8: {out.get('int8', '?')})")
                times[n][side].append(out["median_ms"])
                if out.get("us_per_op") is not None:
                    per_sample[n][side].append(out["us_per_op"])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), {args.threads} threads; "
          f"ISA: {isa_summary()}")
    if families:
        print(f"- torchlet kernels: {', '.join(sorted(families))} (TORCHLET_SIMD, "
              "TORCHLET_INT8_KERNELS)")
    print(f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- torchlet commit: {git_commit()}; PyTorch {torch_version}; "
          f"Python {py_version} ({args.python})")
    print(f"- {args.rounds} interleaved rounds; each number is the median over rounds of "
          "the median step time; spread = (max - min) / median over rounds")
    if runner.others:
        gate = ("" if args.max_other_load is None else
                f"runs kept when at most {args.max_other_load:g} ({runner.retries} run again); ")
        print(f"- other processes' load during the runs (mean cores): {gate}"
              f"median {statistics.median(runner.others):.2f}, max {max(runner.others):.2f}")
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
    for (one, many), target in SCALING_TARGETS.items():
        if all(per_sample.get(n, {}).get(side) for n in (one, many) for side in ("torchlet", "pytorch")):
            med = {side: statistics.median(per_sample[one][side])
                   / statistics.median(per_sample[many][side])
                   for side in ("torchlet", "pytorch")}
            met = "met" if med["torchlet"] >= target else "NOT met"
            print(f"\n- {many} scales {med['torchlet']:.2f}x in samples/s over {one} in torchlet "
                  f"(target ≥ {target:g}: {met}); {med['pytorch']:.2f}x in PyTorch")


if __name__ == "__main__":
    main()
