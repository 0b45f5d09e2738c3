#!/usr/bin/env bash
# Ten years of a running programme on PostgreSQL: the reads that grow with history, each next to
# what the database itself does with the same work in the same run.
#
#   bench/decade.sh          # YEARS=10 SCALE=1 RUNS=200 EXPORT_RUNS=3 CONNECTIONS=8 SECONDS_EACH=5 REPEAT=3
#   KEEP_DB=1 bench/decade.sh   # keep the seeded database, and reuse it on the next run (~5 min saved)
#   KEEP_DB=1 PARTS=list bench/decade.sh   # only some of the parts: stats, export, list
#
# `tomoni seed demo --years $YEARS` into a scratch database (1,700 sites, 60,000 employees,
# ~170,000 attendance records a year, the years before the last closed), then with the release
# server on loopback:
#   - GET /api/v1/stats/mdd for the last three years and for all of them: RUNS sequential curl
#     requests each (a new connection every time, as a browser's first call), p50 and p90;
#   - the whole-history participation export (CSV, no filter) against psql COPY of the same rows
#     and columns, medians of EXPORT_RUNS, and the server's RSS growth sampled every 20 ms;
#   - the employees' event list (a page of 50) with examples/loadgen against pgbench running the
#     list's statements (the caller and its sign-in, then the page), CONNECTIONS clients, REPEAT
#     alternating rounds of SECONDS_EACH; with the list cache on (the default) and then off.
# Loopback only; the scratch database is dropped afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
DB_NAME=tomoni_bench_decade
YEARS=${YEARS:-10}
SCALE=${SCALE:-1}
RUNS=${RUNS:-200}
EXPORT_RUNS=${EXPORT_RUNS:-3}
CONNECTIONS=${CONNECTIONS:-8}
DURATION=${SECONDS_EACH:-5}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18091}
PARTS=${PARTS:-stats export list}
part() { [[ " $PARTS " == *" $1 "* ]]; }
# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release --quiet --example loadgen
LOADGEN=$PWD/target/release/examples/loadgen
URL=$PG_URL
FIRST_FY=$(( LAST_FY - YEARS + 1 ))

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); commit $(git rev-parse --short HEAD)"
t0=$(date +%s)
if [ "${KEEP_DB:-}" = 1 ] && [ "$(psql "$URL" -qAt -c "SELECT count(*) > 0 FROM attendance" 2>/dev/null)" = t ]; then
    echo "reusing the seeded database $DB_NAME (KEEP_DB=1)"
else
    (tomoni seed demo --years "$YEARS" --scale "$SCALE") | tail -1
fi
echo "fiscal $FIRST_FY-$LAST_FY ready in $(( $(date +%s) - t0 )) s: $(psql "$URL" -qAt -c "SELECT count(*) FROM attendance") attendance records, $(psql "$URL" -qAt -c "SELECT count(*) FROM events") events, $(psql "$URL" -qAt -c "SELECT count(*) FROM signups") sign-ups"
psql "$URL" -qc "VACUUM ANALYZE" >/dev/null
start_server
HR_TOKEN=$(token_for "hr.$$@bench.example" hr)
READER_TOKEN=$(token_for "reader.$$@bench.example" employee)
READER_ID=$(psql "$URL" -qAt -c "SELECT id FROM users WHERE email = 'reader.$$@bench.example'")
READER_SIGN_IN=$(psql "$URL" -qAt -c "SELECT family_id FROM refresh_tokens WHERE user_id = '$READER_ID' LIMIT 1")

# --- statistics ------------------------------------------------------------------------------
stats() { # from to label
    local path="/api/v1/stats/mdd?from=$1&to=$2"
    for _ in $(seq 20); do curl -sf -o /dev/null -H "Authorization: Bearer $HR_TOKEN" "http://127.0.0.1:$PORT$path"; done
    for _ in $(seq "$RUNS"); do
        curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $HR_TOKEN" "http://127.0.0.1:$PORT$path"
    done | sort -n >"$WORK/times"
    python3 - "$WORK/times" "$3" <<'PY'
import sys
t = [float(x) * 1000 for x in open(sys.argv[1])]
print(f"statistics, {sys.argv[2]}: n={len(t)} p50 {t[len(t)//2]:.2f} ms, p90 {t[int(len(t)*0.9)]:.2f} ms (target p50 < 5 ms)")
PY
}
if part stats; then
    stats $(( LAST_FY - 2 )) "$LAST_FY" "fiscal $(( LAST_FY - 2 ))-$LAST_FY (3 years)"
    stats "$FIRST_FY" "$LAST_FY" "fiscal $FIRST_FY-$LAST_FY ($YEARS years)"
fi

