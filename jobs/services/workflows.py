"""Chains and groups: a workflow (jobs one after another, jobs side by side, nested) checked and
enqueued as one all-or-nothing bulk enqueue whose steps name each other (docs/workflows.md).

A chain step is a job with `after` = the previous step's last jobs: the dependency rule is stated
once, in jobs.states.dependencies, and a failed step cancels the rest of the chain by it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobs import states
from jobs.exceptions import InvalidJob
from jobs.services.enqueue import JobSpec, enqueue_jobs

MAX_WORKFLOW_JOBS = 1000  # jobs per workflow: one bulk enqueue's worth
MAX_WORKFLOW_DEPTH = 10  # chains and groups nested in each other
# Links per workflow: a group followed by a group links every job of one to every job of the other.
MAX_WORKFLOW_LINKS = 10_000


@dataclass(frozen=True)
class Chain:
    """Steps run one after another; with pass_results each step after the first takes the previous
    step's result as its first argument (after a group: the list of its results, in group order).
    None: as the chain this one is nested in (a chain at the top: False)."""

    steps: Sequence[Node]
    pass_results: bool | None = None


@dataclass(frozen=True)
class Group:
    """Members run side by side; what follows a group waits for all of them."""

    members: Sequence[Node]


@dataclass(frozen=True)
class Step:
    """A job whose taking of the previous step's result is its own: take_result True, it takes it
    whatever its chain says; False, never; None, as its chain says (a plain JobSpec)."""

    spec: JobSpec
    take_result: bool | None = None


Node = JobSpec | Step | Chain | Group


@dataclass(frozen=True)
class WorkflowJob:
    """One enqueued job of a workflow and its place: `path` indexes the nested steps and members."""

    job_id: int
    task: str
    path: tuple[int, ...]


@dataclass(frozen=True)
class WorkflowRun:
    """What enqueue_workflow() stored: every job in order (depth first), and the workflow's shape
    with job ids: {"chain": [...]}, {"group": [...]} and {"job_id": 12, "task": "app.tasks.fetch"}."""

    jobs: list[WorkflowJob]
    tree: dict[str, Any]

    @property
    def job_ids(self) -> list[int]:
        return [job.job_id for job in self.jobs]


@dataclass
class _Plan:
    specs: list[JobSpec] = dataclasses.field(default_factory=list)
    paths: list[tuple[int, ...]] = dataclasses.field(default_factory=list)
    links: int = 0


def _where(path: tuple[int, ...]) -> str:
    return "workflow" + "".join(f"[{i}]" for i in path)


def plan_workflow(workflow: Node) -> tuple[list[JobSpec], list[tuple[int, ...]], Any]:
    """The workflow as the specs of one bulk enqueue (depth first, each step after the jobs it
    follows, by Ref), their paths, and its shape with spec indexes for jobs. Raises InvalidJob
    naming the place for an empty chain or group, nesting past MAX_WORKFLOW_DEPTH, more than
    MAX_WORKFLOW_JOBS jobs or MAX_WORKFLOW_LINKS links, or something that is not a step."""
    plan = _Plan()
    shape = _walk(plan, workflow, (), (), None, take=False, inherit=False)[2]
    return plan.specs, plan.paths, shape


def _walk(
    plan: _Plan,
    node: object,
    path: tuple[int, ...],
    parents: tuple[int, ...],
    offered: Any,
    *,
    take: bool,
    inherit: bool,
) -> tuple[tuple[int, ...], Any, Any]:
    """Add `node`'s jobs after `parents` (spec indexes). `offered`: the result of what precedes it
    (a shape over spec indexes, or None), which its first jobs take if `take` (the chain holding
    the node decides; a Step may say otherwise); `inherit`: pass_results for a chain nested here
    that does not say. Returns the jobs a follower waits for, the node's result as a shape over
    spec indexes, and the node's shape for the WorkflowRun."""
    if len(path) > MAX_WORKFLOW_DEPTH:
        raise InvalidJob(f"{_where(path)}: chains and groups nest more than {MAX_WORKFLOW_DEPTH} deep")
    if isinstance(node, Step):
        take = take if node.take_result is None else bool(node.take_result)
        node = node.spec
        if not isinstance(node, JobSpec):
            raise InvalidJob(f"{_where(path)}: a step's spec must be a JobSpec, not {type(node).__name__}")
    if isinstance(node, JobSpec):
        if len(plan.specs) >= MAX_WORKFLOW_JOBS:
            raise InvalidJob(f"a workflow has at most {MAX_WORKFLOW_JOBS} jobs")
        plan.links += len(parents)
        if plan.links > MAX_WORKFLOW_LINKS:
            raise InvalidJob(
                f"{_where(path)}: more than {MAX_WORKFLOW_LINKS} links between jobs "
                "(a group followed by a group links each job to each; put one job between them)"
            )
        refs = tuple(states.Ref(i) for i in parents)
        result_input = _as_refs(offered) if take and offered is not None else node.result_input
        plan.specs.append(dataclasses.replace(node, after=(*node.after, *refs), result_input=result_input))
        plan.paths.append(path)
        index = len(plan.specs) - 1
        return (index,), index, index
    if isinstance(node, Chain):
        steps = _parts(node.steps, "chain", path)
        tails, result, shapes = parents, offered, []
        own = inherit if node.pass_results is None else bool(node.pass_results)
        for k, step in enumerate(steps):
            # The first step takes what the node was offered as the enclosing chain decides; the
            # rest take the previous step's result as this chain decides.
            first = k == 0
            tails, result, shape = _walk(
                plan, step, (*path, k), tails, result, take=take if first else own, inherit=own
            )
            shapes.append(shape)
        return tails, result, {"chain": shapes}
    if isinstance(node, Group):
        members = _parts(node.members, "group", path)
        tails_all: list[int] = []
        results, shapes = [], []
        for k, member in enumerate(members):
            tails, result, shape = _walk(plan, member, (*path, k), parents, offered, take=take, inherit=inherit)
            tails_all += tails
            results.append(result)
            shapes.append(shape)
        return tuple(tails_all), results, {"group": shapes}
    raise InvalidJob(f"{_where(path)}: a step must be a job, a chain or a group, not {type(node).__name__}")


