#!/usr/bin/env bash
# The ctest entry `fuzz` (label fuzz): builds the libFuzzer harnesses with clang into
# SOURCE/build-fuzz/ and runs each for JOURNEYD_FUZZ_SECONDS (default 30) on its seed
# corpus (tests/fuzz/corpus/NAME/) plus what earlier runs found (build-fuzz/corpus/NAME/).
# Exits non-zero on the first crash, sanitizer report, leak or 10 s timeout; libFuzzer then
# leaves the input in build-fuzz/crashes/ (reproduce: build-fuzz/fuzz_NAME FILE).
set -euo pipefail
source_dir=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
seconds=${JOURNEYD_FUZZ_SECONDS:-30}
build=$source_dir/build-fuzz
harnesses=(event_codec config admin_api ingest_framing json_body)

command -v clang++ >/dev/null || { echo "clang++ is missing: scripts/test installs clang"; exit 1; }
cmake -S "$source_dir" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DJOURNEYD_FUZZ=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${harnesses[@]/#/fuzz_}"

mkdir -p "$build/crashes"
for harness in "${harnesses[@]}"; do
    mkdir -p "$build/corpus/$harness"
    log=$build/fuzz_$harness.log
    echo "== fuzz_$harness for ${seconds}s (log: $log)"
    status=0
    "$build/fuzz_$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/crashes/$harness-" \
        "$build/corpus/$harness" "$source_dir/tests/fuzz/corpus/$harness" >"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$log" | tail -n 80
        echo "fuzz_$harness failed (exit $status); the input is in $build/crashes/"
        exit 1
    fi
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE)' "$log" || true
done
echo "all fuzzers ran ${seconds}s each without a crash"
