#!/usr/bin/env bash
# PgBouncer in transaction mode in front of the shared PostgreSQL, on loopback, for running the
# sign-up and mail suites through a connection pooler (`.ci/run`). Every database of the server
# is reachable through it under the same name (`*` entry), with trust auth like the server.
#
#   .ci/pgbouncer.sh up      # write the configuration (once) and start; prints the URL export
#   .ci/pgbouncer.sh down    # stop and delete
#
# TOMONI_PGBOUNCER_DIR (default /tmp/tomoni-pgbouncer), TOMONI_PGBOUNCER_PORT (default 64329) and
# PG_HOST / PG_PORT (default 127.0.0.1:5432) choose where it lives and what it pools.
set -euo pipefail

DIR=${TOMONI_PGBOUNCER_DIR:-/tmp/tomoni-pgbouncer}
PORT=${TOMONI_PGBOUNCER_PORT:-64329}
UPSTREAM_HOST=${PG_HOST:-127.0.0.1}
UPSTREAM_PORT=${PG_PORT:-5432}
BIN=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

# PgBouncer refuses to run as root; as root it runs as the `postgres` user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { [ -f "$DIR/pgbouncer.pid" ] && kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null; }

case "${1:-}" in
up)
    [ -x "$BIN" ] || { echo "pgbouncer is not installed" >&2; exit 1; }
    if ! running; then
        rm -rf "$DIR"
        mkdir -p "$DIR"
        printf '"postgres" ""\n' >"$DIR/users.txt"
        cat >"$DIR/pgbouncer.ini" <<INI
[databases]
* = host=$UPSTREAM_HOST port=$UPSTREAM_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/users.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 10
ignore_startup_parameters = extra_float_digits
pidfile = $DIR/pgbouncer.pid
logfile = $DIR/pgbouncer.log
INI
        [ "$(id -u)" = 0 ] && chown -R postgres: "$DIR"
        as_owner "$BIN" -d "$DIR/pgbouncer.ini"
        for _ in $(seq 1 50); do
            pg_isready -q -h 127.0.0.1 -p "$PORT" 2>/dev/null && break
            sleep 0.2
        done
        pg_isready -q -h 127.0.0.1 -p "$PORT" || { echo "PgBouncer did not come up" >&2; exit 1; }
    fi
    echo "export TOMONI_TEST_PGBOUNCER_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
down)
    if running; then
        kill "$(cat "$DIR/pgbouncer.pid")" || true
        for _ in $(seq 1 50); do running || break; sleep 0.1; done
    fi
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
