#!/usr/bin/env bash
# Installs tally's build, test and benchmark dependencies from Debian bookworm
# packages. Idempotent: packages already present are skipped by apt-get.
# Usage: scripts/install-deps.sh [--bench]   (run as root, or with sudo available)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config curl ca-certificates
  prometheus-cpp-dev libcivetweb-dev libyaml-cpp-dev libboost-dev
  nlohmann-json3-dev libsimdjson-dev libsqlite3-dev libcurl4-openssl-dev
  libssl-dev libre2-dev libhowardhinnant-date-dev libcli11-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev
)
# Test peers: the real Prometheus 2.42 and promtool for the e2e tests.
test_pkgs=(prometheus python3)
# Benchmark peers: only with --bench.
bench_pkgs=(prometheus-pushgateway wrk)

want=("${build_pkgs[@]}" "${test_pkgs[@]}")
if [[ "${1:-}" == "--bench" ]]; then want+=("${bench_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
