"""runworkers option validation: bad options are one clear line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--queues", "bad queue!"], "invalid queue list 'bad queue!'"),
        (["--queues", ","], "invalid queue list ','"),
        (["--workers", "0"], "must be between 1 and 512"),
        (["--workers", "many"], "'many' is not a whole number"),
        (["--worker-type", "fiber"], "invalid choice: 'fiber'"),
        (["--shutdown-grace", "-1"], "must not be negative"),
        (["--max-tasks-per-child", "-1"], "must be between 0 and"),
        (["--max-memory-per-child", "lots"], "'lots' is not a number"),
        (["-k", "thread", "--max-tasks-per-child", "5"], "need --worker-type process"),
        (["-k", "thread", "--max-memory-per-child", "300"], "need --worker-type process"),
        (["-k", "isolated", "--max-tasks-per-child", "5"], "need --worker-type process"),
        (["--name", "night shift"], "invalid worker name 'night shift': use 1 to 100 letters"),
        (["--name=-dash-first"], "invalid worker name '-dash-first'"),
        (["--name", "web-1~2"], "invalid worker name 'web-1~2'"),
        (["--name", "w" * 101], "invalid worker name 'w{101}'"),
    ],
)
def test_bad_option_is_refused_with_a_clear_message(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("runworkers", *args)


def test_bad_option_exits_non_zero_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "runworkers", "--workers", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "argument -w/--workers/--concurrency: must be between 1 and 512" in result.stderr
