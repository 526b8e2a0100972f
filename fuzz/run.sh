#!/usr/bin/env bash
# Runs fuzz targets for a while each: fuzz/run.sh [SECONDS] [TARGET...]
# (default 20 seconds, every target). Needs the nightly toolchain and
# cargo-fuzz (fuzz/README.md). Each target starts from its committed
# corpus (fuzz/corpus/<target>, where new inputs are added) and its seeds
# (fuzz/seeds/<target>); a crash stops the script with the input saved
# under fuzz/artifacts/<target>/. Stats lines go to fuzz/logs/.
# FUZZ_FLAGS holds extra `cargo fuzz run` build flags (the same as the
# `cargo fuzz build` before it, or the targets are built again).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${seconds}s"
    # Allocation cap (rss and any single malloc), per-input timeout.
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags.
    cargo +nightly fuzz run ${FUZZ_FLAGS:-} "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 2> "logs/$t.log" || {
        tail -n 40 "logs/$t.log"
        echo "fuzz: $t failed (log: fuzz/logs/$t.log)"
        exit 1
    }
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec" "logs/$t.log" | tr -s ' ' | sed "s/^/fuzz: $t /"
done
