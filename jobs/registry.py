"""The task registry: every @task function found in installed apps' tasks.py and JOBDECK_TASK_MODULES."""

from __future__ import annotations

import functools
import importlib
import sys
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.tasks import Task
from django.utils.module_loading import autodiscover_modules

from jobs.exceptions import UnknownTask


@dataclass(frozen=True)
class RegisteredTask:
    name: str  # the module path, e.g. "jobs.tasks.echo"
    task: Task[..., Any]

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def doc(self) -> str:
        return (self.task.func.__doc__ or "").strip()


@functools.cache
def all_tasks() -> dict[str, RegisteredTask]:
    """Import task modules once per process and index their Task objects by module path."""
    autodiscover_modules("tasks")
    modules = [importlib.import_module(m) for m in getattr(settings, "JOBDECK_TASK_MODULES", [])]
    found: dict[str, RegisteredTask] = {}
    for module in list(sys.modules.values()) + modules:
        name = getattr(module, "__name__", "")
        if not (name.endswith(".tasks") or name == "tasks" or module in modules):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Task) and value.func.__module__ == name:
                found[value.module_path] = RegisteredTask(value.module_path, value)
    return dict(sorted(found.items()))


def get_task(name: str) -> RegisteredTask:
    """Resolve a task by module path, or by its short name when that is unambiguous.

    Raises UnknownTask with a readable message otherwise.
    """
    tasks = all_tasks()
    if name in tasks:
        return tasks[name]
    matches = _by_short_name().get(name, [])
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UnknownTask(f"Task name '{name}' is ambiguous: use one of {', '.join(t.name for t in matches)}")
    raise UnknownTask(f"Unknown task '{name}'")


@functools.cache
def _by_short_name() -> dict[str, list[RegisteredTask]]:
    index: dict[str, list[RegisteredTask]] = {}
    for registered in all_tasks().values():
        index.setdefault(registered.short_name, []).append(registered)
    return index


def register(task: Task[..., Any]) -> None:
    """Add a task defined outside the scanned modules (tests, plugins)."""
    all_tasks()[task.module_path] = RegisteredTask(task.module_path, task)
    _by_short_name.cache_clear()


def resolve_for_execution(name: str) -> RegisteredTask:
    """Resolve the task of a stored job. Besides the registry, accepts any importable Task object
    (a job row only exists if the service layer validated its task when it was enqueued)."""
    try:
        return get_task(name)
    except UnknownTask:
        from django.utils.module_loading import import_string

        try:
            value = import_string(name)
        except ImportError:
            raise UnknownTask(f"Unknown task '{name}'") from None
        if not isinstance(value, Task):
            raise UnknownTask(f"'{name}' is not a task") from None
        register(value)
        return all_tasks()[value.module_path]
