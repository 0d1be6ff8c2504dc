#!/usr/bin/env bash
# Run the whole suite on PostgreSQL. Skipped (with a clear line) when no server answers,
# except in CI (CI=true), where PostgreSQL is required.
set -euo pipefail
BIN=${1:-.venv/bin}
URL=${2:-postgresql://postgres@127.0.0.1:5432/tideover}
if ! "$BIN/python" - "$URL" <<'PY' 2>/dev/null
import sys, psycopg
url = sys.argv[1].rsplit("/", 1)[0] + "/postgres"
psycopg.connect(url, connect_timeout=3).close()
PY
then
  if [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL at $URL is unreachable, and CI requires it." >&2
    exit 1
  fi
  echo "SKIPPED: PostgreSQL at $URL is unreachable; ran the suite on SQLite only."
  exit 0
fi
echo "Running the suite on PostgreSQL ($URL)"
DATABASE_URL="$URL" "$BIN/pytest" -p xdist -n 2
