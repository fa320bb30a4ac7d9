"""A task's declared options as the API, the dashboard and the admin show them: every `@task`
option (issue 12: "every option ... shows in the dashboard"), defaults left as None."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.tasks import Task

from jobs import options, retry
from jobs.conf import HOOK_KINDS


@dataclass(frozen=True)
class TaskOptions:
    """What a task sets; None (or empty) where it leaves the job, the queue or the settings to decide."""

    version: str | None = None
    queue: str = ""
    priority: int = 0
    max_attempts: int | None = None  # None: JOBDECK_DEFAULT_MAX_ATTEMPTS
    timeout: float | None = None
    backoff: dict[str, Any] | None = None  # {"kind", "base", "cap", "jitter"}; None: the queue's, the settings'
    retry_on: list[str] = field(default_factory=list)  # dotted exception class names
    discard_on: list[str] = field(default_factory=list)
    max_snoozes: int | None = None  # None: JOBDECK_MAX_SNOOZES
    hooks: dict[str, list[str]] = field(default_factory=dict)  # kind -> hook names (dotted), the task's own
    unique_for: float | None = None  # seconds
    expires_in: float | None = None  # seconds


def hook_name(hook: object) -> str:
    """A hook as a dotted name: a dotted path as given, a callable's module and qualified name."""
    if isinstance(hook, str):
        return hook
    module, name = getattr(hook, "__module__", None), getattr(hook, "__qualname__", None)
    return f"{module}.{name}" if module and name else repr(hook)


def _hooks(value: object) -> list[str]:
    if value is None:
        return []
    return [hook_name(h) for h in (value if isinstance(value, list | tuple) else [value])]


def task_options(task: Task[..., Any]) -> TaskOptions:
    """The options `task` declares (getattr: a plain Django Task has only queue and priority). Values
    were validated when the task was defined (DatabaseBackend.validate_task)."""
    backoff = getattr(task, "backoff", None)
    version = getattr(task, "version", None)
    hooks = {kind: names for kind in HOOK_KINDS if (names := _hooks(getattr(task, kind, None)))}
    return TaskOptions(
        version=None if version is None else str(version),
        queue=task.queue_name,
        priority=task.priority,
        max_attempts=getattr(task, "max_attempts", None),
        timeout=getattr(task, "timeout", None),
        backoff=None if backoff is None else retry.parse_backoff(backoff).as_json(),
        retry_on=list(retry.class_names(getattr(task, "retry_on", None) or (), field="retry_on")),
        discard_on=list(retry.class_names(getattr(task, "discard_on", None) or (), field="discard_on")),
        max_snoozes=getattr(task, "max_snoozes", None),
        hooks=hooks,
        unique_for=options.period_seconds(getattr(task, "unique_for", None)),
        expires_in=options.period_seconds(getattr(task, "expires_in", None)),
    )
