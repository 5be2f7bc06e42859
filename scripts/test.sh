#!/usr/bin/env bash
# Everything `make test` checks: formatting, a build with warnings as errors, every test (the integration
# tests start their own slapd), and the container image tested with podman.
set -euo pipefail
cd "$(dirname "$0")/.."
export SITELOC_STRICT=1

# Each phase prints how long it took, and the run ends with all of them: the budget is 10 minutes from a fresh clone.
started=$SECONDS phase_name="" phase_started=$SECONDS timings=()
phase() {
    [ -z "$phase_name" ] || timings+=("$(printf '%5ds  %s' $((SECONDS - phase_started)) "$phase_name")")
    phase_name=$1 phase_started=$SECONDS
    [ -z "$phase_name" ] || echo "== $phase_name"
}
report() {
    local status=$?
    phase ""
    echo "== phase durations"
    printf '%s\n' "${timings[@]}"
    printf '%5ds  in all (exit %d)\n' $((SECONDS - started)) "$status"
}
trap report EXIT

phase "format (swift format lint --strict)"
swift format lint --strict --recursive Package.swift Sources Tests Benchmarks Fuzz/Package.swift Fuzz/Sources

phase "architecture rules"
scripts/check-rules.sh

phase "build (warnings are errors)"
swift build --build-tests

phase "schema files match the definitions"
for pair in ldif:siteloc.ldif schema:siteloc.schema indexes:siteloc-indexes.ldif; do
    format=${pair%%:*} file=Schema/${pair#*:}
    .build/debug/siteloc schema print --format "$format" | diff -u "$file" - \
        || { echo "$file is stale: run make schema" >&2; exit 1; }
done

phase "tests, in parallel"
# Each suite has a time limit; this bounds the whole run too, so a hang fails in minutes, not at CI's limit.
# The suites that assert how long a connection may take run afterwards on their own: on two cores the others'
# parallel load would stretch any wall-clock bound.
# So do the suites that watch deliveries and kills as they happen (a starved watcher misses them).
timed="HostilePeers|ConnectTimeouts|operationTimeoutBoundsAServerThatStopsAnswering|deadDirectoriesGiveRegionalRoamingWithinOneTimeout|ServiceLimitsTests"
watched="SiteServerRefusal|SiteServerSenders|SiteServerKills|ClientCommandKills|ServiceFuzzing|Replication|aLargeJobTravelsThroughSmbclient"
# Swift Testing starts every test at once unless told otherwise; on two cores a hundred slapds, site servers and
# HTTP services started together starve each other past their own time limits. A few per core is as fast and holds.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-$(($(nproc) * 3))}
timeout --kill-after=30 1200 swift test --skip "$timed|$watched"
phase "time-bounded connection tests, alone"
timeout --kill-after=30 600 swift test --filter "$timed"
phase "deliveries and kills watched as they happen, alone"
timeout --kill-after=30 600 swift test --filter "$watched"

phase "container image (podman)"
scripts/container-test.sh
