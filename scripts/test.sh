#!/usr/bin/env bash
# Everything `make test` checks: formatting, a build with warnings as errors, every test (the integration
# tests start their own slapd), and the container image tested with podman.
set -euo pipefail
cd "$(dirname "$0")/.."
export SITELOC_STRICT=1

echo "== format (swift format lint --strict)"
swift format lint --strict --recursive Package.swift Sources Tests Benchmarks Fuzz/Package.swift Fuzz/Sources

echo "== build (warnings are errors)"
swift build --build-tests

echo "== schema files match the definitions"
for pair in ldif:siteloc.ldif schema:siteloc.schema indexes:siteloc-indexes.ldif; do
    format=${pair%%:*} file=Schema/${pair#*:}
    .build/debug/siteloc schema print --format "$format" | diff -u "$file" - \
        || { echo "$file is stale: run make schema" >&2; exit 1; }
done

echo "== tests"
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
echo "== time-bounded connection tests, alone"
timeout --kill-after=30 600 swift test --filter "$timed"
echo "== deliveries and kills watched as they happen, alone"
timeout --kill-after=30 600 swift test --filter "$watched"

echo "== container image (podman)"
scripts/container-test.sh
