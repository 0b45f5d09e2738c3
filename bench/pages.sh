#!/usr/bin/env bash
# The web pages next to the JSON API they share their services with, on the release server at
# the `seed demo` scale, on PostgreSQL and SQLite:
#
#   - the event list page (/events, 20 upcoming events with the filter form) against the same
#     list through the API (/api/v1/events?limit=20): p50 and the ratio page/API (target <= 2)
#   - one event page (/events/{id}: the event, its programme, partner, site and the reader's
#     sign-up) against GET /api/v1/events/{id}
#   - the statistics dashboard (/stats: the annual table of the last three completed fiscal
#     years, its chart and the last year's objectives) against GET /api/v1/stats/mdd, the same
#     figures as JSON (target: page p50 < 20 ms)
#   - first-load weight of the list page: the HTML and every file it loads (CSS, htmx), as
#     served (target < 100 KB)
#
#   bench/pages.sh                     # SCALE=1 YEARS=3 SECONDS_EACH=5 REPEAT=3 CONNECTIONS=8
#   BACKENDS=sqlite bench/pages.sh     # one backend only
#
# The load generator (examples/loadgen.rs) shares the two cores with the server and the
# database. Only loopback traffic.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB_NAME=tomoni_bench_pages
PORT=${PORT:-18091}
SCALE=${SCALE:-1}
YEARS=${YEARS:-3}
DURATION=${SECONDS_EACH:-5}
REPEAT=${REPEAT:-3}
CONNECTIONS=${CONNECTIONS:-8}
# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release --quiet --example loadgen
LOADGEN=$PWD/target/release/examples/loadgen
EXTRA_ENV="${EXTRA_ENV:-} TOMONI__AUTH__LOGIN_ACCOUNT_BURST=0 TOMONI__AUTH__LOGIN_ADDRESS_BURST=0"

loadgen() { "$LOADGEN" "$@" --base "http://127.0.0.1:$PORT" --connections "$CONNECTIONS" --seconds "$DURATION"; }

# Signs in through the page's form and prints the session cookie (name=value).
web_cookie() { # email password
    curl -s -o /dev/null -D - -X POST "http://127.0.0.1:$PORT/sign-in" \
        -H "Origin: http://127.0.0.1:$PORT" --data-urlencode "email=$1" --data-urlencode "password=$2" \
        | awk -F'[ ;]' 'tolower($1) == "set-cookie:" && $2 ~ /tomoni_session=/ {print $2}'
}

# Alternates REPEAT runs of the page with REPEAT runs of the API call and prints the medians;
# with a fourth argument, the page's p50 target in ms.
compare() { # label page-path api-path [p50-target-ms]
    : >"$WORK/page.runs"
    : >"$WORK/api.runs"
    for _ in $(seq "$REPEAT"); do
        loadgen get --path "$2" --cookie "$COOKIE" >>"$WORK/page.runs"
        loadgen get --path "$3" --token "$TOKEN" >>"$WORK/api.runs"
    done
    python3 - "$BACKEND" "$1" "$WORK/page.runs" "$WORK/api.runs" "${4:-}" <<'PY'
import json, statistics as st, sys
backend, label, page_file, api_file, target = sys.argv[1:]
page = [json.loads(l) for l in open(page_file)]
api = [json.loads(l) for l in open(api_file)]
med = lambda runs, k: st.median(r[k] for r in runs)
bad = {k: v for r in page + api for k, v in r["statuses"].items() if k != "200"}
p50p, p50a = med(page, "p50_ms"), med(api, "p50_ms")
print(f"{backend:<9} {label:<11} page {med(page, 'rps'):5.0f} req/s p50 {p50p:6.2f} ms p99 {med(page, 'p99_ms'):6.2f} ms"
      f" | API {med(api, 'rps'):5.0f} req/s p50 {p50a:6.2f} ms p99 {med(api, 'p99_ms'):6.2f} ms"
      f" | p50 ratio page/API {p50p / p50a:4.2f}"
      + (f" (target: page p50 < {target} ms)" if target else " (target <= 2)")
      + (f"  NON-200: {bad}" if bad else ""))
PY
}

# Bytes of the list page and of every stylesheet and script it links, as served.
weight() {
    local html total=0 size
    html=$(curl -s -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/events")
    size=$(printf '%s' "$html" | wc -c)
    total=$size
    local parts="html $size"
    for asset in $(printf '%s' "$html" | grep -oE '(href|src)="/assets/[^"]+"' | cut -d'"' -f2 | sort -u); do
        size=$(curl -s "http://127.0.0.1:$PORT$asset" | wc -c)
        total=$((total + size))
        parts="$parts, ${asset#/assets/} $size"
    done
    printf '%-9s first load  %d bytes = %.1f KB (%s; target < 100 KB)\n' "$BACKEND" "$total" \
        "$(echo "$total / 1024" | bc -l)" "$parts"
}

run_backend() { # postgres|sqlite
    BACKEND=$1
    if [ "$BACKEND" = postgres ]; then
        URL=$PG_URL
    else
        URL="sqlite://$WORK/pages.db"
    fi
    (tomoni seed demo --years "$YEARS" --scale "$SCALE") >"$WORK/seed.out" 2>&1
    local email password
    read -r email password < <(awk '$1 == "employee" {print $2, $3}' "$WORK/seed.out")
    start_server
    TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    COOKIE=$(web_cookie "$email" "$password")
    [ -n "$COOKIE" ] || { echo "no session cookie from /sign-in" >&2; exit 1; }
    local event
    event=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/events?limit=1" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
    compare "event list" "/events" "/api/v1/events?limit=20"
    compare "event page" "/events/$event" "/api/v1/events/$event"
    compare "dashboard" "/stats" "/api/v1/stats/mdd" 20
    weight
    stop_server
    if [ "$BACKEND" = postgres ]; then
        psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null
    fi
}

echo "bench/pages.sh: SCALE=$SCALE YEARS=$YEARS, $CONNECTIONS connections, $DURATION s x $REPEAT rounds each; $(nproc) cores"
for backend in ${BACKENDS:-postgres sqlite}; do
    if [ "$backend" = postgres ]; then
        psql "$ADMIN" -qc "CREATE DATABASE $DB_NAME" >/dev/null
    fi
    run_backend "$backend"
done
