#!/usr/bin/env bash
# The participation import at 200,000 rows: wall time and peak memory of `tomoni import
# participations` (the same code as POST /api/v1/imports/participations), per database.
#
#   bench/import.sh          # ROWS=200000; PostgreSQL at $TOMONI_BENCH_POSTGRES_URL
#
# Seeds `seed demo --scale 0.05` (85 sites, 3,000 employees) into a scratch database, generates a
# deterministic file from its sites and employees — deliberately unfavourable: 3,400 new
# programmes and mostly new one-day events in the last completed fiscal year — and imports it
# under /usr/bin/time -v. Loopback only; the scratch databases are removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
DB_NAME=tomoni_bench_import
PORT=${PORT:-18091}
ROWS=${ROWS:-200000}
. bench/lib.sh

run() { # postgres|sqlite
    local backend=$1 db_file=$WORK/import.db
    if [ "$backend" = postgres ]; then URL=$PG_URL; else URL="sqlite://$db_file"; fi
    (tomoni seed demo --years 1 --scale 0.05) >/dev/null 2>&1
    echo "bench-password-123" | (tomoni user create --email hr@bench.example --role hr --password-stdin) >/dev/null
    if [ "$backend" = postgres ]; then
        psql "$URL" -qAt -F ' ' -c "SELECT code FROM sites ORDER BY code" >"$WORK/sites.txt"
        psql "$URL" -qAt -c "SELECT employee_number FROM users WHERE role = 'employee' ORDER BY employee_number" >"$WORK/people.txt"
    else
        sqlite3 "$db_file" "SELECT code FROM sites ORDER BY code" >"$WORK/sites.txt"
        sqlite3 "$db_file" "SELECT employee_number FROM users WHERE role = 'employee' ORDER BY employee_number" >"$WORK/people.txt"
    fi
    python3 - "$WORK" "$ROWS" "$LAST_FY" <<'PY'
import datetime, random, sys
work, rows, fy = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sites = open(f"{work}/sites.txt").read().split()
people = open(f"{work}/people.txt").read().split()
rng = random.Random(7)
start = datetime.date(fy - 1, 4, 1)
themes = ["nature", "education", "community"]
seen = set()
with open(f"{work}/participations.csv", "w") as f:
    f.write("site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n")
    while len(seen) < rows:
        site = rng.choice(sites)
        program = f"IMP{rng.randrange(40):02d}"
        day = start + datetime.timedelta(days=rng.randrange(365))
        person = rng.choice(people)
        key = (site, program, day, person)
        if key in seen:
            continue
        seen.add(key)
        theme = themes[hash((site, program)) % 3]
        f.write(f"{site},{program},Imported programme {program},{theme},,{day},{person},{rng.choice(['2', '3.5', '7.5'])}\n")
PY
    local size
    size=$(du -h "$WORK/participations.csv" | cut -f1)
    (cd "$WORK" && env -i PATH="$PATH" HOME="$WORK" TOMONI__DATABASE__URL="$URL" TOMONI__LOG__LEVEL=warn \
        TOMONI__DATA__DIR="$WORK/data" /usr/bin/time -v "$BIN" import participations "$WORK/participations.csv" \
        --as hr@bench.example) >"$WORK/import.out" 2>"$WORK/time.txt" || { tail -20 "$WORK/time.txt"; exit 1; }
    printf '%-9s %s rows (%s): %s wall, peak RSS %.0f MiB\n' "$backend" "$ROWS" "$size" \
        "$(awk -F': ' '/Elapsed/ {print $2}' "$WORK/time.txt")" \
        "$(awk -F': ' '/Maximum resident/ {print $2 / 1024}' "$WORK/time.txt")"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
run sqlite
if psql "$ADMIN" -qAtc 'SELECT 1' >/dev/null 2>&1; then run postgres; else echo "postgres: skipped"; fi
