#!/usr/bin/env bash
# Install (once) and start everything on SQLite: the web app (daphne), workers and a demo load.
# PORT picks the web port (default 8000); JOBDECK_VAR_DIR where the SQLite file lives (default var/).
# Ctrl-C or SIGTERM stops all three; running jobs get the workers' shutdown grace to finish.
set -euo pipefail
cd "$(dirname "$0")/.."

# Started in the background by another script (`scripts/start.sh &`), this shell inherits SIGINT
# ignored, and bash cannot trap a signal that was ignored when it started: Ctrl-C and `kill -INT`
# would do nothing. Re-run once with SIGINT restored so the traps below apply.
if [ -z "${JOBDECK_START_SIGINT_RESTORED:-}" ] && [ -r /proc/$$/status ] \
    && (( 0x$(awk '/^SigIgn:/ {print $2}' /proc/$$/status) & 2 )); then
  export JOBDECK_START_SIGINT_RESTORED=1
  exec python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    bash scripts/start.sh "$@"
fi
bash scripts/bootstrap.sh requirements.txt
PY=.venv/bin/python
PORT="${PORT:-8000}"
URL="http://127.0.0.1:$PORT/"

"$PY" manage.py migrate --no-input -v 0
created="$("$PY" manage.py shell --no-imports -c '
from django.contrib.auth import get_user_model
User = get_user_model()
if not User.objects.exists():
    User.objects.create_superuser("admin", "admin@localhost", "admin")
    print("created")
')"
if [ "$created" = "created" ]; then
  echo "start: created the demo superuser admin / admin; change its password (manage.py changepassword admin)"
fi

pids=""  # a space-separated list, split on purpose below
stop() {
  trap 'kill -KILL $pids 2>/dev/null || true' INT TERM  # a second Ctrl-C stops at once
  echo "start: stopping (running jobs get up to ${JOBDECK_SHUTDOWN_GRACE_SECONDS:-30} s; Ctrl-C again to force)"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  echo "start: stopped"
}
trap 'stop; exit 129' HUP
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

# set -m gives each child its own process group, so Ctrl-C reaches only this script, which then
# sends SIGTERM: the workers drain (huey treats SIGINT as "stop now") instead of dropping jobs.
set -m
.venv/bin/daphne -b 127.0.0.1 -p "$PORT" project.asgi:application & pids="$pids $!"
"$PY" manage.py runworkers -q default,media -w 4 & pids="$pids $!"
"$PY" manage.py demoload & pids="$pids $!"
set +m

# Say where to go once the web app answers; stop everything if any of the three exits.
ready=0
while :; do
  for pid in $pids; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "start: a process exited unexpectedly (pid $pid); stopping the others" >&2
      stop
      exit 1
    fi
  done
  if [ $ready = 0 ] && "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
      "${URL}admin/login/" >/dev/null 2>&1; then
    ready=1
    echo "start: Jobdeck is running at $URL (admin at ${URL}admin/); Ctrl-C to stop"
  fi
  sleep 1
done
