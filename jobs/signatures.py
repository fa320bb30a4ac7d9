"""A Django task with the arguments of one enqueue, not enqueued yet: the steps of chains and groups
(jobs.workflows) and the members and callbacks of batches (jobs.backend.batch), and the one rule that
turns a task and its arguments into a JobSpec, which the Tasks backend's enqueue() uses too.

`sig(task, *args, **kwargs)` is Celery's "signature" on Django's Task API as it is: the task may carry
its options, `sig(fetch.using(queue_name="io", priority=10), url)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.tasks import Task
from django.utils.json import normalize_json

from jobs import registry
from jobs.exceptions import InvalidJob
from jobs.services import JobSpec


def task_spec(task: Task[..., Any], args: Any, kwargs: Any) -> JobSpec:
    """The JobSpec of `task.enqueue(*args, **kwargs)`: the task's module path, version, queue,
    priority, run_after and dependencies (`task.after(...)`), with the arguments as Django's
    TaskResult keeps them on every backend (tuples become lists, bytes text). Registers the task,
    so a task defined anywhere can be named. Raises TypeError for arguments that are not JSON
    (ValueError for undecodable bytes), as Django's own backends do."""
    registry.register(task)
    args, kwargs = normalize_json(args), normalize_json(kwargs)
    return JobSpec(
        task_name=task.module_path,
        version=registry.version_of(task),
        args=list(args),
        kwargs=dict(kwargs),
        queue=task.queue_name,
        priority=task.priority,
        run_at=task.run_after,
        after=getattr(task, "depends_on", ()),
        after_failure=getattr(task, "after_failure", "cancel"),
    )


@dataclass(frozen=True)
class Signature:
    """A task with its arguments bound. Make it with sig()."""

    task: Task[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    taking: bool | None = None  # a chain step: None takes the previous result as its chain says

    def take_result(self, take: bool = True) -> Signature:
        """This step, taking the previous step's result as its first argument (or, with False,
        not taking it) whatever its chain's pass_results says."""
        return replace(self, taking=take)

    def spec(self) -> JobSpec:
        """task_spec() of this call. Raises InvalidJob for arguments that are not JSON."""
        try:
            return task_spec(self.task, list(self.args), dict(self.kwargs))
        except (TypeError, ValueError) as exc:
            raise InvalidJob(f"arguments of {self.task.module_path} are not JSON: {exc}") from None


def sig(task: Task[..., Any], /, *args: Any, **kwargs: Any) -> Signature:
    """`task` with its arguments bound, as `task.enqueue(*args, **kwargs)` would take them."""
    if not isinstance(task, Task):
        raise TypeError(f"sig() takes a Django task (a function decorated with @task), not {type(task).__name__}")
    return Signature(task, args, kwargs)
