#!/usr/bin/env bash
# Runs the spec files in JOBS shards at once, each shard one process of COMMAND with
# its share of the files appended (make valgrind: a memcheck run is single-threaded, so
# two shards on two cores take about half the time).
#
#   scripts/shards.sh JOBS COMMAND...
#
# The files (spec/**/*_spec.lua) are dealt out largest first, each to the shard with
# the fewest bytes so far: a spec's size is a rough measure of its time. Each shard's output is printed whole once all are done, in
# shard order, so that nothing interleaves. Last comes one summary line summed over the
# shards, "N passed, N failed, N skipped", also written to $TEST_SUMMARY_FILE when set.
# A shard that ends with a non-zero status and no failed test (a memcheck report, a
# crash before its summary) counts as one failed test. Exits non-zero when anything
# failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

jobs=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t files < <(find spec -name '*_spec.lua' | sort)

# Deal the files out: largest first, each to the lightest shard.
declare -a weight shard_files
for ((i = 0; i < jobs; i++)); do weight[i]=0 shard_files[i]=""; done
while read -r size file; do
    lightest=0
    for ((i = 1; i < jobs; i++)); do
        ((weight[i] < weight[lightest])) && lightest=$i
    done
    weight[lightest]=$((weight[lightest] + size))
    shard_files[lightest]+=" $file"
done < <(for f in "${files[@]}"; do echo "$(stat -c %s "$f") $f"; done | sort -rn)

pids=()
for ((i = 0; i < jobs; i++)); do
    # shellcheck disable=SC2086 # the file list is meant to split into words
    (TEST_SUMMARY_FILE=$work/summary$i "$@" ${shard_files[i]} >"$work/log$i" 2>&1
        echo $? >"$work/status$i") &
    pids+=($!)
done
wait "${pids[@]}"

passed=0 failed=0 skipped=0
for ((i = 0; i < jobs; i++)); do
    echo "=== shard $((i + 1)) of $jobs:${shard_files[i]}"
    cat "$work/log$i"
    line=$(tail -n 1 "$work/summary$i" 2>/dev/null)
    p=0 f=0 s=0
    if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
    fi
    status=$(cat "$work/status$i" 2>/dev/null || echo 1)
    if ((status != 0 && f == 0)); then
        echo "shards: shard $((i + 1)) ended with status $status and no failed test: counted as 1 failed"
        f=1
    fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

summary="$passed passed, $failed failed, $skipped skipped"
if [[ -n ${TEST_SUMMARY_FILE:-} ]]; then echo "$summary" >"$TEST_SUMMARY_FILE"; fi
echo "$summary"
((failed == 0))
