"""scripts/start.sh stops on SIGINT even when another script started it in the background.

A non-interactive shell starts background commands with SIGINT ignored, and bash cannot trap a
signal ignored at its start; start.sh re-runs itself with SIGINT restored so Ctrl-C and
`kill -INT` stop the web app, the workers and the demo load.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import psutil

from tests.conftest import ROOT, wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigint_stops_start_sh_started_in_the_background_by_a_script(tmp_path: Path) -> None:
    log = tmp_path / "start.log"
    pid_file = tmp_path / "start.pid"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "JOBDECK_SQLITE_PATH")}
    env.update(PORT=str(free_port()), JOBDECK_VAR_DIR=str(tmp_path / "var"), JOBDECK_SHUTDOWN_GRACE_SECONDS="2")
    # `&` in a non-interactive shell: exactly how a CI step or a supervisor script starts it.
    outer = subprocess.Popen(
        ["bash", "-c", f"bash scripts/start.sh > {log} 2>&1 & echo $! > {pid_file}; wait"], cwd=ROOT, env=env
    )
    try:
        wait_until(lambda: "Jobdeck is running" in (log.read_text() if log.exists() else ""), timeout=120)
        start = psutil.Process(int(pid_file.read_text()))
        children = start.children(recursive=True)
        assert children, "start.sh should have started the web app, workers and demo load"
        start.send_signal(signal.SIGINT)
        assert outer.wait(timeout=60) == 0  # the outer shell's `wait` returns once start.sh exited
        assert "start: stopped" in log.read_text()
        gone, alive = psutil.wait_procs(children, timeout=30)
        assert not alive, f"still running after start.sh stopped: {alive}"
    finally:
        if outer.poll() is None:
            outer.kill()
        if pid_file.exists():
            try:
                for proc in psutil.Process(int(pid_file.read_text())).children(recursive=True):
                    proc.kill()
            except psutil.NoSuchProcess:
                pass
