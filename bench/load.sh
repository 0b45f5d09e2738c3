#!/usr/bin/env bash
# HTTP load against the release server on PostgreSQL and SQLite, next to what the database does
# with the same SQL and no HTTP in front (pgbench, same run, same machine):
#
#   - sign-up POST, many events (requests spread over 100 events) and one hot event (every
#     request for the same row; 2,000 seats, waitlist on); zero overbooking checked afterwards
#   - the event list, a page of 50
#   - login (argon2id-bound by design), against the argon2 rate of this machine
#
#   bench/load.sh               # SCALE=1 SECONDS_EACH=5 REPEAT=3 CONNECTIONS=32; PostgreSQL at
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
SCALE=${SCALE:-1}
DURATION=${SECONDS_EACH:-5}
REPEAT=${REPEAT:-3}
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

# 2 x EVENTS published events on separate days from day 200 on (no overlap, so no overlap rule
# refuses a sign-up), plus two hot ones with HOT_SEATS seats. HTTP and pgbench each get their own
# half: sharing the rows, each side's run slowed the other's next round (dead row versions of
# the same 100 events; HTTP fell from 0.53 to 0.24 of pgbench over three rounds).
make_events() {
    local program start id seats
    program=$(api GET "/api/v1/programs?limit=1" | json '["items"][0]["id"]')
    : >"$WORK/events.txt"
    for i in $(seq 0 $((2 * EVENTS + 1))); do
        start=$(date -u -d "+$((200 + i)) days" +%Y-%m-%dT10:00:00Z)
        seats=100000
        [ "$i" -ge $((2 * EVENTS)) ] && seats=$HOT_SEATS
        id=$(api POST /api/v1/events "{\"program_id\":\"$program\",\"starts_at\":\"$start\",
            \"ends_at\":\"${start%T*}T12:00:00Z\",\"capacity\":$seats,\"waitlist_enabled\":true}" | json '["id"]')
        api POST "/api/v1/events/$id/publish" >/dev/null
        echo "$id" >>"$WORK/events.txt"
    done
    HOT=$(sed -n "$((2 * EVENTS + 1))p" "$WORK/events.txt")
}

