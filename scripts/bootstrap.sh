#!/usr/bin/env bash
# Make .venv ready for a requirements file: scripts/bootstrap.sh [requirements.txt | requirements-dev.txt]
#
# Finds a Python >= 3.12 (PYTHON if set, then python3.13, python3.12, python3, then pyenv's installs),
# creates .venv with it if missing, and pip-installs the file. Idempotent: the install is skipped when
# the file (and any file it pulls in with -r) is unchanged since the last successful install here.
# Run it, don't source it; start.sh and test.sh call it.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUIREMENTS="${1:-requirements.txt}"
VENV=.venv
VENV_PY="$VENV/bin/python"
CHECK='import sys; sys.exit(sys.version_info < (3, 12))'

[ -f "$REQUIREMENTS" ] || { echo "bootstrap: no such requirements file: $REQUIREMENTS" >&2; exit 2; }

find_python() {  # print the first candidate that actually runs and is >= 3.12
  local candidates=()
  [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
  candidates+=(python3.13 python3.12 python3)
  local roots=("${PYENV_ROOT:-$HOME/.pyenv}")
  command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root 2>/dev/null || true)")
  for root in "${roots[@]}"; do
    for p in "$root"/versions/3.1[2-9]*/bin/python; do
      [ -x "$p" ] && candidates+=("$p")
    done
  done
  for p in "${candidates[@]}"; do
    # Run it: a pyenv shim exists on PATH yet fails unless its version is selected.
    if "$p" -c "$CHECK" >/dev/null 2>&1; then
      command -v "$p"
      return 0
    fi
  done
  return 1
}

if [ -x "$VENV_PY" ]; then
  if ! "$VENV_PY" -c "$CHECK" >/dev/null 2>&1; then
    echo "bootstrap: $VENV exists but its Python is missing or older than 3.12; remove it (rm -rf $VENV) and run again" >&2
    exit 1
  fi
else
  if ! python="$(find_python)"; then
    echo "bootstrap: Jobdeck needs Python 3.12 or newer, and none was found" >&2
    echo "  (tried python3.13, python3.12, python3 and pyenv's versions; set PYTHON=/path/to/python3.12 to choose one)" >&2
    exit 1
  fi
  echo "bootstrap: creating $VENV with $python ($("$python" -c 'import platform; print(platform.python_version())'))"
  "$python" -m venv "$VENV"
fi

# Hash the requirements file and every file it includes with -r, so a change to either reinstalls.
hash="$("$VENV_PY" - "$REQUIREMENTS" <<'EOF'
import hashlib, pathlib, sys

digest, seen = hashlib.sha256(), set()

def feed(path: pathlib.Path) -> None:
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    text = path.read_bytes()
    digest.update(text)
    for line in text.decode().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("-r", "--requirement"):
            feed(path.parent / parts[1])

feed(pathlib.Path(sys.argv[1]))
print(digest.hexdigest())
EOF
)"
stamp="$VENV/.installed-$(basename "$REQUIREMENTS").sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
  exit 0
fi
echo "bootstrap: installing $REQUIREMENTS into $VENV (this can take a minute)"
"$VENV_PY" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
echo "$hash" >"$stamp"
