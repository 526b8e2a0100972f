#!/usr/bin/env python3
"""Runs a command once and prints its wall time as a workload result line,
for benches/compare.py's whole-process rows (`mainjob`):

    python3 benches/wall.py NAME -- COMMAND [ARG...]

prints `{"workload": NAME, "median_ms": ..., "steps": 1}`; the command's
own output is discarded, and a failing command fails with its exit status
and stderr."""
import json
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    name, cmd = sys.argv[1], sys.argv[3:]
    t0 = time.monotonic()
    out = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ms = (time.monotonic() - t0) * 1000.0
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return out.returncode
    print(json.dumps({"workload": name, "median_ms": ms, "steps": 1}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
