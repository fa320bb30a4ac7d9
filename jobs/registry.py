"""The task registry: every @task function found in installed apps' tasks.py and JOBDECK_TASK_MODULES,
with its version (`@task(version="2")`), and the one parser of "name@version"."""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.tasks import Task
from django.utils.module_loading import autodiscover_modules

from jobs.exceptions import InvalidJob, UnknownTask

VERSION_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
VERSION = re.compile(VERSION_PATTERN)
VERSION_ERROR = "version must be 1-64 characters of letters, digits, '.', '_' or '-'"


def is_version(value: object) -> bool:
    """A task version as written in `@task(version=...)`: text or a whole number, 1-64 safe characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return isinstance(value, str) and VERSION.fullmatch(value) is not None  # "2\n" is not "2"


def version_of(task: Task[..., Any]) -> str:
    """The version a task declares, as stored on its jobs; "" when it declares none (or is a plain
    Django Task)."""
    version = getattr(task, "version", None)
    return "" if version is None else str(version)


def split_ref(ref: str) -> tuple[str, str | None]:
    """Split "name@version" into (name, version); (name, None) without "@". The version is
    checked (InvalidJob with VERSION_ERROR), the name is left to get_task()."""
    name, at, version = ref.partition("@")
    if not at:
        return ref, None
    if not is_version(version):
        raise InvalidJob(VERSION_ERROR)
    return name, version


def task_ref(name: str, version: str) -> str:
    """The reverse of split_ref(): "name@version", or the bare name for an unversioned task."""
    return f"{name}@{version}" if version else name


def claim_keys(refs: Iterable[str]) -> list[str]:
    """The keys a claim matches jobs by, one per task ref: "name@version", "name@" for an
    unversioned task (a job's task_name || '@' || task_version)."""
    return [ref if "@" in ref else f"{ref}@" for ref in refs]


@dataclass(frozen=True)
class RegisteredTask:
    name: str  # the module path, e.g. "jobs.tasks.echo"
    task: Task[..., Any]

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def version(self) -> str:
        return version_of(self.task)

    @property
    def ref(self) -> str:
        """How workers list it (WorkerProcess.tasks): "module.path" or "module.path@version"."""
        return task_ref(self.name, self.version)

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


def worker_tasks() -> list[str]:
    """What this process can run, as a worker records it (WorkerProcess.tasks) and claims by: every
    registered task's ref. Read from the registry as it is at the worker's start (all_tasks()), so
    a job is claimed only by a worker that has its task and version loaded, not on a lazy import."""
    return [registered.ref for registered in all_tasks().values()]


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
