#!/usr/bin/env bash
# bench/run.sh: tally's benchmark (issue 2). Builds tally, bench_micro and
# bare_civetweb in build-bench/ (RelWithDebInfo, -DTALLY_BUILD_BENCH=ON), then:
#   1. HTTP ingest with wrk (keep-alive) for 1, 100 and 1,000 points per request
#      against tally, a Prometheus Pushgateway (same metrics, text format) and a
#      bare civetweb server (the HTTP ceiling, same request bodies as tally);
#      each: one warm-up, then BENCH_RUNS runs; medians of req/s, points/s,
#      p50/p99 and the server's CPU seconds (utime+stime from /proc/PID/stat).
#   2. GET /metrics on a live tally holding 10k and 100k series.
#   3. bench_micro (Google Benchmark).
# Writes a markdown report to stdout and bench/out/latest.md (raw data and wrk
# logs stay in bench/out/).
#
# Environment: BENCH_SECONDS (per run, default 10), BENCH_WARMUP_SECONDS (3),
# BENCH_RUNS (3), BENCH_WRK_THREADS (2), BENCH_WRK_CONNECTIONS (32),
# BENCH_CIVETWEB_PORT (18080), BENCH_PUSHGATEWAY_PORT (19091),
# BENCH_SKIP_BUILD=1 (reuse build-bench/), BENCH_MICRO_FILTER (regex, default all),
# BENCH_POINTS (ingest scenarios to run, default "1 100 1000"),
# BENCH_SKIP_METRICS=1 (skip part 2).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP_SECONDS:-3}
RUNS=${BENCH_RUNS:-3}
THREADS=${BENCH_WRK_THREADS:-2}
CONNS=${BENCH_WRK_CONNECTIONS:-32}
CIVET_PORT=${BENCH_CIVETWEB_PORT:-18080}
PGW_PORT=${BENCH_PUSHGATEWAY_PORT:-19091}
BUILD=build-bench
OUT=bench/out
PGW_BIN=${PUSHGATEWAY_BIN:-prometheus-pushgateway}

need() {
  command -v "$1" >/dev/null || {
    echo "bench/run.sh: '$1' not found; install the bench peers with scripts/install-deps.sh --bench" >&2
    exit 1
  }
}
need wrk
need curl
need python3
need "$PGW_BIN"
need cmake

log() { echo "bench: $*" >&2; }

# ---- build ----------------------------------------------------------------
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  export CCACHE_DIR="${CCACHE_DIR:-$ROOT/.ccache}"
  log "building in $BUILD/ (RelWithDebInfo)"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTALLY_BUILD_BENCH=ON \
    -DTALLY_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target tally bench_micro bare_civetweb >&2
fi
TALLY="$BUILD/app/tally"
MICRO="$BUILD/bench/bench_micro"
CIVET="$BUILD/bench/bare_civetweb"

