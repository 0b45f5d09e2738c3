# Shared by the bench/*.sh scripts (source it): a scratch database, the release binary with a
# clean environment, a server on loopback, a token. Loopback only.
#
# Before sourcing, set DB_NAME (the scratch PostgreSQL database) and PORT; EXTRA_ENV may hold
# more VAR=value words for the binary.

BASE=${TOMONI_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ADMIN="${BASE%/*}/postgres"
PG_URL="${BASE%/*}/$DB_NAME"
BIN=$PWD/target/release/tomoni
WORK=$(mktemp -d)
SERVER=

# KEEP_DB=1 keeps the scratch PostgreSQL database (a script that seeds for long may then reuse it).
drop_db() {
    [ "${KEEP_DB:-}" = 1 ] || psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
}

cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    drop_db
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --quiet
drop_db

# The binary on $URL with nothing from the caller's environment. `exec`, so that a backgrounded
# call's $! is the server itself and `kill` reaches it.
tomoni() { exec env -i PATH="$PATH" HOME="$WORK" TOMONI__DATABASE__URL="$URL" TOMONI__LOG__LEVEL=warn \
    TOMONI__DATA__DIR="$WORK/data" TOMONI__SERVER__PORT="$PORT" TOMONI__MAIL__WORKER_ENABLED=false \
    ${EXTRA_ENV:-} "$BIN" "$@"; }

# Starts `tomoni serve` on $URL and waits (bounded) until it is ready; sets SERVER.
start_server() {
    if curl -s "http://127.0.0.1:$PORT/healthz" >/dev/null; then echo "port $PORT is taken" >&2; exit 1; fi
    (tomoni serve) >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return
        sleep 0.1
    done
    echo "the server did not become ready:" >&2; tail -5 "$WORK/server.log" >&2; exit 1
}

stop_server() {
    kill "$SERVER" 2>/dev/null || { echo "server exited early:"; tail -5 "$WORK/server.log"; }
    wait "$SERVER" 2>/dev/null || true
    SERVER=
}

# Creates a user with ROLE and prints an access token for it.
token_for() { # email role
    echo "bench-password-123" | (tomoni user create --email "$1" --role "$2" --password-stdin) >/dev/null
    curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"bench-password-123\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# The last completed fiscal year (April start, named after the year it ends in).
YEAR=$(date -u +%Y)
MONTH=$(date -u +%-m)
LAST_FY=$(( (MONTH >= 4 ? YEAR + 1 : YEAR) - 1 ))
