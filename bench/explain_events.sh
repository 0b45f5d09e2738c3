#!/usr/bin/env bash
# EXPLAIN ANALYZE of the event-list query shapes on a scratch PostgreSQL database filled with
# 1,700 sites, 3,000 programmes and 200,000 events over 6.5 years.
#
#   bench/explain_events.sh     # uses $TOMONI_BENCH_POSTGRES_URL's server (default: loopback)
#
# The SELECTs mirror what src/programs/events.rs::list builds for each filter set. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${TOMONI_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ADMIN="${BASE%/*}/postgres"
DB="${BASE%/*}/tomoni_explain"

cargo build --release --quiet
psql "$ADMIN" -qc "DROP DATABASE IF EXISTS tomoni_explain WITH (FORCE)"
env -i PATH="$PATH" TOMONI__DATABASE__URL="$DB" TOMONI__LOG__LEVEL=warn target/release/tomoni migrate
psql "$DB" -q <<'SQL'
INSERT INTO companies VALUES ('00000000-0000-7000-8000-000000000001','C','C','JP',now(),now());
INSERT INTO sites SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g),12,'0'))::uuid, 'S'||g, 'Site '||g,
  '00000000-0000-7000-8000-000000000001', 'JP', CASE WHEN g%5=0 THEN 'overseas' ELSE 'domestic' END,
  'Asia/Tokyo', '2000-01-01', NULL, now(), now() FROM generate_series(1,1700) g;
INSERT INTO programs SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(g),12,'0'))::uuid,
  ('00000000-0000-7000-8000-' || lpad(to_hex(1+g%1700),12,'0'))::uuid, 'P'||g, 'Programme '||g, '',
  (ARRAY['nature','education','community'])[1+g%3], NULL, 'active', now(), now() FROM generate_series(1,3000) g;
INSERT INTO program_categories SELECT id, 'biodiversity' FROM programs WHERE random() < 0.2;
INSERT INTO events (id, program_id, title, description, starts_at, ends_at, timezone, location, capacity,
  taken, waitlisted, waitlist_enabled, status, created_at, updated_at)
SELECT gen_random_uuid(), ('00000000-0000-7000-9000-' || lpad(to_hex(1+g%3000),12,'0'))::uuid, 'Event '||g, '',
  t, t + interval '3 hours', 'Asia/Tokyo', '', 20, g%21, 0, true,
  CASE WHEN g%10=0 THEN 'draft' WHEN g%17=0 THEN 'cancelled' ELSE 'published' END, now(), now()
FROM (SELECT g, now() - interval '5 years' + g * interval '17 minutes' AS t FROM generate_series(1,200000) g) x;
ANALYZE;
SQL

q() {
    echo "=== $1"
    psql "$DB" -qAt -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
      SELECT events.id, programs.site_id FROM events INNER JOIN programs ON events.program_id = programs.id
      WHERE events.status = 'published' AND events.ends_at > now()
        AND events.starts_at > now() - interval '31 days' $2
      ORDER BY events.starts_at, events.id LIMIT 51" | grep -E 'Index|Seq Scan|Sort Method|Execution Time'
}
q "default page" ""
q "site" "AND programs.site_id = '00000000-0000-7000-8000-000000000007'"
q "category" "AND events.program_id IN (SELECT program_id FROM program_categories WHERE category = 'biodiversity')"
q "free seats + region" "AND (events.capacity IS NULL OR events.taken < events.capacity)
      AND programs.site_id IN (SELECT id FROM sites WHERE region = 'overseas')"
q "company" "AND programs.site_id IN (SELECT id FROM sites WHERE company_id = '00000000-0000-7000-8000-000000000001')"
q "keyset page" "AND events.starts_at >= now() + interval '10 days'
      AND (events.starts_at > now() + interval '10 days'
      OR (events.starts_at = now() + interval '10 days' AND events.id > '00000000-0000-0000-0000-000000000000'))"
q "theme + title text" "AND programs.theme = 'nature' AND lower(events.title) LIKE '%event 1%'"
q "title text, rare word" "AND lower(events.title) LIKE '%event 123456%'"
psql "$ADMIN" -qc "DROP DATABASE tomoni_explain WITH (FORCE)"
