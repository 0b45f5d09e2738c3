#!/usr/bin/env bash
# Start-up time (migrations already applied) and idle memory of the release binary, per backend.
#
#   bench/startup.sh            # SQLite, and PostgreSQL at $TOMONI_BENCH_POSTGRES_URL
#                               # (default postgres://postgres@127.0.0.1:5432/tomoni_bench)
#
# Start-up = from exec to the first 200 from /readyz (the database answered), median of $RUNS.
# Idle memory = VmRSS after start-up, 20 requests and one idle second (workers = cores).
# Targets (issue 2): start-up < 1 s, idle memory < 30 MiB. Only loopback traffic.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-7}
PORT=${PORT:-18080}
PG_URL=${TOMONI_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/tomoni_bench}

cargo build --release --quiet
BIN=$PWD/target/release/tomoni
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

now_ns() { date +%s%N; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_backend() {
    local name=$1 url=$2
    local starts=() rss=()
    (cd "$WORK" && env -i PATH="$PATH" TOMONI__DATABASE__URL="$url" "$BIN" migrate >/dev/null 2>&1)
    for _ in $(seq 1 "$RUNS"); do
        local t0 t1 pid
        t0=$(now_ns)
        (cd "$WORK" && exec env -i PATH="$PATH" TOMONI__DATABASE__URL="$url" \
            TOMONI__SERVER__PORT="$PORT" TOMONI__LOG__LEVEL=warn "$BIN" serve >/dev/null 2>&1) &
        pid=$!
        # Poll readiness: bounded to 10 s.
        local ready=0
        for _ in $(seq 1 2000); do
            if curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz"; then ready=1; break; fi
            sleep 0.005
        done
        t1=$(now_ns)
        [ "$ready" = 1 ] || { echo "$name: not ready within 10 s" >&2; kill "$pid"; exit 1; }
        starts+=($(( (t1 - t0) / 1000000 )))
        for _ in $(seq 1 20); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz"; done
        sleep 1
        rss+=($(awk '/VmRSS/ {print $2}' "/proc/$pid/status"))
        kill -TERM "$pid"
        wait "$pid" || true
    done
    local s m
    s=$(printf '%s\n' "${starts[@]}" | median)
    m=$(printf '%s\n' "${rss[@]}" | median)
    printf '%-9s start-up %5d ms (%.2f of the 1 s target)   idle RSS %6.1f MiB (%.2f of the 30 MiB target)\n' \
        "$name" "$s" "$(echo "$s / 1000" | bc -l)" "$(echo "$m / 1024" | bc -l)" "$(echo "$m / 1024 / 30" | bc -l)"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "binary:  $(ls -l "$BIN" | awk '{printf "%.1f MiB", $5/1048576}'), runs: $RUNS (median)"
run_backend sqlite "sqlite://$WORK/data/tomoni.db"
if psql "$(dirname "$PG_URL")/postgres" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    run_backend postgres "$PG_URL"
else
    echo "postgres: skipped ($PG_URL not reachable)"
fi
