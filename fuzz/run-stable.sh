#!/usr/bin/env bash
# Builds and runs the bundle_reader fuzz target with the stable toolchain:
# libFuzzer's SanitizerCoverage instrumentation through stable -C flags (no
# AddressSanitizer, which needs nightly). Usage: fuzz/run-stable.sh [SECONDS]
set -euo pipefail
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
target=x86_64-unknown-linux-gnu
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Copt-level=3" \
  cargo build --release --quiet --manifest-path "$here/Cargo.toml" --bin bundle_reader --target "$target"
corpus="$here/corpus/bundle_reader"
mkdir -p "$corpus"
cp "$here/../fixtures/bundles/v1.bundle" "$corpus/"
"$here/target/$target/release/bundle_reader" "$corpus" -max_total_time="$secs" -max_len=8192 -print_final_stats=1
