#!/usr/bin/env bash
# A streaming replica of the private PostgreSQL cluster (`.ci/pg-private.sh`), made with
# pg_basebackup, for the read-replica test. Loopback only, trust auth, its own socket folder.
#
#   .ci/pg-replica.sh up      # copy the primary (anew unless running), start; prints the exports
#   .ci/pg-replica.sh stop    # fast shutdown
#   .ci/pg-replica.sh start
#   .ci/pg-replica.sh down    # stop and delete the copy
#
# TOMONI_REPLICA_PG_DIR (default /tmp/tomoni-pg-replica) and TOMONI_REPLICA_PG_PORT (default
# 54330) choose where it lives; TOMONI_OUTAGE_PG_PORT (default 54329) is the primary's port.
set -euo pipefail

DIR=${TOMONI_REPLICA_PG_DIR:-/tmp/tomoni-pg-replica}
PORT=${TOMONI_REPLICA_PG_PORT:-54330}
PRIMARY_PORT=${TOMONI_OUTAGE_PG_PORT:-54329}
SELF=$(realpath "$0")

# shellcheck source=pg-lib.sh
. "$(dirname "$SELF")/pg-lib.sh"

case "${1:-}" in
up)
    # A copy that is not running may be of an earlier primary (an interrupted run): made anew.
    if ! running; then
        rm -rf "$DIR"
        mkdir -p "$DIR"
        [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
        # -R writes primary_conninfo and standby.signal: the copy starts as a streaming standby.
        as_owner "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
            -D "$DIR/data" -R -X stream --no-sync >/dev/null
        cat >>"$DIR/data/postgresql.conf" <<CONF
port = $PORT
unix_socket_directories = '$DIR'
hot_standby = on
CONF
        ctl start >/dev/null
    fi
    echo "export TOMONI_TEST_REPLICA_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
    echo "export TOMONI_TEST_REPLICA_STOP='$SELF stop'"
    echo "export TOMONI_TEST_REPLICA_START='$SELF start'"
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
