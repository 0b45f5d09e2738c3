#!/usr/bin/env bash
# HTTP load against the release server on PostgreSQL and SQLite, next to what the database does
# with the same SQL and no HTTP in front (pgbench, same run, same machine):
#
#   - sign-up POST, many events (requests spread over 100 events) and one hot event (every
#     request for the same row; 2,000 seats, waitlist on); zero overbooking checked afterwards
#   - the event list, a page of 50
#   - login (argon2id-bound by design), against the argon2 rate of this machine
#
#   bench/load.sh               # SCALE=0.5 SECONDS=10 CONNECTIONS=32; PostgreSQL at
#                               # $TOMONI_BENCH_POSTGRES_URL (default: the local server)
#   KEEP=1 bench/load.sh        # keep the scratch folder (server log, pgbench scripts, lists)
#   BACKENDS=postgres bench/load.sh   # one backend only
#
# The load generator (examples/loadgen.rs) and pgbench share the two cores with the server and
# the database, as the targets in BENCHMARKS.md assume. Only loopback traffic.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DB_NAME=tomoni_bench_load
PORT=${PORT:-18090}
SCALE=${SCALE:-0.5}
DURATION=${SECONDS_EACH:-10}
CONNECTIONS=${CONNECTIONS:-32}
EVENTS=100
HOT_SEATS=2000
SECRET=bench-load-secret-0123456789abcdef-0123
# shellcheck source=bench/lib.sh
. bench/lib.sh
cargo build --release --quiet --example loadgen
LOADGEN=$PWD/target/release/examples/loadgen
EXTRA_ENV="${EXTRA_ENV:-} TOMONI__JWT__SECRET=$SECRET TOMONI__AUTH__LOGIN_ACCOUNT_BURST=0 TOMONI__AUTH__LOGIN_ADDRESS_BURST=0"

if [ "${KEEP:-}" = 1 ]; then
    trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; echo "kept $WORK"' EXIT
fi

sql() { # query -> rows, on the current backend
    if [ "$BACKEND" = postgres ]; then psql "$URL" -qAt -F ' ' -c "$1"; else sqlite3 -separator ' ' "$SQLITE_FILE" "$1"; fi
}

api() { # method path [body] -> body; fails on an error status
    curl -sf -X "$1" "http://127.0.0.1:$PORT$2" -H "Authorization: Bearer $ADMIN_TOKEN" \
        -H 'Content-Type: application/json' ${3:+-d "$3"}
}

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# EVENTS published events on separate days from day 200 on (no overlap, so no overlap rule
# refuses a sign-up), plus two hot ones (one for HTTP, one for pgbench) with HOT_SEATS seats.
make_events() {
    local program start id seats
    program=$(api GET "/api/v1/programs?limit=1" | json '["items"][0]["id"]')
    : >"$WORK/events.txt"
    for i in $(seq 0 $((EVENTS + 1))); do
        start=$(date -u -d "+$((200 + i)) days" +%Y-%m-%dT10:00:00Z)
        seats=100000
        [ "$i" -ge "$EVENTS" ] && seats=$HOT_SEATS
        id=$(api POST /api/v1/events "{\"program_id\":\"$program\",\"starts_at\":\"$start\",
            \"ends_at\":\"${start%T*}T12:00:00Z\",\"capacity\":$seats,\"waitlist_enabled\":true}" | json '["id"]')
        api POST "/api/v1/events/$id/publish" >/dev/null
        echo "$id" >>"$WORK/events.txt"
    done
    HOT=$(sed -n "$((EVENTS + 1))p" "$WORK/events.txt")
}

