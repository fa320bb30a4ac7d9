#!/usr/bin/env bash
# Install what the tests need (once), run the linters (ruff, the import contracts, mypy: a failure
# stops the run), then the whole suite: on SQLite always, then again on PostgreSQL + Redis when they
# answer (DATABASE_URL / REDIS_URL, or the local defaults).
# With CI=true or JOBDECK_REQUIRE_SERVICES=1 a missing PostgreSQL or Redis is an error, not a skip.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/engine -x).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh requirements-dev.txt
PY=.venv/bin/python

answers() {  # answers HOST PORT: is something listening there?
  "$PY" -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()' "$1" "$2" 2>/dev/null
}

require=0
if [ "${CI:-}" = "true" ] || [ "${JOBDECK_REQUIRE_SERVICES:-}" = "1" ]; then require=1; fi
pg_url="${DATABASE_URL:-}"
redis_url="${REDIS_URL:-}"
if [ -z "$pg_url" ] && { answers 127.0.0.1 5432 || [ $require = 1 ]; }; then
  pg_url="postgres://postgres@127.0.0.1:5432/postgres"
fi
if [ -z "$redis_url" ] && { answers 127.0.0.1 6379 || [ $require = 1 ]; }; then
  redis_url="redis://127.0.0.1:6379/0"
fi

echo "=== Lint (ruff) ==="
.venv/bin/ruff check jobs dashboard project tests bench
.venv/bin/ruff format --check --quiet jobs dashboard project tests bench
echo "=== Import contracts (lint-imports) ==="
.venv/bin/lint-imports --no-logo
echo "=== Types (mypy) ==="
.venv/bin/mypy

status=0
echo "=== Test suite on SQLite ==="
env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest "$@" || status=$?

if [ -n "$pg_url" ]; then
  echo "=== Test suite on PostgreSQL + Redis ($pg_url, ${redis_url:-no Redis}) ==="
  if [ $require = 1 ] && [ -z "$redis_url" ]; then echo "REDIS_URL is required here" >&2; exit 3; fi
  DATABASE_URL="$pg_url" REDIS_URL="$redis_url" "$PY" -m pytest "$@" || status=$?
elif [ $require = 1 ]; then
  echo "PostgreSQL is required here but DATABASE_URL is unset and 127.0.0.1:5432 does not answer" >&2
  exit 3
else
  echo "=== PostgreSQL not found: ran on SQLite only (set DATABASE_URL to run on PostgreSQL too) ==="
fi
exit $status
