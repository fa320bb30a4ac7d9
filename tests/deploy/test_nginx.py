"""docs/deploy/nginx/jobdeck.conf: `nginx -t` passes, and its limits match the app's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from jobs.api.errors import BodyTooLarge
from jobs.conf import api_settings
from jobs.options import BLOCK_SECONDS_LIMIT
from tests.deploy.files import DEPLOY, REQUIRED, env_file

CONF = DEPLOY / "nginx" / "jobdeck.conf"


def directive(name: str, text: str | None = None) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", CONF.read_text() if text is None else text, re.MULTILINE)


def location(prefix: str) -> str:
    match = re.search(rf"^\s*location {re.escape(prefix)} \{{(.*?)^\s*\}}", CONF.read_text(), re.MULTILINE | re.DOTALL)
    assert match, f"no location {prefix}"
    return match[1]


def size_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]


def seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(s|m|h)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {None: 1, "s": 1, "m": 60, "h": 3600}[unit]


def test_the_body_limit_lets_the_api_answer_its_own_413() -> None:
    (limit,) = directive("client_max_body_size")
    assert api_settings().api_max_body_bytes <= size_bytes(limit) <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    # Past nginx's limit, the same JSON body the API gives (jobs/api/errors.py).
    expected = '{"error": "%s"}' % BodyTooLarge(api_settings().api_max_body_bytes).message  # noqa: UP031
    assert f"return 413 '{expected}'" in location("@api_body_too_large")


def test_slow_clients_are_bounded_and_proxy_timeouts_fit_the_app() -> None:
    for name in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert seconds(directive(name)[0]) <= 30, name
    # Plain requests: longer than an enqueue may block on a full queue.
    assert seconds(directive("proxy_read_timeout")[0]) > BLOCK_SECONDS_LIMIT
    # WebSockets: upgraded, unbuffered, and never cut by a read timeout shorter than daphne's pings (20 s).
    ws = location("/ws/")
    assert seconds(directive("proxy_read_timeout", ws)[0]) >= 3600
    assert "proxy_buffering off" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in CONF.read_text()
    assert "proxy_set_header Connection $connection_upgrade;" in CONF.read_text()


def test_static_files_come_from_the_collectstatic_directory() -> None:
    static_root = env_file(DEPLOY / "systemd" / "jobdeck.env")["DJANGO_STATIC_ROOT"]
    assert directive("alias", location("/static/")) == [static_root + "/"]


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        if REQUIRED:
            pytest.fail("nginx is required in CI (.ci/run installs Debian's nginx)")
        pytest.skip("nginx is not installed here (CI installs it); the config was not checked by nginx -t")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=jobs.example.com",
         "-keyout", tmp_path / "privkey.pem", "-out", tmp_path / "fullchain.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    site = CONF.read_text().replace("/etc/ssl/jobdeck/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    temp = "client_body_temp_path {0}/b; proxy_temp_path {0}/p;"
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  {temp.format(tmp_path)}\n  include {tmp_path}/site.conf;\n}}\n"
    )

    result = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
