#!/usr/bin/env bash
# Every benchmark in one run, in the order BENCHMARKS.md lists them: start-up and idle memory,
# HTTP load against pgbench (sign-up, list, login), sign-ups for employees with long histories
# at 1-64 connections against pgbench, the statistics endpoint at 512,525 attendance
# rows against the naive aggregate, the participation export against COPY, the 200,000-row
# import, the web pages against the JSON API, and ten years of history (decade.sh: statistics,
# the whole-history export against COPY, the event list against pgbench). Each script builds the release binary, seeds
# its own scratch databases (SQLite in a
# temporary folder, PostgreSQL at $TOMONI_BENCH_POSTGRES_URL, default the local server) and
# removes them afterwards.
#
#   bench/all.sh 2>&1 | tee bench.log       # ~45 minutes on the 2-core development machine
#
# Only loopback traffic; nothing outside the scratch databases is written.
set -euo pipefail
cd "$(dirname "$0")"
for script in startup load history pages stats export import decade; do
    printf '\n== bench/%s.sh\n' "$script"
    "./$script.sh"
done
