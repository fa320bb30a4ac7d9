"""manage.py workerhealth: the worker liveness probe against a real worker (alive, stopped, killed -9)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, wait_until, worker_env

pytestmark = pytest.mark.workers


def probe(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the probe as a kubelet or a systemd timer would: its own process, the workers' settings."""
    return subprocess.run(
        [sys.executable, "manage.py", "workerhealth", *args],
        cwd=ROOT,
        env=worker_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_running_worker_is_alive_by_name_and_by_host(start_workers) -> None:
    start_workers("-w", "1", "--name", "probe-1")

    by_name, by_host = probe("--name", "probe-1"), probe()

    assert (by_name.returncode, by_name.stderr) == (0, "")
    assert by_name.stdout.startswith("worker probe-1 is alive (heard from ")
    assert (by_host.returncode, by_host.stderr) == (0, "")
    assert by_host.stdout.startswith("worker probe-1 is alive")


def test_a_worker_stopped_by_sigterm_is_not_alive(start_workers) -> None:
    worker = start_workers("-w", "1", "--name", "probe-1")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0

    result = probe("--name", "probe-1")

    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: worker probe-1 stopped ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_worker_killed_with_sigkill_is_not_alive_once_a_lease_has_passed(start_workers) -> None:
    worker = start_workers("-w", "1", "--name", "probe-1")
    worker.signal(signal.SIGKILL)
    worker.wait()

    # The worker row stays unstopped; it becomes gone when its heartbeat is a lease old (2 s here).
    result = wait_until(lambda: (r := probe("--name", "probe-1")).returncode != 0 and r, timeout=30)

    assert result.returncode == 1
    assert result.stderr.startswith("CommandError: worker probe-1 silent for ")
    assert "longer than a lease (2s): killed or hung" in result.stderr


def test_no_worker_is_not_alive(transactional_db: None) -> None:
    by_name, by_host = probe("--name", "nobody"), probe()

    assert (by_name.returncode, by_name.stderr) == (1, "CommandError: no worker named 'nobody'\n")
    assert by_host.returncode == 1
    assert by_host.stderr.startswith("CommandError: no worker on host ")


def test_an_unreachable_database_exits_3_with_one_line(transactional_db: None) -> None:
    result = probe(DATABASE_URL="postgres://postgres@127.0.0.1:9/none")

    assert result.returncode == 3
    assert result.stderr.startswith("CommandError: database unreachable: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_name_is_one_line_and_status_2() -> None:
    result = probe("--name", "no spaces")

    assert result.returncode == 2
    assert result.stderr.startswith("manage.py workerhealth: error: argument --name: invalid worker name")