# Work lists, every line a different (employee, event): "many" walks the events round-robin,
# "hot" is half the employees for one event. HTTP and pgbench get their own lists (pg_*.txt).
make_pairs() {
    sql "SELECT id FROM users WHERE role = 'employee' AND active ORDER BY id" >"$WORK/employees.txt"
    python3 - "$WORK" "$EVENTS" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
emp = open(f"{work}/employees.txt").read().split()
ev = open(f"{work}/events.txt").read().split()
hot, hot_pg = ev[2 * n], ev[2 * n + 1]
def spread(events):
    return [(emp[k % len(emp)], events[(k + k // len(emp)) % n]) for k in range(min(len(emp) * n, 100_000))]
def write(name, rows):
    with open(f"{work}/{name}.txt", "w") as f:
        f.writelines(f"{u} {e}\n" for u, e in rows)
write("many", spread(ev[:n]))
write("pg_many", spread(ev[n : 2 * n]))
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

# Every round starts from the same state: the previous round's dead rows vacuumed and its WAL
# checkpointed, so neither side pays for the other's garbage.
settle() {
    if [ "$BACKEND" = postgres ]; then
        psql "$URL" -qc "VACUUM (ANALYZE) events, signups, outbox" -c "CHECKPOINT" >/dev/null
    fi
}

# Alternates REPEAT HTTP runs with REPEAT pgbench runs of the same work (the machine's speed
# drifts over minutes; alternating keeps both sides under the same drift) and prints medians,
# with the ratio of the median throughputs and the ratio of each round.
measure() { # label http-function [pgbench-script target-ratio]
    local label=$1 run=$2 script=${3:-} target=${4:-}
    : >"$WORK/http.runs"
    : >"$WORK/pg.runs"
    for round in $(seq 0 $((REPEAT - 1))); do
        settle
        "$run" "$round" >>"$WORK/http.runs"
        if [ -n "$script" ] && [ "$BACKEND" = postgres ]; then
            settle
            pgbench_run "$script" >>"$WORK/pg.runs"
        fi
    done
    summarise "$label" "$target" "$WORK/http.runs" "$WORK/pg.runs"
}

# Prints one figure from its runs: loadgen's JSON lines and pgbench's "tps p99" lines.
summarise() { # label target-ratio http-runs pgbench-runs
    python3 - "$BACKEND" "$@" <<'PY2'
import json, statistics as st, sys
backend, label, target, http_file, pg_file = sys.argv[1:]
http = [json.loads(line) for line in open(http_file)]
pg = [line.split() for line in open(pg_file) if line.strip()]
med = lambda xs: st.median(xs)
rps = med([h["rps"] for h in http])
statuses = {}
for h in http:
    for k, v in h["statuses"].items():
        statuses[k] = statuses.get(k, 0) + v
line = f"{backend:<9} {label:<23} {rps:6.0f} req/s  p50 {med([h['p50_ms'] for h in http]):6.2f} ms  p99 {med([h['p99_ms'] for h in http]):6.2f} ms"
if pg:
    tps = med([float(p[0]) for p in pg])
    rounds = " ".join(f"{h['rps']:.0f}/{float(p[0]):.0f}" for h, p in zip(http, pg))
    line += f"  pgbench {tps:5.0f} tps (p99 {med([float(p[1]) for p in pg]):6.2f} ms)  ratio {rps / tps:.2f} (target >= {target}; rounds {rounds})"
print(f"{line}  {statuses}")
PY2
}

# The statements the server sends for one sign-up and for one list page, as log_statement = all
# shows them, without the pool's validation SELECT 1 (twice per request): that is the service's
# own overhead and counts against it. One statement more here than in the server: picking the
# next unused (employee, event) from bench_pairs.
write_pgbench_scripts() {
    cat >"$WORK/signup.sql" <<'SQL'
SELECT user_id AS uid, event_id AS eid, starts_at AS s, ends_at AS e FROM bench_pairs WHERE n = (SELECT nextval('bench_seq')) \gset
SELECT role, site_id, active FROM users WHERE id = :uid LIMIT 1;
BEGIN;
SELECT events.id, events.program_id, events.title, events.description, events.starts_at, events.ends_at, events.timezone, events.location, events.capacity, events.taken, events.waitlisted, events.waitlist_enabled, events.signup_deadline, events.cancel_deadline, events.status, events.created_at, events.updated_at, programs.site_id FROM events INNER JOIN programs ON events.program_id = programs.id WHERE events.id = :eid LIMIT 1;
SELECT 0 AS kind, '' AS title FROM signups WHERE event_id = :eid AND user_id = :uid AND status <> 'cancelled' UNION ALL SELECT 1 AS kind, events.title AS title FROM signups INNER JOIN events ON events.id = signups.event_id WHERE signups.user_id = :uid AND signups.status = 'confirmed' AND signups.event_id <> :eid AND signups.starts_at >= :s::timestamptz - interval '31 days' AND signups.starts_at < :e AND signups.ends_at > :s AND events.status <> 'cancelled' ORDER BY kind LIMIT 1;
WITH seat AS (UPDATE events SET taken = taken + 1, updated_at = now() WHERE id = :eid AND status = 'published' AND (capacity IS NULL OR taken < capacity) RETURNING 1) SELECT count(*) AS seated FROM seat \gset
\if :seated
INSERT INTO signups (id, event_id, user_id, status, waitlist_position, forced, created_by, created_at, updated_at, starts_at, ends_at) VALUES (gen_random_uuid(), :eid, :uid, 'confirmed', NULL, false, :uid, now(), now(), :s, :e);
\else
UPDATE events SET waitlisted = waitlisted + 1, updated_at = now() WHERE id = :eid RETURNING waitlisted AS pos \gset
INSERT INTO signups (id, event_id, user_id, status, waitlist_position, forced, created_by, created_at, updated_at, starts_at, ends_at) VALUES (gen_random_uuid(), :eid, :uid, 'waitlisted', :pos, false, :uid, now(), now(), :s, :e);
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

http_many() { loadgen signup --secret "$SECRET" --database "$URL" --pairs "$WORK/many.$1"; }
http_hot() { loadgen signup --secret "$SECRET" --database "$URL" --pairs "$WORK/hot.$1"; }
http_list() { LOADGEN_TOKEN=$READER_TOKEN loadgen get --path '/api/v1/events?limit=50'; }
http_login() { loadgen login --logins "$WORK/logins.txt"; }

run_backend() { # postgres|sqlite
    setup_backend "$1"
    # One slice of each work list per round, so that no round repeats a pair.
    for list in many hot; do split -n "l/$REPEAT" -d -a 1 "$WORK/$list.txt" "$WORK/$list."; done
    write_pgbench_scripts
    [ "$BACKEND" = postgres ] && load_pairs "$WORK/pg_many.txt"
    measure "sign-up, many events" http_many "$WORK/signup.sql" 0.50
    [ "$BACKEND" = postgres ] && load_pairs "$WORK/pg_hot.txt"
    measure "sign-up, one hot event" http_hot "$WORK/signup.sql" 0.50
    printf '%-9s overbooked events or counters off their rows: %s of %s events; the hot one: %s\n' "$BACKEND" \
        "$(overbooking)" "$(sql 'SELECT count(*) FROM events')" \
        "$(sql "SELECT capacity || ' seats, ' || taken || ' taken, ' || waitlisted || ' waitlisted' FROM events WHERE id = '$HOT'")"

    READER_TOKEN=$(token_for "reader@bench.example" employee)
    READER_ID=$(sql "SELECT id FROM users WHERE email = 'reader@bench.example'")
    write_pgbench_scripts
    measure "event list, page of 50 (list cache on, the default)" http_list "$WORK/list.sql" 0.40

    : >"$WORK/logins.txt"
    for i in $(seq 1 8); do
        token_for "login$i@bench.example" employee >/dev/null
        echo "login$i@bench.example bench-password-123" >>"$WORK/logins.txt"
    done
    measure "login" http_login
    printf '%-9s login ratio to the argon2 ceiling (%s/s): %.2f\n' "$BACKEND" "$ARGON2_CEILING" \
        "$(python3 -c "import json,statistics as s; print(s.median(json.loads(l)['rps'] for l in open('$WORK/http.runs')) / $ARGON2_CEILING)")"
    stop_server
}

main() {
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr);" \
        "$CONNECTIONS connections; $REPEAT rounds of $DURATION s (after 1 s warm-up) per figure, HTTP and pgbench alternating; seed scale $SCALE"
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
