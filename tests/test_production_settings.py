"""JOBDECK_ENV=production: what it requires, what it turns on, and `check --deploy` passing clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SECRET = "x" * 20 + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"  # 52 characters, more than 5 distinct


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JOBDECK_"))}
    environ.pop("DATABASE_URL", None)
    environ.update(JOBDECK_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def production(**extra: str) -> dict[str, str]:
    return {
        "JOBDECK_ENV": "production",
        "DJANGO_SECRET_KEY": SECRET,
        "DJANGO_ALLOWED_HOSTS": "jobs.example.com",
        "DJANGO_BEHIND_PROXY": "1",
        **extra,
    }


def test_check_deploy_passes_with_the_production_environment(tmp_path: Path) -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path, **production())

    assert result.returncode == 0, result.stderr
    # W005 (HSTS for subdomains) and W021 (preload) are silenced on purpose: the domain's owner opts in.
    assert result.stdout.strip() == "System check identified no issues (2 silenced)."


def test_opting_into_hsts_preload_leaves_nothing_silenced(tmp_path: Path) -> None:
    env = production(DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="1", DJANGO_SECURE_HSTS_PRELOAD="1")

    result = manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path, **env)

    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_development_mode_flags_its_public_key_under_check_deploy(tmp_path: Path) -> None:
    result = manage("check", "--deploy", tmp_path=tmp_path)

    assert result.returncode == 0  # warnings only: the quick start keeps working
    assert "security.W009" in result.stderr


def test_production_without_a_secret_key_stops_with_one_clear_line(tmp_path: Path) -> None:
    env = production()
    del env["DJANGO_SECRET_KEY"]

    result = manage("check", tmp_path=tmp_path, **env)

    assert result.returncode != 0
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("django.core.exceptions.ImproperlyConfigured: JOBDECK_ENV=production needs DJANGO_SECRET_KEY")
    )


def test_production_refuses_a_weak_key_debug_and_missing_hosts(tmp_path: Path) -> None:
    weak = manage("check", tmp_path=tmp_path, **production(DJANGO_SECRET_KEY="django-insecure-" + SECRET))
    debug = manage("check", tmp_path=tmp_path, **production(DJANGO_DEBUG="1"))
    hosts = production()
    del hosts["DJANGO_ALLOWED_HOSTS"]
    no_hosts = manage("check", tmp_path=tmp_path, **hosts)

    assert "needs DJANGO_SECRET_KEY" in weak.stderr.splitlines()[-1]
    assert "refuses DJANGO_DEBUG=1" in debug.stderr.splitlines()[-1]
    assert "needs DJANGO_ALLOWED_HOSTS" in no_hosts.stderr.splitlines()[-1]


def test_a_misspelt_environment_name_is_an_error_not_development(tmp_path: Path) -> None:
    result = manage("check", tmp_path=tmp_path, JOBDECK_ENV="prod")

    assert result.returncode != 0
    assert "JOBDECK_ENV='prod': use 'production' or 'development'" in result.stderr.splitlines()[-1]


REQUESTS = """
from django.test import Client
c = Client(HTTP_HOST="jobs.example.com")
for path in ("/healthz", "/readyz"):
    r = c.get(path)
    print(path, r.status_code, r.content.decode())
r = c.get("/admin/login/")
print("plain", r.status_code, r.get("Location"))
r = c.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
print("https", r.status_code, r.get("Strict-Transport-Security"), r.cookies["csrftoken"]["secure"])
"""


def test_production_redirects_to_https_but_not_the_probes(tmp_path: Path) -> None:
    result = manage("shell", "--no-imports", "-c", REQUESTS, tmp_path=tmp_path, **production())

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '/healthz 200 {"status": "OK"}',
        '/readyz 200 {"status": "OK"}',
        "plain 301 https://jobs.example.com/admin/login/",
        "https 200 max-age=31536000 True",
    ]
