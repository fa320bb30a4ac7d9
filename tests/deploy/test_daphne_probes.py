"""The web pod's command and probes, for real: daphne started as the Kubernetes manifest starts it,
in production mode, called as the kubelet calls it (plain HTTP, the pod's address, the probe's Host)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT, wait_until
from tests.deploy.files import kubernetes

SECRET = "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def web_pod(tmp_path: Path, **env: str) -> Iterator[int]:
    """daphne with the web Deployment's command line (port and address changed) and its ConfigMap."""
    command = kubernetes()["Deployment", "jobdeck-web"]["spec"]["template"]["spec"]["containers"][0]["command"]
    port = free_port()
    argv = [sys.executable, "-m", "daphne", *command[1:]]
    argv[argv.index("-p") + 1], argv[argv.index("-b") + 1] = str(port), "127.0.0.1"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JOBDECK_"))}
    environ.pop("DATABASE_URL", None)
    environ.update(kubernetes()["ConfigMap", "jobdeck"]["data"])
    environ.pop("REDIS_URL")
    environ.update(DJANGO_SECRET_KEY=SECRET, JOBDECK_VAR_DIR=str(tmp_path), **env)
    log_path = tmp_path / "daphne.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)

        def answers() -> bool:
            assert proc.poll() is None, log_path.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
            return True

        try:
            wait_until(answers, timeout=30, message="daphne did not start")
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One request, redirects not followed (a probe that followed one would check nothing)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "jobs.example.com", **headers})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_probes_answer_over_plain_http_and_everything_else_redirects_to_https(tmp_path: Path) -> None:
    with web_pod(tmp_path) as port:
        live, ready, home = get(port, "/healthz"), get(port, "/readyz"), get(port, "/")
        behind_tls = get(port, "/healthz", **{"X-Forwarded-Proto": "https"})

    assert (live[0], json.loads(live[2])) == (200, {"status": "OK"})
    assert (ready[0], json.loads(ready[2])) == (200, {"status": "OK"})
    assert (home[0], home[1]["Location"]) == (301, "https://jobs.example.com/")
    # DJANGO_BEHIND_PROXY=1: the proxy's X-Forwarded-Proto makes the request secure, so HSTS is sent.
    assert behind_tls[1]["Strict-Transport-Security"] == "max-age=31536000"


def test_with_the_database_down_readiness_fails_as_json_and_liveness_still_passes(tmp_path: Path) -> None:
    with web_pod(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:9/none") as port:
        live, ready, health = get(port, "/healthz"), get(port, "/readyz"), get(port, "/api/v1/health")

    assert (live[0], json.loads(live[2])) == (200, {"status": "OK"})
    assert (ready[0], json.loads(ready[2])) == (503, {"status": "DEGRADED", "reasons": ["database unreachable"]})
    assert health[0] == 503
    assert json.loads(health[2])["reasons"][0] == "database unreachable"
