#!/usr/bin/env bash
# `make test`: the suite on SQLite, then on PostgreSQL, then the delivery tests on RQ + Redis,
# each run even when one before it failed, then one report of all three. Exit status 0 only
# when none failed (a part skipped for want of its server is reported as skipped; in CI the
# scripts make that a failure).
set -uo pipefail
BIN=${1:-.venv/bin}
URL=${2:-postgresql://postgres@127.0.0.1:5432/tideover}
SQLITE_CMD=${TEST_SQLITE_CMD:-"$BIN/pytest -p xdist -n 2"}
POSTGRES_CMD=${TEST_POSTGRES_CMD:-"scripts/test-postgres.sh $BIN $URL"}
RQ_CMD=${TEST_RQ_CMD:-"scripts/test-rq.sh $BIN $URL"}
log=$(mktemp)
rq_log=$(mktemp)
trap 'rm -f "$log" "$rq_log"' EXIT

$SQLITE_CMD
sqlite=$?
$POSTGRES_CMD 2>&1 | tee "$log"
postgres=${PIPESTATUS[0]}
$RQ_CMD 2>&1 | tee "$rq_log"
rq=${PIPESTATUS[0]}

word() { if [ "$1" -eq 0 ]; then echo passed; else echo "FAILED (exit $1)"; fi; }
pg_word=$(word "$postgres")
if [ "$postgres" -eq 0 ] && grep -q '^SKIPPED: PostgreSQL' "$log"; then pg_word="skipped (no server)"; fi
rq_word=$(word "$rq")
if [ "$rq" -eq 0 ] && grep -q '^SKIPPED: Redis' "$rq_log"; then rq_word="skipped (no Redis)"; fi
echo
echo "== make test: SQLite $(word "$sqlite"); PostgreSQL $pg_word; RQ + Redis $rq_word"
[ "$sqlite" -eq 0 ] && [ "$postgres" -eq 0 ] && [ "$rq" -eq 0 ]
