#!/usr/bin/env bash
# Runs libFuzzer targets for a bounded time each, `jobs` at a time (make fuzz).
#
#   fuzz/run.sh DIR SECONDS JOBS NAME...
#
# DIR holds the binaries (DIR/NAME, built by make fuzz-build). Each target starts from
# the seeds in fuzz/corpus/NAME (read only) and its working corpus DIR/corpus/NAME (kept
# between runs, where new inputs go). Prints one line per target, the log tail of a
# failed one, and last "N passed, N failed": each target is one test, passed when
# libFuzzer ends without a finding. The same line goes to $TEST_SUMMARY_FILE when set.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=$1 seconds=$2 jobs=$3
shift 3

run_one() {
    local name=$1
    mkdir -p "$dir/corpus/$name"
    # The outer timeout only guards against a hang libFuzzer itself does not end.
    timeout -k 10 $((seconds + 120)) "$dir/$name" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/$name-" "$dir/corpus/$name" "fuzz/corpus/$name" \
        >"$dir/$name.log" 2>&1
    echo $? >"$dir/$name.status"
}
export -f run_one
export dir seconds

for name in "$@"; do rm -f "$dir/$name.status"; done
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$1"' _ {}

passed=0 failed=0
for name in "$@"; do
    status=$(cat "$dir/$name.status" 2>/dev/null || echo missing)
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/$name.log" | grep -o '[0-9]*$')
    if [[ $status == 0 ]]; then
        passed=$((passed + 1))
        echo "fuzz $name: passed (${runs:-?} runs in ${seconds} s)"
    else
        failed=$((failed + 1))
        echo "fuzz $name: FAILED (exit status $status), log $dir/$name.log:"
        tail -n 40 "$dir/$name.log" | sed 's/^/    /'
    fi
done

summary="$passed passed, $failed failed"
if [[ -n ${TEST_SUMMARY_FILE:-} ]]; then echo "$summary" >"$TEST_SUMMARY_FILE"; fi
echo "$summary"
((failed == 0))
