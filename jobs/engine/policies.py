"""The retry policy a failed attempt follows: the job's own, the task's, the queue's default, the settings.

Only failed attempts ask, so a job that succeeds costs nothing here. The queues' defaults are read
from the Queue table at most once per QUEUE_POLICY_TTL seconds per process (one query for all
queues), so a failing flood costs no query per job; a changed default reaches workers within the TTL.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from jobs import retry, states
from jobs.models import Queue

QUEUE_POLICY_TTL = 5.0

_lock = threading.Lock()
_queue_policies: dict[str, dict[str, Any]] = {}
_loaded_at = -QUEUE_POLICY_TTL


@dataclass(frozen=True, slots=True)
class Rules:
    backoff: retry.Backoff | None  # None: the settings' exponential backoff
    retry_on: tuple[str, ...]  # empty: every error is retried
    discard_on: tuple[str, ...]


DEFAULT_RULES = Rules(backoff=None, retry_on=(), discard_on=())


def queue_policy(queue: str) -> dict[str, Any]:
    """The queue's default policy ({} when it has none), from this process's cache."""
    global _loaded_at, _queue_policies
    with _lock:
        if time.monotonic() - _loaded_at >= QUEUE_POLICY_TTL:
            rows = Queue.objects.filter(retry_policy__isnull=False).values_list("name", "retry_policy")
            _queue_policies = {name: policy for name, policy in rows if isinstance(policy, dict)}
            _loaded_at = time.monotonic()
        return _queue_policies.get(queue, {})


def forget_queue_policies() -> None:
    """Read the queues' defaults afresh on the next failure (tests)."""
    global _loaded_at
    with _lock:
        _loaded_at = -QUEUE_POLICY_TTL


def _task_part(task: object, key: str) -> Any:
    value = getattr(task, key, None)
    if value is None:
        return None
    if key == "backoff":
        return retry.parse_backoff(value).as_json()
    return list(retry.class_names(value, field=key))


def resolve(claimed: states.ClaimedJob, task: object) -> Rules:
    """Each part from the first that sets it: the job, the task, the queue (validated where they were
    set: build_job, validate_task, set_queue_retry_policy)."""
    parts: dict[str, Any] = dict(claimed.retry_policy or {})
    for key in retry.POLICY_KEYS:
        if parts.get(key) is None:
            parts[key] = _task_part(task, key)
    if any(parts.get(key) is None for key in retry.POLICY_KEYS):
        for key, value in queue_policy(claimed.queue).items():
            if parts.get(key) is None:
                parts[key] = value
    backoff = parts.get("backoff")
    return Rules(
        backoff=None if backoff is None else retry.parse_backoff(backoff),
        retry_on=tuple(parts.get("retry_on") or ()),
        discard_on=tuple(parts.get("discard_on") or ()),
    )
