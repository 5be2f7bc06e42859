#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ with the address sanitizer and runs each for FUZZ_SECONDS (default 300).
# `scripts/fuzz.sh TARGET …` runs only those (FuzzHierarchy, FuzzJobFile, FuzzEscaping). The corpus grows in
# .build-fuzz/corpus/<target> (seeded from Fuzz/seeds and examples/); a crash leaves its input in
# .build-fuzz/artifacts/ and this script fails: turn the input into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-300}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzHierarchy FuzzJobFile FuzzEscaping)
scratch=$PWD/.build-fuzz
swift build --package-path Fuzz --scratch-path "$scratch" -c debug \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
mkdir -p "$scratch/artifacts"
for target in "${targets[@]}"; do
    case "$target" in
        FuzzHierarchy) seeds=(Fuzz/seeds/hierarchy examples) max=65536 ;;
        FuzzJobFile) seeds=(Fuzz/seeds/jobfile) max=8192 ;;
        FuzzEscaping) seeds=(Fuzz/seeds/escaping) max=4096 ;;
        *) echo "error: unknown fuzz target $target; expected FuzzHierarchy, FuzzJobFile or FuzzEscaping" >&2; exit 2 ;;
    esac
    corpus="$scratch/corpus/$target"
    mkdir -p "$corpus"
    for seed in "${seeds[@]}"; do find "$seed" -maxdepth 1 -type f -exec cp -n {} "$corpus/" \; ; done
    echo "== $target for ${seconds}s"
    "$scratch/debug/$target" "$corpus" -max_total_time="$seconds" -max_len="$max" -timeout=10 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$scratch/artifacts/$target-" 2>&1 | tail -n 25
done
