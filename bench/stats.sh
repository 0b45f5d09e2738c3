#!/usr/bin/env bash
# The statistics endpoint at the model programme's size, on PostgreSQL and on SQLite.
#
#   bench/stats.sh                # SCALE=1 RUNS=200 by default
#
# For each database: `tomoni seed demo --years 3` into a scratch database (three completed fiscal
# years, ~525,000 attendance records at SCALE=1), then
#   - GET /api/v1/stats/mdd for those three years, RUNS sequential requests with curl (a new
#     connection each, as a browser's first call): p50 and p90 of curl's time_total;
#   - `tomoni stats compare`: the same figures from the summary tables and from the naive
#     aggregate over raw attendance, on one connection, medians of 21 runs, and their ratio
#     (it also checks that both give the same figures).
# Loopback only; the scratch PostgreSQL database and the SQLite file are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${TOMONI_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ADMIN="${BASE%/*}/postgres"
PGDB="${BASE%/*}/tomoni_bench_stats"
SCALE=${SCALE:-1}
RUNS=${RUNS:-200}
PORT=${PORT:-18087}

cargo build --release --quiet
BIN=$PWD/target/release/tomoni
WORK=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS tomoni_bench_stats WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The last three completed fiscal years (April start, named after the year they end in).
YEAR=$(date -u +%Y)
MONTH=$(date -u +%-m)
CURRENT=$(( MONTH >= 4 ? YEAR + 1 : YEAR ))
TO=$(( CURRENT - 1 ))
FROM=$(( TO - 2 ))

# `exec`, so that a backgrounded call's $! is the server itself and `kill` reaches it.
tomoni() { exec env -i PATH="$PATH" HOME="$WORK" TOMONI__DATABASE__URL="$URL" TOMONI__LOG__LEVEL=warn \
    TOMONI__DATA__DIR="$WORK/data" TOMONI__SERVER__PORT="$PORT" "$BIN" "$@"; }

measure() {
    echo "=== $1 (fiscal $FROM-$TO, scale $SCALE)"
    (tomoni seed demo --years 3 --scale "$SCALE") | tail -1
    echo "bench-password-123" | (tomoni user create --email bench@example.com --password-stdin) >/dev/null
    if curl -s "http://127.0.0.1:$PORT/healthz" >/dev/null; then echo "port $PORT is taken" >&2; exit 1; fi
    (tomoni serve) >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
        sleep 0.1
    done
    TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d '{"email":"bench@example.com","password":"bench-password-123"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    local path="/api/v1/stats/mdd?from=$FROM&to=$TO"
    for _ in $(seq 20); do curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path"; done
    for _ in $(seq "$RUNS"); do
        curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path"
    done | sort -n >"$WORK/times"
    python3 - "$WORK/times" <<'PY'
import sys
t = [float(x) * 1000 for x in open(sys.argv[1])]
print(f"GET /api/v1/stats/mdd: n={len(t)} p50={t[len(t)//2]:.2f} ms p90={t[int(len(t)*0.9)]:.2f} ms max={t[-1]:.2f} ms")
PY
    kill "$SERVER" 2>/dev/null || { echo "server exited early:"; tail -5 "$WORK/server.log"; }
    wait "$SERVER" 2>/dev/null || true; SERVER=
    (tomoni stats compare --from "$FROM" --to "$TO" --runs 21)
}

psql "$ADMIN" -qc "DROP DATABASE IF EXISTS tomoni_bench_stats WITH (FORCE)"
URL=$PGDB measure postgresql
URL="sqlite://$WORK/bench.db" measure sqlite
