"""Settings that protect a developer's machine: each PostgreSQL test run has its own database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Each subprocess sets its own DATABASE_URL and only reads the settings (see tests/conftest.py).
pytestmark = pytest.mark.db_independent

SHOW_TEST_NAME = "from django.conf import settings; print(settings.DATABASES['default']['TEST']['NAME'])"


def _test_database_name(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "JOBDECK_TEST_DB_NAME"}
    environ.update(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres", DJANGO_SETTINGS_MODULE="project.settings"
    )
    environ.update(env)
    code = f"import django; django.setup(); {SHOW_TEST_NAME}"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_two_postgresql_test_runs_never_share_a_database() -> None:
    first, second = _test_database_name(), _test_database_name()
    assert first.startswith("test_jobdeck_") and second.startswith("test_jobdeck_")
    assert first != second


def test_the_test_database_name_can_be_chosen() -> None:
    assert _test_database_name(JOBDECK_TEST_DB_NAME="test_mine") == "test_mine"
