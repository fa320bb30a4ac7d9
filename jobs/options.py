"""What a job's options may be, each rule stated once: queue names, attempts, timeouts, a task's
default attempts, named priorities, unique periods and deadlines. Services, the Tasks backend, the
API schemas, the admin and the CLI all check here."""

from __future__ import annotations

import datetime
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
# Back-pressure (issue 13): a queue's max depth of waiting jobs, and how long a blocking enqueue waits.
MAX_DEPTH_LIMIT = 100_000_000
MAX_DEPTH_ERROR = f"max_depth must be a whole number between 1 and {MAX_DEPTH_LIMIT}, or null for no limit"
BLOCK_SECONDS_LIMIT = 60.0  # longer would hold a web request past any proxy's timeout
BLOCK_SECONDS_ERROR = f"block_seconds must be a number of seconds above 0 and at most {BLOCK_SECONDS_LIMIT:g}"
OVERFLOW_ERROR = "overflow must be 'refuse' or 'block'"

# --- named priorities, unique periods, deadlines (issue 12: unique_for, expiry, named priorities) ---
# Names accepted wherever a priority number is (JobSpec, @task, the API, the CLI, schedules). Spaced
# ten apart around the default 0 so numbers can still rank jobs between and beyond them.
PRIORITY_NAMES: dict[str, int] = {"high": 10, "medium": 0, "low": -10}
PRIORITY_MIN = -100
PRIORITY_MAX = 100
PRIORITY_ERROR = f"priority must be a whole number between {PRIORITY_MIN} and {PRIORITY_MAX}, or high, medium or low"
MAX_PERIOD_SECONDS = 10 * 365 * 86400  # the longest unique_for or expires_in: ten years
UNIQUE_FOR_ERROR = "unique_for must be a positive number of seconds (at most ten years)"
EXPIRES_IN_ERROR = "expires_in must be a positive number of seconds (at most ten years)"


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


def priority_number(value: Any) -> Any:
    """A priority name ("high", "medium", "low") as its number; anything else as given, for the
    caller to check with is_priority()."""
    if isinstance(value, str):
        return PRIORITY_NAMES.get(value, value)
    return value


def is_priority(value: object) -> TypeGuard[int]:
    return is_int(value) and PRIORITY_MIN <= value <= PRIORITY_MAX


def period_seconds(value: object) -> float | None:
    """A unique_for or expires_in given as seconds or a timedelta, in seconds; None when it is not a
    positive period of at most MAX_PERIOD_SECONDS."""
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if not is_number(value) or not 0 < value <= MAX_PERIOD_SECONDS:
        return None
    return float(value)


# --- concurrency per key (issue 13, point 2) --------------------------------------------------------
CONCURRENCY_LIMIT_MAX = 10_000
CONCURRENCY_KEY_ERROR = "concurrency_key must be a string of 1-255 characters"
CONCURRENCY_LIMIT_ERROR = f"concurrency_limit must be a whole number between 1 and {CONCURRENCY_LIMIT_MAX}"
CONCURRENCY_TASK_KEY_ERROR = "concurrency_key must be a callable of the job's arguments or a format string"


def is_concurrency_key(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 1 <= len(value) <= 255


def is_concurrency_limit(value: object) -> TypeGuard[int]:
    return is_int(value) and 1 <= value <= CONCURRENCY_LIMIT_MAX


def task_concurrency_key(template: object, args: list[Any], kwargs: dict[str, Any]) -> str:
    """A task's concurrency key for one job: `template` called with the job's arguments, or a format
    string filled from them ("customer:{customer_id}", "{0}"). Raises ValueError with a sentence
    when the arguments do not fit it or the result is not a key."""
    try:
        if callable(template):
            key = template(*args, **kwargs)
        elif isinstance(template, str):
            key = template.format(*args, **kwargs)
        else:
            raise ValueError(CONCURRENCY_TASK_KEY_ERROR)
    except (KeyError, IndexError, AttributeError, TypeError) as exc:
        raise ValueError(f"the task's concurrency_key does not fit the job's arguments: {exc!r}") from None
    if not is_concurrency_key(key):
        raise ValueError(f"the task's concurrency_key gave {key!r}: {CONCURRENCY_KEY_ERROR}")
    return key
