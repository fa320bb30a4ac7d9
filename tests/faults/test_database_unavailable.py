"""Fault tests: a full disk and a held write lock, against a real daphne on its own SQLite file.

Expected: API writes answer 503 JSON with Retry-After within a few seconds (never a 500 page, never
a 20 s hang), reads keep working, nothing accepted is lost, the CLI prints one line and exits
non-zero, and /health says why.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, wait_until

pytestmark = pytest.mark.workers
REQUEST_TIMEOUT = 15  # a bound, not a measurement: the old behaviour hung 20 s (the busy timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    """A fresh SQLite database at `db_path`, migrated, with a user and tokens, and a daphne serving it."""

    def __init__(self, db_path: Path, log_dir: Path) -> None:
        self.db_path = db_path
        self.log_dir = log_dir
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        self.env.update(
            JOBDECK_SQLITE_PATH=str(db_path),
            DJANGO_SUPERUSER_PASSWORD="pw-root-123",
            JOBDECK_MIN_FREE_DISK_MB="1",
            PYTHONUNBUFFERED="1",
        )
        self.manage("migrate", "--noinput")
        self.manage("createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com")

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def token(self) -> str:
        return self.manage("createapitoken", "root", "--quiet").stdout.strip()

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        port = free_port()
        log_path = self.log_dir / f"daphne-{port}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:

                def answers() -> bool:
                    assert proc.poll() is None, log_path.read_text()
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    except OSError:
                        return False
                    return True

                wait_until(answers, timeout=30, message="daphne did not start")
                yield f"http://127.0.0.1:{port}"
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.log = log_path.read_text()

    def job_ids(self) -> set[int]:
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as conn:
            return {row[0] for row in conn.execute("SELECT id FROM jobs_job")}


def call(base: str, method: str, path: str, body: Any = None, *, token: str) -> tuple[int, dict[str, str], Any]:
    """One request: (status, headers, decoded JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310 - http://127.0.0.1
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, dict(exc.headers), exc.read()
    if headers.get("Content-Type", "").startswith("application/json"):
        return status, headers, json.loads(raw or b"null")
    return status, headers, raw.decode(errors="replace")


def enqueue(base: str, token: str, n: int) -> tuple[int, dict[str, str], Any]:
    return call(base, "POST", "/api/v1/jobs", {"task": "jobs.tasks.echo", "payload": {"message": f"m{n}"}}, token=token)


def assert_refused(status: int, headers: dict[str, str], body: Any) -> None:
    assert status == 503, (status, body)
    assert headers["Content-Type"].startswith("application/json"), headers
    assert body["error"].startswith("Database unavailable ("), body
    assert int(headers["Retry-After"]) > 0


def fill(directory: Path) -> Path:
    """Write a file until the filesystem has no space left (down to the last 512-byte block)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        size = 1 << 20
        while size >= 512:
            try:
                os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                size //= 2
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs, mounted for this test only."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], capture_output=True, text=True
        )
    except FileNotFoundError:
        pytest.skip("no mount command")
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_answers_503_keeps_reads_working_and_loses_nothing(small_filesystem: Path, tmp_path: Path) -> None:
    site = Site(small_filesystem / "jobdeck.sqlite3", tmp_path)
    writer, reader = site.token(), site.token()  # `reader` is first used once the disk is full
    with site.serving() as base:
        accepted = []
        for n in range(10):
            status, _, body = enqueue(base, writer, n)
            assert status == 202, body
            accepted.append(body["job_id"])
        with contextlib.closing(sqlite3.connect(site.db_path, timeout=30)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL holds no spare room to write into
        filler = fill(small_filesystem)

        # A read whose token bookkeeping (last_used_at) cannot be written still answers.
        status, _, body = call(base, "GET", f"/api/v1/jobs/{accepted[0]}", token=reader)
        assert status == 200 and body["id"] == accepted[0], body

        refused = 0
        for n in range(10, 60):
            status, headers, body = enqueue(base, writer, n)
            if status == 202:  # a write that still found room is fine, as long as it is kept
                accepted.append(body["job_id"])
            else:
                assert_refused(status, headers, body)
                assert "disk full" in body["error"]
                refused += 1
        assert refused >= 45

        status, _, body = call(base, "GET", "/api/v1/jobs?per_page=200", token=reader)
        assert status == 200 and {j["id"] for j in body} >= set(accepted), body
        status, _, body = call(base, "GET", "/api/v1/health", token=reader)
        assert status == 503, body
        assert any(r.startswith("database refused a write") and r.endswith("disk full") for r in body["reasons"])
        assert any(r.startswith("low disk space for the database") for r in body["reasons"]), body

        cli = site.manage("enqueue", "jobs.tasks.echo", check=False)
        assert cli.returncode != 0
        assert cli.stdout == ""
        [line] = cli.stderr.strip().splitlines()
        assert line.startswith("CommandError: Database unavailable (disk full)"), cli.stderr

        filler.unlink()  # space comes back: writes work again, with no restart
        status, _, body = enqueue(base, writer, 99)
        assert status == 202, body
        accepted.append(body["job_id"])

    assert site.job_ids() == set(accepted)  # every accepted job is stored; no refused one is
    assert "Traceback" not in site.log, site.log


def test_held_write_lock_answers_503_within_a_few_seconds_not_500_after_20(tmp_path: Path) -> None:
    site = Site(tmp_path / "jobdeck.sqlite3", tmp_path)
    token = site.token()
    with site.serving() as base:
        status, _, body = enqueue(base, token, 0)
        assert status == 202, body
        first = body["job_id"]

        holder = sqlite3.connect(site.db_path, timeout=30, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # like a long migration or backup holding the write lock
        try:
            status, headers, body = enqueue(base, token, 1)  # urllib gives up after REQUEST_TIMEOUT
            assert_refused(status, headers, body)
            assert "database locked" in body["error"]
            status, _, body = call(base, "GET", f"/api/v1/jobs/{first}", token=token)
            assert status == 200, body  # WAL: readers are not blocked by the writer
            status, _, body = call(base, "GET", "/api/v1/health", token=token)
            assert status == 503 and any(r.endswith("database locked") for r in body["reasons"]), body
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        status, _, body = enqueue(base, token, 2)
        assert status == 202, body
        second = body["job_id"]

    assert site.job_ids() == {first, second}
    assert "Traceback" not in site.log, site.log
