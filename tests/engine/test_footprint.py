"""A worker loads only what it uses: not huey's Redis and PostgreSQL clients, not the admin.

Worker memory is measured in bench/ (per-process PSS, target 60 MB); this test keeps the imports
that cost it from creeping back, which a memory figure in a test could not do reliably.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

WORKER_IMPORTS = """
import json, sys, django
django.setup()
from django.core.management import load_command_class
load_command_class("jobs", "runworkers")
import jobs.engine.consumer, jobs.engine.execute
loaded = [m for m in ("redis", "psycopg", "jobs.admin", "jobs.admin.jobs", "ninja", "jobs.api") if m in sys.modules]
import redis  # still importable by anyone who needs it
print(json.dumps(loaded))
"""


def test_an_sqlite_worker_imports_no_client_it_does_not_use() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    result = subprocess.run([sys.executable, "-c", WORKER_IMPORTS], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
