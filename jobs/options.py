"""What a job's options may be, each rule stated once: queue names, attempts, timeouts, and a task's
default attempts. Services, the Tasks backend, the API schemas, the admin and the CLI all check here."""

from __future__ import annotations

import math
import re
from typing import Any, TypeGuard

from django.tasks import Task

QUEUE_PATTERN = r"^[A-Za-z0-9_.:-]{1,100}$"  # as text for the API's OpenAPI document
QUEUE_NAME = re.compile(QUEUE_PATTERN)
QUEUE_NAME_ERROR = "queue must be 1-100 characters of letters, digits, '_', '.', ':' or '-'"
MAX_ATTEMPTS_LIMIT = 1000
MAX_ATTEMPTS_ERROR = f"max_attempts must be a whole number between 1 and {MAX_ATTEMPTS_LIMIT}"
TIMEOUT_ERROR = "timeout must be a positive number of seconds"
MAX_SNOOZES_LIMIT = 10_000
MAX_SNOOZES_ERROR = f"max_snoozes must be a whole number between 0 and {MAX_SNOOZES_LIMIT}"
MAX_BULK = 10_000  # jobs per bulk enqueue or bulk action


def is_int(value: object) -> TypeGuard[int]:
    """A whole number, not a bool (True is an int to Python, not to a JSON client)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """A finite int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_queue_name(value: object) -> bool:
    return isinstance(value, str) and QUEUE_NAME.match(value) is not None


def is_max_attempts(value: object) -> bool:
    return is_int(value) and 1 <= value <= MAX_ATTEMPTS_LIMIT


def is_max_snoozes(value: object) -> bool:
    return is_int(value) and 0 <= value <= MAX_SNOOZES_LIMIT


def is_timeout(value: object) -> bool:
    """A timeout in seconds; None (no limit) is checked by the caller."""
    return is_number(value) and value > 0


def task_max_attempts(task: Task[..., Any], default: int) -> int:
    """The attempts a job of `task` gets when the job does not say: the task's own
    (`@task(max_attempts=...)`), else `default` (the JOBDECK_DEFAULT_MAX_ATTEMPTS setting)."""
    return getattr(task, "max_attempts", None) or default
