#!/usr/bin/env bash
# A private PostgreSQL cluster that a test may stop and start (the shared server on 5432 serves
# every other test and must stay up). Loopback only, trust auth, its own socket folder.
#
#   .ci/pg-private.sh up      # create (once) and start; prints the TOMONI_TEST_OUTAGE_* exports
#   .ci/pg-private.sh stop    # fast shutdown: open connections are terminated
#   .ci/pg-private.sh start
#   .ci/pg-private.sh down    # stop and delete the cluster
#
# TOMONI_OUTAGE_PG_DIR (default /tmp/tomoni-pg-outage) and TOMONI_OUTAGE_PG_PORT (default 54329)
# choose where it lives. As root, the server runs as the `postgres` user (initdb refuses root).
set -euo pipefail

DIR=${TOMONI_OUTAGE_PG_DIR:-/tmp/tomoni-pg-outage}
PORT=${TOMONI_OUTAGE_PG_PORT:-54329}
SELF=$(realpath "$0")

# shellcheck source=pg-lib.sh
. "$(dirname "$SELF")/pg-lib.sh"

case "${1:-}" in
up)
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
        rm -rf "$DIR"
        mkdir -p "$DIR"
        [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
        as_owner "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --no-sync >/dev/null
        cat >>"$DIR/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
fsync = off
max_connections = 50
EOF
    fi
    running || ctl start >/dev/null
    echo "export TOMONI_TEST_OUTAGE_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    echo "export TOMONI_TEST_OUTAGE_STOP='$SELF stop'"
    echo "export TOMONI_TEST_OUTAGE_START='$SELF start'"
    ;;
stop) running && ctl stop -m fast >/dev/null || true ;;
start) running || ctl start >/dev/null ;;
down)
    running && ctl stop -m immediate >/dev/null || true
    rm -rf "$DIR"
    ;;
*)
    echo "usage: $0 up|stop|start|down" >&2
    exit 2
    ;;
esac