def _parts(items: object, kind: str, path: tuple[int, ...]) -> list[Node]:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise InvalidJob(f"{_where(path)}: a {kind} takes a list of steps")
    if not items:
        raise InvalidJob(f"{_where(path)}: a {kind} needs at least one step")
    if len(items) > MAX_WORKFLOW_JOBS:
        raise InvalidJob(f"a workflow has at most {MAX_WORKFLOW_JOBS} jobs")
    return list(items)


def _as_refs(shape: Any) -> Any:
    return [_as_refs(part) for part in shape] if isinstance(shape, list) else states.Ref(shape)


def enqueue_workflow(*, workflow: Node, actor: str = "") -> WorkflowRun:
    """Check and store every job of `workflow` in one transaction: all are stored or none.

    Returns a WorkflowRun (each job's id and place). Raises InvalidJob naming the place of the
    first bad step (`workflow[1][0]: ...`), UnknownTask, PayloadTooLarge or QueueFull as
    enqueue_jobs() does; nothing is stored then.
    """
    specs, paths, shape = plan_workflow(workflow)
    stored = enqueue_jobs(specs=specs, actor=actor, labels=[_where(path) for path in paths])
    jobs = [
        WorkflowJob(job_id=int(job.pk or 0), task=job.task_name, path=path)
        for job, path in zip(stored, paths, strict=True)
    ]

    def fill(part: Any) -> dict[str, Any]:
        if isinstance(part, int):
            return {"job_id": jobs[part].job_id, "task": jobs[part].task}
        kind, items = next(iter(part.items()))
        return {kind: [fill(item) for item in items]}

    return WorkflowRun(jobs=jobs, tree=fill(shape))