# Work lists, every line a different (employee, event): "many" walks the events round-robin,
# "hot" is everyone for one event. HTTP and pgbench get disjoint halves (pg_*.txt).
make_pairs() {
    sql "SELECT id FROM users WHERE role = 'employee' AND active ORDER BY id" >"$WORK/employees.txt"
    python3 - "$WORK" "$EVENTS" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
emp = open(f"{work}/employees.txt").read().split()
ev = open(f"{work}/events.txt").read().split()
many, hot, hot_pg = ev[:n], ev[n], ev[n + 1]
pairs = [(emp[k % len(emp)], many[(k + k // len(emp)) % n]) for k in range(min(len(emp) * n, 200_000))]
half = len(pairs) // 2
def write(name, rows):
    with open(f"{work}/{name}.txt", "w") as f:
        f.writelines(f"{u} {e}\n" for u, e in rows)
write("many", pairs[:half])
write("pg_many", pairs[half:])
write("hot", [(u, hot) for u in emp[: len(emp) // 2]])
write("pg_hot", [(u, hot_pg) for u in emp[len(emp) // 2 :]])
PY
}

setup_backend() { # postgres|sqlite
    BACKEND=$1
    if [ "$BACKEND" = postgres ]; then
        URL=$PG_URL
    else
        SQLITE_FILE=$WORK/load.db
        URL="sqlite://$SQLITE_FILE"
    fi
    (tomoni seed demo --years 1 --scale "$SCALE") >/dev/null 2>&1
    start_server
    ADMIN_TOKEN=$(token_for "admin@bench.example" admin)
    make_events
    make_pairs
}

# --- measuring -------------------------------------------------------------------------------

loadgen() { "$LOADGEN" "$@" --base "http://127.0.0.1:$PORT" --connections "$CONNECTIONS" --seconds "$DURATION"; }

field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d$2)" "$1"; }

# pgbench on a script: same clients, same duration, prepared statements, loopback. Prints
# "TPS P99_MS" (the p99 from pgbench's per-transaction log).
pgbench_run() { # script
    rm -f "$WORK"/pgb.*
    local tps
    tps=$(pgbench -n -M prepared -c "$CONNECTIONS" -j 2 -T "$DURATION" -l --log-prefix="$WORK/pgb" \
        -f "$1" "$URL" 2>"$WORK/pgbench.err" | awk '/^tps = / {print int($3)}')
    echo "$tps $(cat "$WORK"/pgb.* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int(NR*0.99)]/1000}')"
}

# Events with more seats taken than they have, or counters that differ from their rows.
overbooking() {
    sql "SELECT count(*) FROM events e WHERE e.taken > e.capacity
           OR e.taken <> (SELECT count(*) FROM signups s WHERE s.event_id = e.id AND s.status = 'confirmed')
           OR e.waitlisted <> (SELECT count(*) FROM signups s WHERE s.event_id = e.id AND s.status = 'waitlisted')"
}

report() { # label loadgen-result ["pgbench-tps pgbench-p99" target-ratio]
    local label=$1 r=$2 pg=${3:-} target=${4:-}
    printf '%-9s %-23s %6.0f req/s  p50 %6.2f ms  p99 %6.2f ms' "$BACKEND" "$label" \
        "$(field "$r" '["rps"]')" "$(field "$r" '["p50_ms"]')" "$(field "$r" '["p99_ms"]')"
    if [ -n "$pg" ]; then
        set -- $pg
        printf '  pgbench %5d tps (p99 %6.2f ms)  ratio %.2f (target >= %s)' "$1" "$2" "$(field "$r" "[\"rps\"] / $1")" "$target"
    fi
    printf '  %s\n' "$(field "$r" '["statuses"]')"
}

# The statements the server sends for one sign-up and for one list page, as log_statement = all
# shows them, without the pool's validation SELECT 1 and the savepoint: those are the service's
# own overhead and count against it. One statement more here than in the server: picking the
# next unused (employee, event) from bench_pairs.
write_pgbench_scripts() {
    cat >"$WORK/signup.sql" <<'SQL'
SELECT user_id AS uid, event_id AS eid, starts_at AS s, ends_at AS e FROM bench_pairs WHERE n = (SELECT nextval('bench_seq')) \gset
SELECT role, site_id, active FROM users WHERE id = :uid LIMIT 1;
BEGIN;
SELECT events.id, events.program_id, events.title, events.description, events.starts_at, events.ends_at, events.timezone, events.location, events.capacity, events.taken, events.waitlisted, events.waitlist_enabled, events.signup_deadline, events.cancel_deadline, events.status, events.created_at, events.updated_at, programs.site_id FROM events INNER JOIN programs ON events.program_id = programs.id WHERE events.id = :eid LIMIT 1;
SELECT active FROM users WHERE id = :uid LIMIT 1;
SELECT count(*) FROM signups WHERE event_id = :eid AND user_id = :uid AND status <> 'cancelled';
SELECT events.title FROM signups INNER JOIN events ON signups.event_id = events.id WHERE signups.user_id = :uid AND signups.status = 'confirmed' AND events.status <> 'cancelled' AND events.id <> :eid AND events.starts_at < :e AND events.ends_at > :s LIMIT 1;
WITH seat AS (UPDATE events SET taken = taken + 1, updated_at = now() WHERE id = :eid AND status = 'published' AND (capacity IS NULL OR taken < capacity) RETURNING 1) SELECT count(*) AS seated FROM seat \gset
\if :seated
INSERT INTO signups (id, event_id, user_id, status, waitlist_position, forced, created_by, created_at, updated_at) VALUES (gen_random_uuid(), :eid, :uid, 'confirmed', NULL, false, :uid, now(), now());
\else
UPDATE events SET waitlisted = waitlisted + 1, updated_at = now() WHERE id = :eid RETURNING waitlisted AS pos \gset
INSERT INTO signups (id, event_id, user_id, status, waitlist_position, forced, created_by, created_at, updated_at) VALUES (gen_random_uuid(), :eid, :uid, 'waitlisted', :pos, false, :uid, now(), now());
\endif
INSERT INTO outbox (id, kind, dedupe_key, user_id, to_address, locale, payload, status, attempts, next_attempt_at, created_at, updated_at) SELECT gen_random_uuid(), 'signup_confirmed', 'signup_confirmed:' || gen_random_uuid(), u.id, u.email, u.locale, '{"event_id":"-","signup_id":"-"}', 'pending', 0, now(), now(), now() FROM users u WHERE u.id = :uid ON CONFLICT (dedupe_key) DO NOTHING;
COMMIT;
SQL
    cat >"$WORK/list.sql" <<SQL
SELECT role, site_id, active FROM users WHERE id = '${READER_ID:-00000000-0000-0000-0000-000000000000}' LIMIT 1;
SELECT events.id, events.program_id, events.title, events.description, events.starts_at, events.ends_at, events.timezone, events.location, events.capacity, events.taken, events.waitlisted, events.waitlist_enabled, events.signup_deadline, events.cancel_deadline, events.status, events.created_at, events.updated_at, programs.site_id FROM events INNER JOIN programs ON events.program_id = programs.id WHERE events.status = 'published' AND events.ends_at > now() AND events.starts_at > now() - interval '31 days' ORDER BY events.starts_at, events.id LIMIT 51;
SQL
}

# Loads a pairs file into bench_pairs (numbered from 1) for the pgbench sign-up script.
load_pairs() { # file
    psql "$URL" -q <<SQL
DROP TABLE IF EXISTS bench_pairs; DROP SEQUENCE IF EXISTS bench_seq;
CREATE TABLE bench_pairs (n bigserial PRIMARY KEY, user_id uuid, event_id uuid, starts_at timestamptz, ends_at timestamptz);
CREATE TEMP TABLE raw (user_id uuid, event_id uuid);
\copy raw FROM '$1' WITH (FORMAT text, DELIMITER ' ')
INSERT INTO bench_pairs (user_id, event_id, starts_at, ends_at)
  SELECT r.user_id, r.event_id, e.starts_at, e.ends_at FROM raw r JOIN events e ON e.id = r.event_id;
CREATE SEQUENCE bench_seq;
ANALYZE bench_pairs;
SQL
}

run_backend() { # postgres|sqlite
    setup_backend "$1"
    local r pg=
    write_pgbench_scripts
    r=$(loadgen signup --secret "$SECRET" --pairs "$WORK/many.txt")
    if [ "$BACKEND" = postgres ]; then load_pairs "$WORK/pg_many.txt"; pg=$(pgbench_run "$WORK/signup.sql"); fi
    report "sign-up, many events" "$r" "$pg" 0.50
    r=$(loadgen signup --secret "$SECRET" --pairs "$WORK/hot.txt")
    if [ "$BACKEND" = postgres ]; then load_pairs "$WORK/pg_hot.txt"; pg=$(pgbench_run "$WORK/signup.sql"); fi
    report "sign-up, one hot event" "$r" "$pg" 0.50
    printf '%-9s overbooked events or counters off their rows: %s of %s events; the hot one: %s\n' "$BACKEND" \
        "$(overbooking)" "$(sql 'SELECT count(*) FROM events')" \
        "$(sql "SELECT capacity || ' seats, ' || taken || ' taken, ' || waitlisted || ' waitlisted' FROM events WHERE id = '$HOT'")"

    local reader
    reader=$(token_for "reader@bench.example" employee)
    READER_ID=$(sql "SELECT id FROM users WHERE email = 'reader@bench.example'")
    write_pgbench_scripts
    r=$(LOADGEN_TOKEN=$reader loadgen get --path '/api/v1/events?limit=50')
    pg=; if [ "$BACKEND" = postgres ]; then pg=$(pgbench_run "$WORK/list.sql"); fi
    report "event list, page of 50" "$r" "$pg" 0.40

    : >"$WORK/logins.txt"
    for i in $(seq 1 8); do
        token_for "login$i@bench.example" employee >/dev/null
        echo "login$i@bench.example bench-password-123" >>"$WORK/logins.txt"
    done
    r=$(loadgen login --logins "$WORK/logins.txt")
    report "login" "$r"
    printf '%-9s login ratio to the argon2 ceiling: %.2f\n' "$BACKEND" "$(field "$r" "[\"rps\"] / $ARGON2_CEILING")"
    stop_server
}

main() {
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr);" \
        "$CONNECTIONS connections, $DURATION s per figure after 1 s warm-up; seed scale $SCALE"
    local argon
    argon=$("$LOADGEN" argon2 --seconds 3)
    ARGON2_CEILING=$(field "$argon" "[\"per_second_one_thread\"] * $(nproc)")
    echo "argon2id: $(field "$argon" '["per_second_one_thread"]') verifications/s on one thread; login ceiling $ARGON2_CEILING/s on $(nproc) cores"
    for backend in ${BACKENDS:-postgres sqlite}; do
        if [ "$backend" = postgres ] && ! psql "$ADMIN" -qAtc 'SELECT 1' >/dev/null 2>&1; then
            echo "postgres: skipped ($ADMIN not reachable)"
            continue
        fi
        run_backend "$backend"
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main; fi
