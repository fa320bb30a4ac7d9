"""Every Jobdeck command answers a bad argument with one line on stderr and exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

# argparse refuses the arguments before a command reaches its database (see tests/conftest.py).
pytestmark = pytest.mark.db_independent

CASES = [
    ("enqueue", ["tests.tasks.add", "--priority", "lots"]),
    ("enqueue", []),
    ("jobs", ["--limit", "0"]),
    ("jobstats", ["--nope"]),
    ("prunejobs", ["--batch-size", "x"]),
    ("createapitoken", []),
    ("runworkers", ["-w", "0"]),
    ("demoload", ["--nope"]),
]


@pytest.mark.parametrize(("command", "args"), CASES)
def test_an_argument_error_is_one_line(command: str, args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", command, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"manage.py {command}: error: ")


def test_enqueue_help_names_the_real_setting() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "enqueue", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "JOBDECK_DEFAULT_MAX_ATTEMPTS" in " ".join(result.stdout.split())
