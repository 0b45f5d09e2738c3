#!/usr/bin/env bash
# The participation export against PostgreSQL's own COPY of the same query, and the server's
# memory while it streams.
#
#   bench/export.sh          # SCALE=0.8 (~136,000 records in one fiscal year), RUNS=3
#
# Seeds one fiscal year into a scratch database, starts the release server, then per run:
#   - GET /api/v1/exports/participations?fiscal_year=FY (CSV, and XLSX once) with curl;
#   - psql COPY (the same rows and columns, SQL written out below) TO STDOUT WITH CSV;
# and samples the server's VmRSS every 20 ms during each export (peak minus the RSS before it).
# Medians of RUNS. Loopback only; the scratch database is dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
DB_NAME=tomoni_bench_export
SCALE=${SCALE:-0.8}
RUNS=${RUNS:-3}
PORT=${PORT:-18088}
. bench/lib.sh
URL=$PG_URL
FY=$LAST_FY
FIRST="$((FY - 1))-04-01"; LAST="$FY-03-31"

(tomoni seed demo --years 1 --scale "$SCALE") | tail -1
start_server
TOKEN=$(token_for hr@example.com hr)

rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
# Runs "$@" while sampling the server's RSS; prints "seconds peak_growth_kib".
sampled() {
    local before; before=$(rss)
    ( while :; do rss; sleep 0.02; done ) >"$WORK/rss" &
    local sampler=$!
    local t0; t0=$(date +%s.%N)
    "$@" >/dev/null
    local t1; t1=$(date +%s.%N)
    kill "$sampler"; wait "$sampler" 2>/dev/null || true
    local peak; peak=$(sort -n "$WORK/rss" | tail -1)
    echo "$(echo "$t1 - $t0" | bc) $(( peak - before ))"
}
export_csv() { curl -sf -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT/api/v1/exports/participations?purpose=benchmark&fiscal_year=$FY" -o "$WORK/export.csv"; }
export_xlsx() { curl -sf -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT/api/v1/exports/participations?purpose=benchmark&fiscal_year=$FY&format=xlsx" -o "$WORK/export.xlsx"; }
copy() { psql "$URL" -qc "COPY (
    SELECT u.employee_number, u.display_name, hs.code, s.code, c.code, p.code, p.title, pc.cats,
           e.starts_on, $FY, a.status, a.minutes, round(a.minutes / 60.0, 2), a.approval
      FROM attendance a JOIN users u ON u.id = a.user_id LEFT JOIN sites hs ON hs.id = u.site_id
      JOIN events e ON e.id = a.event_id JOIN programs p ON p.id = e.program_id
      JOIN sites s ON s.id = p.site_id JOIN companies c ON c.id = s.company_id
      LEFT JOIN (SELECT program_id, string_agg(category, ';' ORDER BY category) AS cats
                   FROM program_categories GROUP BY program_id) pc ON pc.program_id = p.id
     WHERE e.starts_on BETWEEN '$FIRST' AND '$LAST' ORDER BY a.id) TO STDOUT WITH CSV HEADER"; }

export_csv # warm-up
ROWS=$(( $(wc -l <"$WORK/export.csv") - 1 ))
echo "rows exported: $ROWS (fiscal $FY)"
for _ in $(seq "$RUNS"); do
    echo "csv $(sampled export_csv)" >>"$WORK/results"
    echo "copy $(sampled copy)" >>"$WORK/results"
done
echo "xlsx $(sampled export_xlsx)" >>"$WORK/results"
python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kind, secs, kib = line.split()
    runs.setdefault(kind, []).append((float(secs), int(kib)))
med = {k: statistics.median(s for s, _ in v) for k, v in runs.items()}
peak = {k: max(m for _, m in v) / 1024 for k, v in runs.items()}
print(f"COPY (same query) TO STDOUT: {med['copy'] * 1000:.0f} ms")
print(f"export CSV:  {med['csv'] * 1000:.0f} ms = {med['csv'] / med['copy']:.2f}x COPY (target <= 1.5x); server RSS growth {peak['csv']:.1f} MiB (target < 50)")
print(f"export XLSX: {med['xlsx'] * 1000:.0f} ms = {med['xlsx'] / med['copy']:.2f}x COPY; server RSS growth {peak['xlsx']:.1f} MiB")
PY
