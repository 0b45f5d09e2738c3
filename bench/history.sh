#!/usr/bin/env bash
# Sign-up throughput as employees' histories grow: the same sign-up, for employees with 0, 100
# and 500 earlier sign-ups spread over nine years of past events, at 1, 8, 32 and 64
# connections, next to pgbench running the same statements on the same kind of data (its own
# employees and events, same history), on PostgreSQL; the HTTP figures on SQLite too.
#
#   bench/history.sh                  # SECONDS_EACH=4 REPEAT=2; both backends
#   BACKENDS=postgres bench/history.sh
#   LEVELS="8 32" HISTORIES="0 500" bench/history.sh
#   DEFAULTS=1 bench/history.sh       # the server as a user runs it: see below
#
# By default the server is tuned for measuring (mail worker off, warn-level logs). DEFAULTS=1
# runs it as a user would: the mail worker on, delivering every confirmation over SMTP to a sink
# this script starts on loopback (it accepts and discards), and info-level logs (a line per
# request, to the server's log file).
#
# Every request is a new (employee, event) pair over 2,000 upcoming events 3 h long and 4 h apart,
# each employee's events in shuffled order, so no overlap rule refuses one and the sign-ups a
# run adds are spread over a year. Every run (HTTP or pgbench) starts from the same database:
# the one written for its history depth, copied before the first run and put back before each
# (PostgreSQL: CREATE DATABASE ... TEMPLATE with STRATEGY FILE_COPY, which copies the files
# instead of writing the whole copy to the WAL; SQLite: the file). Without that the sign-ups of
# earlier runs stay: a few runs in, each employee has several upcoming sign-ups a day, far
# denser than a real employee's, and whichever run comes later pays for them. KEEP_RUNS=1 keeps
# them (the database grows run by run, as before session 17). The connection levels are also
# interleaved, below. Loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The measuring functions (measure, summarise, pgbench_run, loadgen, settle, sql, the pgbench sign-up
# script) are load.sh's.
# shellcheck source=bench/load.sh
. bench/load.sh
DURATION=${SECONDS_EACH:-4}
REPEAT=${REPEAT:-2}
PER_GROUP=64
FUTURE=2000
PAST=20000

