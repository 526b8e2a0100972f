#!/usr/bin/env bash
# Runs fuzz targets for a while each: fuzz/run.sh [SECONDS] [TARGET...]
# (default 20 seconds, every target). Needs the nightly toolchain and
# cargo-fuzz (fuzz/README.md). Each target starts from its committed
# corpus (fuzz/corpus/<target>, where new inputs are added) and its seeds
# (fuzz/seeds/<target>); a crash fails the script with the input saved
# under fuzz/artifacts/<target>/. Stats lines go to fuzz/logs/.
# FUZZ_FLAGS holds extra `cargo fuzz run` build flags (the same as the
# `cargo fuzz build` before it, or the targets are built again).
# FUZZ_JOBS targets run at once (default 1; each takes one core).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p logs

# Fuzzes one target; prints its stats, or its log's tail when it fails.
fuzz_one() {
    local t="$1"
    mkdir -p "corpus/$t"
    echo "fuzz: $t for ${seconds}s"
    # Allocation cap (rss and any single malloc), per-input timeout.
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags.
    if ! cargo +nightly fuzz run ${FUZZ_FLAGS:-} "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 2> "logs/$t.log"; then
        tail -n 40 "logs/$t.log"
        echo "fuzz: $t failed (log: fuzz/logs/$t.log)"
        return 1
    fi
    grep -E "stat::number_of_executed_units|stat::average_exec_per_sec" "logs/$t.log" | tr -s ' ' | sed "s/^/fuzz: $t /"
}

failed=0
running=0
for t in "${targets[@]}"; do
    if [ "$running" -ge "${FUZZ_JOBS:-1}" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
    if [ "$failed" -ne 0 ]; then
        break
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
exit "$failed"
