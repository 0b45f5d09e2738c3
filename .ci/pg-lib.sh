# Shared by .ci/pg-private.sh and .ci/pg-replica.sh (sourced, not run): where the PostgreSQL
# server binaries are, and pg_ctl for a data folder $DIR/data run as its owner.

pg_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    # Debian keeps the server binaries out of PATH; take the newest version installed.
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$found" ] || { echo "no PostgreSQL server binaries (initdb) found" >&2; exit 1; }
    echo "$found"
}
BIN=$(pg_bindir)

# As root, the server runs as the `postgres` user (initdb and pg_ctl refuse root).
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ctl() { as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 "$@"; }

running() { as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }
