#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target of fuzz/ for SECONDS each (default 30); fails on
# the first crash, leak, timeout or OOM (libFuzzer exits non-zero; the input is kept in
# fuzz/artifacts/<target>/). Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz
# passes nightly-only flags (-Zsanitizer=address): the script uses the nightly toolchain
# when rustup has one, and otherwise the stable one with RUSTC_BOOTSTRAP=1 (which allows
# those flags; set FUZZ_TOOLCHAIN=+name to choose). New inputs go to a scratch directory,
# so the committed seed corpus in fuzz/corpus/ is only read.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail

seconds="${1:-30}"
case "$seconds" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../fuzz"
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    toolchain="$FUZZ_TOOLCHAIN"
elif rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain="+nightly"
else
    toolchain="+stable"
    export RUSTC_BOOTSTRAP=1
    echo "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1" >&2
fi
cargo "$toolchain" --version

cargo "$toolchain" fuzz build
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in $(cargo "$toolchain" fuzz list); do
    echo "=== $target: ${seconds}s"
    mkdir -p "corpus/$target" "$scratch/$target"
    if ! cargo "$toolchain" fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 2>"$scratch/$target.log"; then
        tail -n 60 "$scratch/$target.log" >&2
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^(#[0-9]+\s+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
        "$scratch/$target.log" || tail -n 3 "$scratch/$target.log"
done
echo "all fuzz targets ran ${seconds}s each without a crash"
