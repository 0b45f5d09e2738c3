#!/usr/bin/env bash
# Property-based API testing with schemathesis against the served OpenAPI document: for each
# role (admin, hr, coordinator, employee) and each database, a fresh seeded instance gets
# generated requests (examples, coverage, fuzzing, stateful links; -n examples per operation)
# and must answer every one without a 5xx and with a body that conforms to the document.
#
#   .ci/schemathesis.sh VENV [POSTGRES_URL]     # called by .ci/run; loopback only
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(realpath "$1")
PG=${2:-}
EXAMPLES=${EXAMPLES:-10}
BIN=$PWD/target/debug/tomoni
PORT=18099
WORK=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    [ -n "$PG" ] && psql "${PG%/*}/postgres" -qc "DROP DATABASE IF EXISTS tomoni_schemathesis WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$VENV/bin/schemathesis" ] || "$VENV/bin/pip" install -q schemathesis
cargo build --quiet

tomoni() { exec env -i PATH="$PATH" HOME="$WORK" TOMONI__DATABASE__URL="$URL" TOMONI__LOG__LEVEL=warn \
    TOMONI__SERVER__PORT="$PORT" TOMONI__DATA__DIR="$WORK/data" TOMONI__MAIL__WORKER_ENABLED=false \
    TOMONI__AUTH__LOGIN_ACCOUNT_BURST=1000 TOMONI__AUTH__LOGIN_ADDRESS_BURST=1000 "$BIN" "$@"; }

run() { # backend role
    local backend=$1 role=$2
    if [ "$backend" = postgres ]; then
        psql "${PG%/*}/postgres" -qc "DROP DATABASE IF EXISTS tomoni_schemathesis WITH (FORCE)" >/dev/null
        URL="${PG%/*}/tomoni_schemathesis"
    else
        rm -rf "$WORK/data" "$WORK"/st.db*
        URL="sqlite://$WORK/st.db"
    fi
    (tomoni seed demo --years 1 --scale 0.01) >/dev/null
    echo "st-password-12345" | (tomoni user create --email "st@example.com" --role "$role" --password-stdin) >/dev/null
    (tomoni serve) >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
    local token
    token=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
        -d '{"email":"st@example.com","password":"st-password-12345"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    echo "--- schemathesis: $backend as $role"
    # From the scratch folder: schemathesis keeps a cache in its working directory.
    (cd "$WORK" && "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api-docs/openapi.json" \
        -H "Authorization: Bearer $token" -c not_a_server_error,response_schema_conformance \
        -n "$EXAMPLES" --request-timeout 10 --seed 1) >"$WORK/report" 2>&1 \
        || { cat "$WORK/report"; exit 1; }
    grep -E "generated" "$WORK/report"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
}

for role in admin hr coordinator employee; do
    run sqlite "$role"
    [ -n "$PG" ] && run postgres "$role"
done
echo "schemathesis: no server errors, every response conforms"
