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
sqlite_pass() { env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest "$@"; }
pg_pass() { DATABASE_URL="$pg_url" REDIS_URL="$redis_url" "$PY" -m pytest "$@"; }
UNIGNORE_SIGINT_THEN_PYTEST='import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[1:]])'
pg_title="=== Test suite on PostgreSQL + Redis ($pg_url, ${redis_url:-no Redis}) ==="

if [ -n "$pg_url" ] && [ $require = 1 ] && [ -z "$redis_url" ]; then echo "REDIS_URL is required here" >&2; exit 3; fi
if [ -z "$pg_url" ] && [ $require = 1 ]; then
  echo "PostgreSQL is required here but DATABASE_URL is unset and 127.0.0.1:5432 does not answer" >&2
  exit 3
fi

if [ -n "$pg_url" ] && [ "${JOBDECK_SERIAL_PASSES:-}" != "1" ]; then
  # Both passes at once (JOBDECK_SERIAL_PASSES=1: one after the other). They share nothing: SQLite's
  # test file, PostgreSQL's test_jobdeck_<pid> database, Redis only on the second, free ports picked
  # per server. Most of a pass is waiting on worker, daphne and browser processes, so on two cores
  # the two overlap well. The PostgreSQL pass runs in a session of its own (setsid) so an interrupted
  # run stops it together with the workers, servers and browsers it started; its output follows
  # the SQLite pass's.
  pg_log="$(mktemp "${TMPDIR:-/tmp}/jobdeck-pg-pass.XXXXXX")"
  # A background command starts with SIGINT ignored, and the tests stop their workers with SIGINT:
  # give it back its default before pytest starts.
  DATABASE_URL="$pg_url" REDIS_URL="$redis_url" setsid -w "$PY" -c "$UNIGNORE_SIGINT_THEN_PYTEST" "$@" >"$pg_log" 2>&1 &
  pg_pid=$!
  # Stopped early (Ctrl-C, a failed step): the PostgreSQL pass gets the SIGINT a terminal would have sent
  # it, so it stops its workers and drops its test database as a foreground run does.
  trap 'kill -INT -- "-$pg_pid" 2>/dev/null && wait "$pg_pid" 2>/dev/null; rm -f "$pg_log"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  echo "=== Test suite on SQLite (PostgreSQL's pass runs alongside: $pg_log) ==="
  sqlite_pass "$@" || status=$?
  pg_status=0
  wait "$pg_pid" || pg_status=$?
  trap - EXIT
  echo "$pg_title"
  cat "$pg_log"
  rm -f "$pg_log"
  [ $pg_status = 0 ] || status=$pg_status
  exit $status
fi

echo "=== Test suite on SQLite ==="
sqlite_pass "$@" || status=$?
if [ -n "$pg_url" ]; then
  echo "$pg_title"
  pg_pass "$@" || status=$?
else
  echo "=== PostgreSQL not found: ran on SQLite only (set DATABASE_URL to run on PostgreSQL too) ==="
fi
exit $status
