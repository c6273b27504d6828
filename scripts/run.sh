#!/usr/bin/env bash
# Builds tally (optimised) and starts `tally serve` on its embedded defaults
# (127.0.0.1:9470, data in ./data). Extra arguments go to `tally serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$(pwd)/.ccache}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target tally
exec ./build/app/tally serve "$@"
