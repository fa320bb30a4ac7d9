"""A versioned task whose version comes from the environment, so two worker processes of one test
run two versions of the same code (a rolling deploy). Loaded by workers through JOBDECK_TASK_MODULES."""

from __future__ import annotations

import os
from typing import Any

from django.tasks import task

VERSION = os.environ.get("JOBDECK_TEST_TASK_VERSION", "1")


@task(version=VERSION)
def report(n: int) -> dict[str, Any]:
    """Returns the version of the code that ran it."""
    return {"n": n, "version": VERSION}
