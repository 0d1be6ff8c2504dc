#!/usr/bin/env bash
# The notification, outbox, scheduler and status-page tests a second time, the way a deployment
# past one machine runs them: tasks on RQ (TASKS_BACKEND=rq) and the cache and rate limits on
# Redis, on PostgreSQL when it answers (else SQLite). Skipped (with a clear line) when no Redis
# answers, except in CI (CI=true), where Redis is required.
# Each xdist process uses its own Redis database: REDIS_DB (default 8) and the next one.
set -euo pipefail
BIN=${1:-.venv/bin}
PG_URL=${2:-postgresql://postgres@127.0.0.1:5432/tideover}
REDIS_URL="redis://127.0.0.1:6379/${REDIS_DB:-8}"
if ! "$BIN/python" - "$REDIS_URL" <<'PY' 2>/dev/null
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()
PY
then
  if [ "${CI:-}" = "true" ]; then
    echo "Redis at $REDIS_URL is unreachable, and CI requires it." >&2
    exit 1
  fi
  echo "SKIPPED: Redis at $REDIS_URL is unreachable; the RQ + Redis pass did not run."
  exit 0
fi
DATABASE=""
if "$BIN/python" - "$PG_URL" <<'PY' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1].rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
PY
then
  DATABASE="$PG_URL"
fi
echo "Running the notification, outbox, scheduler and status-page tests on RQ + Redis ($REDIS_URL) and ${DATABASE:-SQLite}"
export TASKS_BACKEND=rq REDIS_URL
if [ -n "$DATABASE" ]; then export DATABASE_URL="$DATABASE"; fi
"$BIN/pytest" -p xdist -n 2 tideover/notifications tideover/statuspage \
  tideover/core/tests/test_periodic.py tideover/core/tests/test_pruning.py \
  tideover/core/tests/test_worker_processes.py \
  tideover/notifications/tests/test_scale_out.py
