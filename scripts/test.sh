#!/usr/bin/env bash
# The whole test suite: installs dependencies (idempotent), builds tally twice
# (optimised, and with ASan+UBSan), runs every test (unit, integration through
# the real binary, e2e with the real Prometheus) in both builds, then runs each
# fuzz target for a bounded time.
#   scripts/test.sh            everything
#   TALLY_SKIP_ASAN=1          skip the sanitizer build (local iteration only)
#   TALLY_FUZZ_SECONDS=N       seconds per fuzz target (default 10; 0 skips)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/install-deps.sh

jobs=$(nproc)
export CCACHE_DIR="${CCACHE_DIR:-$root/.ccache}"

# Line tables only (-g1): sanitizer reports, backtraces and gdb still show
# file:line, without variable info; a third less compile CPU than -g in the
# release build, a sixth under ASan
# (measured: docs/ci.md). Developer builds keep CMake's -g.
g1_release="-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"

# build_and_test DIR "CTEST ARGS" CMAKE ARGS...
build_and_test() {
  local dir=$1 ctest_args=$2; shift 2
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  # shellcheck disable=SC2086
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600 $ctest_args)
}

build_and_test build "" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$g1_release"

if [[ "${TALLY_SKIP_ASAN:-0}" != "1" ]]; then
  # ASan+UBSan over the same tests. Detect leaks too; abort on the first report.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # The comparisons with a real Prometheus (label e2e) check answers, not
  # memory, and already ran above; the analytics oracle runs on fewer events.
  TALLY_ORACLE_EVENTS=20000 \
    build_and_test build-asan "-LE e2e" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DTALLY_SANITIZE=ON
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

fuzz_seconds="${TALLY_FUZZ_SECONDS:-10}"
if [[ "$fuzz_seconds" != "0" && -d tests/fuzz ]]; then
  echo "== fuzz (${fuzz_seconds}s per target)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "$g1_release" -DTALLY_FUZZ=ON -DTALLY_BUILD_TESTS=OFF >/dev/null
  # Only the fuzz targets and the modules they link (not the tally binary).
  mapfile -t fuzzers < <(cmake --build build-fuzz --target help | sed -n 's/^\([A-Za-z0-9_]*_fuzz\): .*/\1/p')
  cmake --build build-fuzz -j "$jobs" --target "${fuzzers[@]}"
  for target in build-fuzz/tests/fuzz/*_fuzz; do
    name=$(basename "$target")
    corpus="tests/fuzz/corpus/${name%_fuzz}"
    work=$(mktemp -d)
    [[ -d "$corpus" ]] && cp -r "$corpus"/. "$work"/
    echo "-- $name"
    "$target" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>&1 | tail -4
    rm -rf "$work"
  done
fi
echo "== all tests passed"