# --- the whole-history export ----------------------------------------------------------------
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
sampled() { # command... -> "seconds peak_growth_kib"
    local before; before=$(rss)
    ( while :; do rss; sleep 0.02; done ) >"$WORK/rss" &
    local sampler=$!
    local t0; t0=$(date +%s.%N)
    "$@" >/dev/null
    local t1; t1=$(date +%s.%N)
    kill "$sampler"; wait "$sampler" 2>/dev/null || true
    echo "$(echo "$t1 - $t0" | bc) $(( $(sort -n "$WORK/rss" | tail -1) - before ))"
}
export_csv() { curl -sf -H "Authorization: Bearer $HR_TOKEN" \
    "http://127.0.0.1:$PORT/api/v1/exports/participations?purpose=benchmark" -o "$WORK/export.csv"; }
# The export's 16 columns (participations/2) for every record, as the server writes them.
copy() { psql "$URL" -qc "COPY (
    SELECT u.employee_number, u.display_name, hs.code, hc.code, s.code, c.code, p.code, p.title, pc.cats,
           e.starts_on,
           CASE WHEN extract(month FROM e.starts_on) >= 4 THEN extract(year FROM e.starts_on) + 1
                ELSE extract(year FROM e.starts_on) END,
           a.status, a.minutes, round(a.minutes / 60.0, 2), a.days, a.approval
      FROM attendance a JOIN users u ON u.id = a.user_id
      LEFT JOIN sites hs ON hs.id = u.site_id LEFT JOIN companies hc ON hc.id = hs.company_id
      JOIN events e ON e.id = a.event_id JOIN programs p ON p.id = e.program_id
      JOIN sites s ON s.id = p.site_id JOIN companies c ON c.id = s.company_id
      LEFT JOIN (SELECT program_id, string_agg(category, ';' ORDER BY category) AS cats
                   FROM program_categories GROUP BY program_id) pc ON pc.program_id = p.id
     ORDER BY a.id) TO STDOUT WITH CSV HEADER"; }
if part export; then
    export_csv # warm-up
    echo "export: $(( $(wc -l <"$WORK/export.csv") - 1 )) rows, $(du -h "$WORK/export.csv" | cut -f1)"
    copy >"$WORK/copy.csv"
    echo "COPY:   $(( $(wc -l <"$WORK/copy.csv") - 1 )) rows, $(du -h "$WORK/copy.csv" | cut -f1)"
    : >"$WORK/results"
    for _ in $(seq "$EXPORT_RUNS"); do
        echo "csv $(sampled export_csv)" >>"$WORK/results"
        echo "copy $(sampled copy)" >>"$WORK/results"
    done
    python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    kind, secs, kib = line.split()
    runs.setdefault(kind, []).append((float(secs), int(kib)))
med = {k: statistics.median(s for s, _ in v) for k, v in runs.items()}
peak = {k: max(m for _, m in v) / 1024 for k, v in runs.items()}
rounds = " ".join(f"{c[0]:.2f}/{p[0]:.2f}" for c, p in zip(runs["csv"], runs["copy"]))
print(f"whole-history export CSV: {med['csv']:.2f} s = {med['csv'] / med['copy']:.2f}x COPY ({med['copy']:.2f} s; rounds {rounds}) (target <= 1.25x); server RSS growth {peak['csv']:.1f} MiB (target < 30)")
PY
fi

