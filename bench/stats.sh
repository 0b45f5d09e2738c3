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
DB_NAME=tomoni_bench_stats
SCALE=${SCALE:-1}
RUNS=${RUNS:-200}
PORT=${PORT:-18087}
. bench/lib.sh
TO=$LAST_FY
FROM=$(( TO - 2 ))

measure() {
    echo "=== $1 (fiscal $FROM-$TO, scale $SCALE)"
    (tomoni seed demo --years 3 --scale "$SCALE") | tail -1
    start_server
    TOKEN=$(token_for bench@example.com employee)
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
    stop_server
    (tomoni stats compare --from "$FROM" --to "$TO" --runs 21)
}

URL=$PG_URL measure postgresql
URL="sqlite://$WORK/bench.db" measure sqlite