# Companies, a site, a programme, PER_GROUP employees per history depth and per side (HTTP or
# pgbench), PAST past events with the histories on them, and FUTURE upcoming events per side.
# Written as plain INSERTs that both databases read (ids as UUID text, instants as tomoni's
# fixed-width UTC text).
history_sql() {
    python3 - "$HISTORIES" "$PER_GROUP" "$FUTURE" "$PAST" "$WORK" <<'PY'
import random, sys, datetime as dt
histories = [int(h) for h in sys.argv[1].split()]
per, future, past, work = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = random.Random(1)
def uid(kind, n): return f"00000000-0000-7000-{kind:04x}-{n:012x}"
def ts(t): return t.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
now = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
stamp = ts(now)
out = [
    f"INSERT INTO companies (id, code, name, country, created_at, updated_at) VALUES ('{uid(1,1)}', 'HG', 'History group', 'JP', '{stamp}', '{stamp}');",
    f"INSERT INTO sites (id, code, name, company_id, country, region, timezone, opened_on, created_at, updated_at) VALUES ('{uid(1,2)}', 'HS', 'History site', '{uid(1,1)}', 'JP', 'domestic', 'UTC', '2000-01-01', '{stamp}', '{stamp}');",
    f"INSERT INTO programs (id, site_id, code, title, theme, created_at, updated_at) VALUES ('{uid(1,3)}', '{uid(1,2)}', 'HP', 'History programme', 'nature', '{stamp}', '{stamp}');",
]
def rows(table, cols, values):
    for i in range(0, len(values), 500):
        out.append(f"INSERT INTO {table} ({cols}) VALUES " + ", ".join(values[i:i + 500]) + ";")
# Employees: group g (a history depth) on side s (0 HTTP, 1 pgbench).
users, groups = [], {}
for gi, h in enumerate(histories):
    for side in (0, 1):
        ids = [uid(0x10 + gi * 2 + side, n) for n in range(per)]
        groups[(h, side)] = ids
        users += [f"('{u}', 'H{gi}{side}-{n}', 'h{gi}{side}.{n}@bench.example', 'History {h}/{n}', '{uid(1,2)}', 'employee', '{stamp}', '{stamp}')" for n, u in enumerate(ids)]
rows("users", "id, employee_number, email, display_name, site_id, role, created_at, updated_at", users)
# Past events: PAST events 3 h long and 4 h apart, ending a week ago (about nine years).
first_past = now - dt.timedelta(days=7) - dt.timedelta(hours=4 * past)
past_events = [(uid(0x20, n), first_past + dt.timedelta(hours=4 * n)) for n in range(past)]
taken = [0] * past
signups = []
for (h, side), ids in groups.items():
    for u in ids:
        for n in rng.sample(range(past), h):
            e, start = past_events[n]
            taken[n] += 1
            signups.append(f"('{uid(0x30, len(signups))}', '{e}', '{u}', 'confirmed', false, '{u}', '{ts(start)}', '{ts(start)}', '{ts(start)}', '{ts(start + dt.timedelta(hours=3))}')")
rows("events", "id, program_id, title, starts_at, ends_at, timezone, capacity, taken, status, created_at, updated_at, starts_on",
     [f"('{e}', '{uid(1,3)}', 'Past {n}', '{ts(s)}', '{ts(s + dt.timedelta(hours=3))}', 'UTC', NULL, {taken[n]}, 'completed', '{stamp}', '{stamp}', '{s.date()}')"
      for n, (e, s) in enumerate(past_events)])
rows("signups", "id, event_id, user_id, status, forced, created_by, created_at, updated_at, starts_at, ends_at", signups)
# Upcoming events, capacity 50 (never reached), one set per side, from 30 days on.
first = now + dt.timedelta(days=30)
upcoming = {}
for side in (0, 1):
    ids = [uid(0x40 + side, n) for n in range(future)]
    upcoming[side] = ids
    rows("events", "id, program_id, title, starts_at, ends_at, timezone, capacity, status, created_at, updated_at, starts_on",
         [f"('{e}', '{uid(1,3)}', 'Upcoming {side}/{n}', '{ts(first + dt.timedelta(hours=4 * n))}', '{ts(first + dt.timedelta(hours=4 * n + 3))}', 'UTC', 50, 'published', '{stamp}', '{stamp}', '{(first + dt.timedelta(hours=4 * n)).date()}')"
          for n, e in enumerate(ids)])
open(f"{work}/history.sql", "w").write("\n".join(out) + "\n")
# Work lists per depth and side: employees round-robin, each walking its own shuffled events.
for (h, side), ids in groups.items():
    orders = {u: rng.sample(upcoming[side], future) for u in ids}
    with open(f"{work}/pairs_{h}_{side}.txt", "w") as f:
        for k in range(future):
            for u in ids:
                f.write(f"{u} {orders[u][k]}\n")
PY
}

setup_history() { # postgres|sqlite
    BACKEND=$1
    if [ "$BACKEND" = postgres ]; then
        URL=$PG_URL
        psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1
    else
        SQLITE_FILE=$WORK/history.db
        rm -f "$SQLITE_FILE"*
        URL="sqlite://$SQLITE_FILE"
    fi
    (tomoni migrate) >/dev/null 2>&1
    if [ "$BACKEND" = postgres ]; then
        psql "$URL" -q -v ON_ERROR_STOP=1 -f "$WORK/history.sql" >/dev/null
        psql "$URL" -qc "VACUUM ANALYZE" >/dev/null
    else
        sqlite3 "$SQLITE_FILE" ".read $WORK/history.sql" "ANALYZE"
    fi
    start_server
}

# The database as written for a depth, kept aside (server stopped) so that every run can start
# from it.
snapshot() {
    [ "${KEEP_RUNS:-0}" = 1 ] && return
    stop_server
    if [ "$BACKEND" = postgres ]; then
        psql "$ADMIN" -qc "DROP DATABASE IF EXISTS ${DB_NAME}_snap" -c "CREATE DATABASE ${DB_NAME}_snap TEMPLATE $DB_NAME STRATEGY FILE_COPY" >/dev/null
    else
        sqlite3 "$SQLITE_FILE" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
        cp "$SQLITE_FILE" "$WORK/history.snap"
    fi
    start_server
}

# Puts the kept database back and restarts the server on it.
restore() {
    [ "${KEEP_RUNS:-0}" = 1 ] && return
    stop_server
    if [ "$BACKEND" = postgres ]; then
        psql "$ADMIN" -qc "DROP DATABASE $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME TEMPLATE ${DB_NAME}_snap STRATEGY FILE_COPY" >/dev/null
    else
        rm -f "$SQLITE_FILE"*
        cp "$WORK/history.snap" "$SQLITE_FILE"
    fi
    start_server
}

# One list of pairs per round and connection level, so that no request repeats a pair.
slice_pairs() { # depth
    local n=$(( ${#LEVEL_LIST[@]} * REPEAT ))
    split -n "l/$n" -d -a 2 "$WORK/pairs_$1_0.txt" "$WORK/h_$1_0."
    [ "$BACKEND" = postgres ] && split -n "l/$n" -d -a 2 "$WORK/pairs_$1_1.txt" "$WORK/h_$1_1."
    SLICE=0
}

http_history() { # round
    local file
    file=$(printf '%s/h_%s_0.%02d' "$WORK" "$DEPTH" "$SLICE")
    SLICE=$((SLICE + 1))
    loadgen signup --secret "$SECRET" --database "$URL" --pairs "$file"
}

run_history() { # postgres|sqlite
    setup_history "$1"
    printf '%-9s history rows: %s sign-ups on %s events\n' "$BACKEND" \
        "$(sql 'SELECT count(*) FROM signups')" "$(sql 'SELECT count(*) FROM events')"
    write_pgbench_scripts
    local levels_back=() round order
    for (( i = ${#LEVEL_LIST[@]} - 1; i >= 0; i-- )); do levels_back+=("${LEVEL_LIST[i]}"); done
    local depths=0
    for DEPTH in $HISTORIES; do
        # From the second depth on, back to the starting database first, so that this depth's
        # copy does not carry the previous depth's last run (its sign-ups and queued mail).
        (( depths++ > 0 )) && restore
        slice_pairs "$DEPTH"
        if [ "$BACKEND" = postgres ]; then
            # pgbench walks the same kind of pairs on its own employees and events, each run
            # taking the next ones (bench_seq), so no pair repeats.
            cat "$WORK/h_${DEPTH}_1."* >"$WORK/pg_pairs.txt"
            load_pairs "$WORK/pg_pairs.txt"
        fi
        snapshot
        for CONNECTIONS in "${LEVEL_LIST[@]}"; do : >"$WORK/http.$CONNECTIONS.runs"; : >"$WORK/pg.$CONNECTIONS.runs"; done
        # Rounds outside, connection levels inside, every other round in reverse order: the
        # machine drifts over minutes, and with KEEP_RUNS=1 the database grows run by run (on
        # SQLite the same level measured three times in a row gave 1,683 / 1,523 / 1,520 req/s),
        # so a level always measured after the others would pay for the drift.
        for round in $(seq 0 $((REPEAT - 1))); do
            if (( round % 2 == 0 )); then order=("${LEVEL_LIST[@]}"); else order=("${levels_back[@]}"); fi
            for CONNECTIONS in "${order[@]}"; do
                restore
                settle
                http_history "$round" >>"$WORK/http.$CONNECTIONS.runs"
                if [ "$BACKEND" = postgres ]; then
                    restore
                    settle
                    pgbench_run "$WORK/signup.sql" >>"$WORK/pg.$CONNECTIONS.runs"
                fi
            done
        done
        for CONNECTIONS in "${LEVEL_LIST[@]}"; do
            summarise "history $DEPTH, $CONNECTIONS conn" 0.50 "$WORK/http.$CONNECTIONS.runs" "$WORK/pg.$CONNECTIONS.runs"
        done
    done
    if [ "${DEFAULTS:-0}" = 1 ]; then
        # The queue one HTTP run leaves, from the restored database: on PostgreSQL the last run
        # was pgbench's, whose stand-in messages name no real sign-up and are never delivered.
        restore
        settle
        SLICE=0
        http_history 0 >/dev/null
        drain_mail
    fi
    stop_server
    return 0
}

SINK=
history_cleanup() {
    [ -n "$SINK" ] && kill "$SINK" 2>/dev/null
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS ${DB_NAME}_snap WITH (FORCE)" >/dev/null 2>&1
    cleanup
}
trap history_cleanup EXIT

# With the mail worker on: how long the queue of confirmations the runs left takes to go out
# once the load has stopped (bounded: five minutes).
drain_mail() {
    local queued start left
    queued=$(sql "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
    start=$(date +%s.%N)
    for _ in $(seq 3000); do
        left=$(sql "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    printf '%-9s mail queue after the runs: %s messages, drained in %.1f s (%s left)\n' "$BACKEND" \
        "$queued" "$(echo "$(date +%s.%N) - $start" | bc -l)" "$left"
}

# An SMTP server on loopback that accepts every message and keeps none; sets SINK_PORT.
start_smtp_sink() {
    python3 - "$WORK/smtp.port" <<'PY' >"$WORK/smtp.log" 2>&1 &
import asyncio, sys

received = 0

async def session(reader, writer):
    global received
    writer.write(b"220 sink ESMTP\r\n")
    data = False
    while line := await reader.readline():
        if data:
            if line in (b".\r\n", b".\n"):
                data = False
                received += 1
                open(sys.argv[1] + ".received", "w").write(str(received))
                writer.write(b"250 2.0.0 queued\r\n")
            continue
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            writer.write(b"250-sink\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            data = True
            writer.write(b"354 go ahead\r\n")
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            break
        else:
            writer.write(b"250 2.0.0 ok\r\n")
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    open(sys.argv[1], "w").write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
PY
    SINK=$!
    for _ in $(seq 50); do [ -s "$WORK/smtp.port" ] && break; sleep 0.1; done
    [ -s "$WORK/smtp.port" ] || { echo "the SMTP sink did not start" >&2; exit 1; }
    SINK_PORT=$(cat "$WORK/smtp.port")
}

history_main() {
    HISTORIES=${HISTORIES:-0 100 500}
    if [ "${DEFAULTS:-0}" = 1 ]; then
        start_smtp_sink
        EXTRA_ENV="$EXTRA_ENV TOMONI__LOG__LEVEL=info TOMONI__MAIL__WORKER_ENABLED=true \
TOMONI__MAIL__TRANSPORT=smtp TOMONI__MAIL__SMTP__HOST=127.0.0.1 TOMONI__MAIL__SMTP__PORT=$SINK_PORT \
TOMONI__MAIL__SMTP__TLS=none"
        echo "server as a user runs it: mail worker on (SMTP to a sink on port $SINK_PORT), info-level logs"
    fi
    read -r -a LEVEL_LIST <<<"${LEVELS:-1 8 32 64}"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr);" \
        "histories ${HISTORIES// /\/} earlier sign-ups; connections ${LEVEL_LIST[*]}; $REPEAT rounds of $DURATION s per figure, HTTP and pgbench alternating"
    history_sql
    for backend in ${BACKENDS:-postgres sqlite}; do
        run_history "$backend"
    done
    if [ "${DEFAULTS:-0}" = 1 ]; then
        echo "the SMTP sink received $(cat "$WORK/smtp.port.received" 2>/dev/null || echo 0) messages"
    fi
}

history_main