# --- the event list --------------------------------------------------------------------------
if part list; then
# pgbench runs the list's two statements twice over: as literal text (PostgreSQL plans them once
# and reuses the plan; the ratio the target is read against), and exactly as the server sends
# them: the caller's ids bound as parameters, the list with its status, instants (now()) and page
# size in its text (`db::literal`), so that one too is planned once per connection; with the
# cache off, the one statement the server then sends instead.
cat >"$WORK/list.sql" <<SQL
SELECT role, site_id, active, EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = '$READER_SIGN_IN' AND user_id = '$READER_ID' AND revoked_at IS NULL) FROM users WHERE id = '$READER_ID' LIMIT 1;
SELECT events.id, events.program_id, events.title, events.description, events.starts_at, events.ends_at, events.timezone, events.location, events.capacity, events.taken, events.waitlisted, events.waitlist_enabled, events.signup_deadline, events.cancel_deadline, events.status, events.created_at, events.updated_at, programs.site_id FROM events INNER JOIN programs ON events.program_id = programs.id WHERE events.status = 'published' AND events.ends_at > now() AND events.starts_at > now() - interval '31 days' ORDER BY events.starts_at, events.id LIMIT 51;
SQL
cat >"$WORK/list-bound.sql" <<'SQL'
SELECT role, site_id, active, EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = :sign_in::uuid AND user_id = :reader::uuid AND revoked_at IS NULL) FROM users WHERE id = :reader::uuid LIMIT :one;
SELECT events.id, events.program_id, events.title, events.description, events.starts_at, events.ends_at, events.timezone, events.location, events.capacity, events.taken, events.waitlisted, events.waitlist_enabled, events.signup_deadline, events.cancel_deadline, events.status, events.created_at, events.updated_at, programs.site_id FROM events INNER JOIN programs ON events.program_id = programs.id WHERE events.status = 'published' AND events.ends_at > now() AND events.starts_at > now() - interval '31 days' ORDER BY events.starts_at, events.id LIMIT 51;
SQL
# With the cache off the server sends one statement a request: the page with the caller's check
# as a column of it (`programs::events::list_signed_in`).
cat >"$WORK/list-one.sql" <<'SQL'
SELECT "events"."id", "events"."program_id", "events"."title", "events"."description", "events"."starts_at", "events"."ends_at", "events"."timezone", "events"."location", "events"."capacity", "events"."taken", "events"."waitlisted", "events"."waitlist_enabled", "events"."signup_deadline", "events"."cancel_deadline", "events"."status", "events"."created_at", "events"."updated_at", "programs"."site_id", (SELECT "users"."role" FROM "users" WHERE ((("users"."id" = :reader::uuid) AND ("users"."active" = :yes)) AND EXISTS (SELECT "refresh_tokens"."id", "refresh_tokens"."user_id", "refresh_tokens"."family_id", "refresh_tokens"."token_hash", "refresh_tokens"."created_at", "refresh_tokens"."expires_at", "refresh_tokens"."rotated_at", "refresh_tokens"."revoked_at" FROM "refresh_tokens" WHERE ((("refresh_tokens"."family_id" = :sign_in::uuid) AND ("refresh_tokens"."user_id" = :reader::uuid)) AND ("refresh_tokens"."revoked_at" IS NULL)))) LIMIT :one) FROM ("events" INNER JOIN "programs" ON ("events"."program_id" = "programs"."id")) WHERE (events.status = 'published' AND events.ends_at > now() AND events.starts_at > now() - interval '31 days') ORDER BY "events"."starts_at", "events"."id" LIMIT 51;
SQL
bound_vars=(-D sign_in="$READER_SIGN_IN" -D reader="$READER_ID" -D one=1 -D yes=true)
BOUND_SQL=$WORK/list-bound.sql
# Twice: as a user runs it (the employees' list cache on, `database.list_cache_ms` = 1,000, so the
# page itself is read about once a second and the caller on every request), then with the cache
# off, every request reading the page.
for cache in on off; do
if [ "$cache" = off ]; then
    stop_server
    EXTRA_ENV="${EXTRA_ENV:-} TOMONI__DATABASE__LIST_CACHE_MS=0"
    BOUND_SQL=$WORK/list-one.sql
    start_server
fi
: >"$WORK/http.runs"; : >"$WORK/pg.runs"; : >"$WORK/pg-bound.runs"
for _ in $(seq "$REPEAT"); do
    LOADGEN_TOKEN=$READER_TOKEN "$LOADGEN" get --path '/api/v1/events?limit=50' \
        --base "http://127.0.0.1:$PORT" --connections "$CONNECTIONS" --seconds "$DURATION" >>"$WORK/http.runs"
    pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -f "$WORK/list.sql" "$URL" 2>/dev/null \
        | awk '/^tps = / {print int($3)}' >>"$WORK/pg.runs"
    pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" "${bound_vars[@]}" -f "$BOUND_SQL" "$URL" 2>/dev/null \
        | awk '/^tps = / {print int($3)}' >>"$WORK/pg-bound.runs"
done
python3 - "$WORK/http.runs" "$WORK/pg.runs" "$WORK/pg-bound.runs" "$CONNECTIONS" "$cache" <<'PY'
import json, statistics as st, sys
http = [json.loads(l) for l in open(sys.argv[1])]
pg = [float(l) for l in open(sys.argv[2]) if l.strip()]
bound = [float(l) for l in open(sys.argv[3]) if l.strip()]
rps, tps, btps = st.median(h["rps"] for h in http), st.median(pg), st.median(bound)
rounds = " ".join(f"{h['rps']:.0f}/{p:.0f}/{b:.0f}" for h, p, b in zip(http, pg, bound))
print(f"event list, page of 50, list cache {sys.argv[5]}, {sys.argv[4]} connections: {rps:.0f} req/s, p50 {st.median(h['p50_ms'] for h in http):.2f} ms, "
      f"p99 {st.median(h['p99_ms'] for h in http):.2f} ms = {rps / tps:.2f} of pgbench ({tps:.0f} tps; target >= 0.5); "
      f"{rps / btps:.2f} of pgbench with the server's statements as it sends them ({btps:.0f} tps); rounds http/pgbench/bound {rounds}")
PY
done
fi
stop_server
