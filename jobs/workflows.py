"""Chains and groups of Django tasks for Python code: `chain(sig(fetch, url), sig(parse), pass_results=True)`.

A step is a task with its arguments bound, `sig(task, *args, **kwargs)` (Celery's "signature", with
Django's Task API as it is: `sig(fetch.using(queue_name="io", priority=10), url)`), a task alone
(no arguments), a `jobs.services.JobSpec`, or a nested chain or group. The whole workflow is stored
in one transaction by `.enqueue()`, which returns a `jobs.services.WorkflowRun` (every job's id and
place). Django's `task.enqueue()` stays the way to enqueue one task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.tasks import Task

from jobs import services
from jobs.services import Chain, Group, JobSpec, WorkflowRun
from jobs.signatures import Signature, sig

__all__ = ["Workflow", "chain", "group", "sig"]


type Step = Signature | Task[..., Any] | JobSpec | Workflow


@dataclass(frozen=True)
class Workflow:
    """A chain or a group, ready to enqueue or to nest in another."""

    node: Chain | Group

    def enqueue(self, *, actor: str = "") -> WorkflowRun:
        """Store every job of the workflow in one transaction (all or none) and return their ids
        and places. Raises InvalidJob (naming the step, `workflow[1][0]: ...`), QueueFull."""
        return services.enqueue_workflow(workflow=self.node, actor=actor or "workflows")


def _node(step: object) -> Any:
    if isinstance(step, Workflow):
        return step.node
    if isinstance(step, Signature):
        return step.spec() if step.taking is None else services.Step(step.spec(), take_result=step.taking)
    if isinstance(step, Task):
        return Signature(step).spec()
    return step  # a JobSpec; anything else is refused by the service, naming its place


def chain(*steps: Step, pass_results: bool | None = None) -> Workflow:
    """Steps one after another, each after the whole previous step has finished (done). With
    `pass_results`, each step after the first takes the previous step's result as its first
    argument; after a group, the list of its results in group order. None: as the chain this one
    is nested in (at the top, no). One step may say otherwise: `sig(...).take_result(False)`.
    A step that fails for good (or is cancelled) cancels the rest
    of the chain."""
    return Workflow(Chain(steps=[_node(step) for step in steps], pass_results=pass_results))


def group(*members: Step) -> Workflow:
    """Members side by side; what follows the group in a chain waits for all of them."""
    return Workflow(Group(members=[_node(member) for member in members]))
