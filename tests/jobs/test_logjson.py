"""JOBDECK_LOG_FORMAT=json: the formatter on its own, and the setting in a fresh process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from jobs.context import JobContext, set_current
from jobs.logjson import JsonFormatter
from tests.conftest import ROOT


def record(message: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("tests.logger", logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]
    made.__dict__.update(extra)
    return made


def test_a_record_is_one_json_line_with_its_extras() -> None:
    line = JsonFormatter().format(record("two\nlines %s", "é", job_id=7, action="claimed", thing=object()))

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "two\nlines é" and entry["level"] == "WARNING" and entry["logger"] == "tests.logger"
    assert entry["timestamp"].endswith("+00:00") and entry["process"] == os.getpid()
    assert entry["job_id"] == 7 and entry["action"] == "claimed"
    assert entry["thing"].startswith("<object object")  # not JSON: written as its str()


def test_the_running_job_and_the_traceback_are_included() -> None:
    try:
        raise KeyError("lost")
    except KeyError:
        exc_info = sys.exc_info()
    set_current(JobContext(job_id=3, attempt=2, max_attempts=5, worker="w-1", timeout=None, task="t.x", queue="q"))
    try:
        entry = json.loads(JsonFormatter().format(record("failed", exc_info=exc_info)))
    finally:
        set_current(None)

    assert {k: entry[k] for k in ("job_id", "task", "queue", "attempt", "worker")} == {
        "job_id": 3,
        "task": "t.x",
        "queue": "q",
        "attempt": 2,
        "worker": "w-1",
    }
    assert entry["exception"].startswith("Traceback") and "KeyError: 'lost'" in entry["exception"]


def _log_in_fresh_process(log_format: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="project.settings", JOBDECK_LOG_FORMAT=log_format)
    code = (
        "import django, logging; django.setup(); logging.getLogger('django.request').warning('Bad Request: %s', '/x')"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_web_processes_log_json_when_asked() -> None:
    result = _log_in_fresh_process("json")

    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stderr)
    assert (entry["logger"], entry["level"], entry["message"]) == ("django.request", "WARNING", "Bad Request: /x")


def test_the_default_stays_plain_and_a_bad_value_is_refused() -> None:
    plain = _log_in_fresh_process("")
    bad = _log_in_fresh_process("yaml")

    assert plain.returncode == 0 and "WARNING" in plain.stderr and "django.request: Bad Request: /x" in plain.stderr
    assert bad.returncode != 0
    assert "JOBDECK_LOG_FORMAT must be 'plain' or 'json', got 'yaml'" in bad.stderr.splitlines()[-1]