mkdir -p "$OUT/wrk"
rm -f "$OUT"/wrk/*.txt
WORK=$(mktemp -d /tmp/tally-bench.XXXXXX)

# ---- processes: every one started here is stopped by its PID ----------------
PIDS=()
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=()
  for p in "${PIDS[@]}"; do [[ "$p" != "$pid" ]] && keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}
cleanup() {
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$pid"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_until() {  # wait_until DESCRIPTION PID COMMAND...: up to 20 s
  local what=$1 pid=$2
  shift 2
  for _ in $(seq 200); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "$what exited early"; return 1; }
    sleep 0.1
  done
  log "$what did not come up"
  return 1
}

TALLY_PID=""
TALLY_PORT=""
start_tally() {  # [fsync mode: always (default) | interval | never] [auth: on (default) | off]
  local dir="$WORK/tally.$RANDOM"
  mkdir -p "$dir"
  # With auth on, a (huge) ingest limit so every request also goes through the
  # rate limiter, as it would for a limited tier.
  printf 'storage:\n  fsync: %s\nauth:\n  enabled: %s\nbilling:\n  tiers:\n    enterprise:\n      ingest_rate_limit_rpm: 1000000000000\n' \
    "${1:-always}" "$([[ ${2:-on} == off ]] && echo false || echo true)" >"$dir/tally.yaml"
  "$TALLY" serve --config "$dir/tally.yaml" --listen 127.0.0.1:0 --port-file "$dir/port" \
    --data-dir "$dir/data" >"$dir/log" 2>&1 &
  TALLY_PID=$!
  PIDS+=("$TALLY_PID")
  wait_until tally "$TALLY_PID" test -s "$dir/port"
  TALLY_PORT=$(tr -d '[:space:]' <"$dir/port")
  wait_until tally "$TALLY_PID" curl -sf "http://127.0.0.1:$TALLY_PORT/readyz"
  # The admin key the first start wrote; the wrk scripts and load_series.py send it.
  TALLY_API_KEY=""
  [[ -s "$dir/data/admin.key" ]] && TALLY_API_KEY=$(tr -d '[:space:]' <"$dir/data/admin.key")
  export TALLY_API_KEY
}
stop_tally() {
  stop_pid "$TALLY_PID"
  TALLY_PID=""
}

"$CIVET" "$CIVET_PORT" 64 >"$WORK/civetweb.log" 2>&1 &
CIVET_PID=$!
PIDS+=("$CIVET_PID")
wait_until bare_civetweb "$CIVET_PID" curl -sf -X POST -d x "http://127.0.0.1:$CIVET_PORT/"

"$PGW_BIN" --web.listen-address="127.0.0.1:$PGW_PORT" >"$WORK/pushgateway.log" 2>&1 &
PGW_PID=$!
PIDS+=("$PGW_PID")
wait_until pushgateway "$PGW_PID" curl -sf "http://127.0.0.1:$PGW_PORT/-/ready"
PGW_VERSION=$("$PGW_BIN" --version 2>&1 | head -1 | awk '{print $3}')

# ---- measurement helpers ------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
proc_ticks() {  # utime + stime of PID (all threads), in clock ticks
  sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
machine_busy_ticks() {  # all CPUs: everything but idle and iowait
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
tally_accepted() {
  curl -sf "http://127.0.0.1:$TALLY_PORT/metrics" |
    awk '$1 == "tally_ingest_points_accepted_total" {printf "%d\n", $2}'
}

RUNS_TSV="$OUT/runs.tsv"
printf 'scenario\tserver\tpoints\trun\trequests\tduration_us\tp50_us\tp99_us\tstatus_errors\tsocket_errors\tserver_ticks\tmachine_ticks\taccepted\n' >"$RUNS_TSV"

# run_load SCENARIO SERVER PID URL POINTS SCRIPT [SCRIPT_ARGS...]
run_load() {
  local scenario=$1 server=$2 pid=$3 url=$4 points=$5 script=$6
  shift 6
  log "$scenario / $server: warm-up ${WARMUP}s, then $RUNS x ${DURATION}s"
  wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" --latency -s "$script" "$url" -- "$@" \
    >"$OUT/wrk/$scenario-$server-warmup.txt" 2>&1
  for run in $(seq "$RUNS"); do
    local acc0="" acc1="" accepted=""
    [[ "$server" == tally ]] && acc0=$(tally_accepted)
    local t0 m0 t1 m1
    t0=$(proc_ticks "$pid")
    m0=$(machine_busy_ticks)
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$script" "$url" -- "$@" \
      >"$OUT/wrk/$scenario-$server-$run.txt" 2>&1
    t1=$(proc_ticks "$pid")
    m1=$(machine_busy_ticks)
    if [[ "$server" == tally ]]; then
      acc1=$(tally_accepted)
      accepted=$((acc1 - acc0))
    fi
    local line
    line=$(grep '^BENCH ' "$OUT/wrk/$scenario-$server-$run.txt" || true)
    if [[ -z "$line" ]]; then
      log "wrk produced no result for $scenario/$server run $run:"
      cat "$OUT/wrk/$scenario-$server-$run.txt" >&2
      exit 1
    fi
    # BENCH requests=N duration_us=N p50_us=N p99_us=N status_errors=N socket_errors=N
    local vals
    vals=$(echo "$line" | sed -E 's/[a-z0-9_]+=//g; s/^BENCH //')
    read -r req dur p50 p99 serr sockerr <<<"$vals"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$server" "$points" \
      "$run" "$req" "$dur" "$p50" "$p99" "$serr" "$sockerr" "$((t1 - t0))" "$((m1 - m0))" \
      "$accepted" >>"$RUNS_TSV"
  done
}

# ---- 1. HTTP ingest -----------------------------------------------------------
W=bench/wrk
for points in ${BENCH_POINTS:-1 100 1000}; do
  if [[ $points == 1 ]]; then
    scenario=report-1
    tally_path=/v1/metrics/report
    script=(tally_report.lua)
  else
    scenario=batch-$points
    tally_path=/v1/metrics/batch
    script=(tally_batch.lua "$points")
  fi
  # A fresh tally per scenario: same starting store, far from the memory ceiling.
  start_tally
  run_load "$scenario" tally "$TALLY_PID" "http://127.0.0.1:$TALLY_PORT$tally_path" "$points" \
    "$W/${script[0]}" "${script[@]:1}"
  stop_tally
  if [[ $points == 1 ]]; then
    # The cost of API keys and rate limits: the same load with auth.enabled false.
    start_tally always off
    run_load "$scenario" tally-noauth "$TALLY_PID" "http://127.0.0.1:$TALLY_PORT$tally_path" \
      "$points" "$W/${script[0]}" "${script[@]:1}"
    stop_tally
  fi
  if [[ $points == 1000 ]]; then
    # The WAL's fsync policy: group commit should keep `always` near `never`.
    for mode in interval never; do
      start_tally "$mode"
      run_load "$scenario" "tally-fsync-$mode" "$TALLY_PID" \
        "http://127.0.0.1:$TALLY_PORT$tally_path" "$points" "$W/${script[0]}" "${script[@]:1}"
      stop_tally
    done
  fi
  run_load "$scenario" pushgateway "$PGW_PID" "http://127.0.0.1:$PGW_PORT/metrics/job/bench" \
    "$points" "$W/pushgateway.lua" "$points"
  run_load "$scenario" civetweb "$CIVET_PID" "http://127.0.0.1:$CIVET_PORT$tally_path" "$points" \
    "$W/${script[0]}" "${script[@]:1}"
done
stop_pid "$CIVET_PID"
stop_pid "$PGW_PID"

# ---- 2. GET /metrics on a live tally ----------------------------------------------
METRICS_TSV="$OUT/metrics_e2e.tsv"
printf 'series\tkind\tseconds\tbytes\tserver_ticks\n' >"$METRICS_TSV"
for series in $([[ "${BENCH_SKIP_METRICS:-0}" == 1 ]] || echo 10000 100000); do
  start_tally
  log "GET /metrics: loading $series series"
  python3 bench/load_series.py "$TALLY_PORT" "$series"
  for i in $(seq 0 5); do
    kind=warm
    [[ $i == 0 ]] && kind=first
    t0=$(proc_ticks "$TALLY_PID")
    res=$(curl -sf -o /dev/null -w '%{time_total}\t%{size_download}' \
      "http://127.0.0.1:$TALLY_PORT/metrics")
    t1=$(proc_ticks "$TALLY_PID")
    printf '%s\t%s\t%s\t%s\n' "$series" "$kind" "$res" "$((t1 - t0))" >>"$METRICS_TSV"
  done
  stop_tally
done

# ---- 3. micro benchmarks --------------------------------------------------------
log "bench_micro"
"$MICRO" --benchmark_filter="${BENCH_MICRO_FILTER:-.}" --benchmark_out="$OUT/micro.json" \
  --benchmark_out_format=json >"$OUT/micro.txt" 2>&1

# ---- report ---------------------------------------------------------------------
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc=$(nproc)"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel=$(uname -srm)"
  echo "mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "wrk=$(wrk --version 2>&1 | head -1 | awk '{print $2}')"
  echo "pushgateway=$PGW_VERSION"
  echo "duration=$DURATION"
  echo "warmup=$WARMUP"
  echo "runs=$RUNS"
  echo "threads=$THREADS"
  echo "connections=$CONNS"
  echo "clk_tck=$CLK_TCK"
} >"$OUT/machine.txt"
python3 bench/summarize.py "$OUT" | tee "$OUT/latest.md"
