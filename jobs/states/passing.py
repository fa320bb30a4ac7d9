"""Result passing (chains): which parents' results a new job takes as its first argument, checked
and stored with the job, and written into its args when its parents are done.

A job's result_input is a parent (a job id, or a Ref to an earlier job of the same request) or a
list of them, nested as deep as the groups it follows: `12` takes job 12's result, `[12, 13]` the
list of both results. The args are filled when promote_due() queues the job: every parent has
committed its finish by then (the last one brought pending_parents to zero in its transaction), so
one read sees all their results, and the job page shows the real input before the job runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from jobs.exceptions import InvalidJob
from jobs.models import Job
from jobs.states.records import NewJob, Ref

MAX_SHAPE_DEPTH = 8  # nesting of lists in a result_input: groups in groups that deep are a mistake


def leaves(shape: Any) -> Iterator[Any]:
    """The parents a result_input names, in order."""
    stack = [shape]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
        else:
            yield item


def check_result_input(shape: Any, after: Sequence[int], after_refs: Sequence[int]) -> Any:
    """`shape` checked against the job's parents; returned as lists (JSON). Raises InvalidJob when
    it names a job that is not a parent, or nests deeper than MAX_SHAPE_DEPTH."""

    def walk(item: Any, depth: int) -> Any:
        if isinstance(item, list | tuple):
            if depth >= MAX_SHAPE_DEPTH:
                raise InvalidJob(f"result_input nests more than {MAX_SHAPE_DEPTH} lists deep")
            return [walk(part, depth + 1) for part in item]
        if isinstance(item, Ref) and item.index in after_refs:
            return item
        if isinstance(item, int) and not isinstance(item, bool) and item in after:
            return item
        raise InvalidJob("result_input must name jobs of after, alone or in (nested) lists")

    return walk(shape, 0)


def resolve(shape: Any, request: Sequence[NewJob]) -> Any:
    """`shape` with each Ref made the id of the (stored) job it points to."""
    if isinstance(shape, list):
        return [resolve(part, request) for part in shape]
    return request[shape.index].pk if isinstance(shape, Ref) else shape


def store_result_inputs(jobs: Sequence[NewJob], request: Sequence[NewJob]) -> None:
    """Write the result_input of stored jobs that take results, Refs made ids (one UPDATE a batch).
    The insert statements keep their columns: few jobs take results, and chains are short."""
    takers = [job for job in jobs if job.result_input is not None]
    for job in takers:
        job.result_input = resolve(job.result_input, request)
    if takers:
        Job.objects.bulk_update([Job(pk=job.pk, result_input=job.result_input) for job in takers], ["result_input"])


def fill_args(takers: dict[int, Any]) -> None:
    """Write into each job's args, first, the results its result_input names (`takers`: job id ->
    result_input), and clear result_input so a later promotion never adds them twice. In the
    caller's transaction; the jobs are locked (PostgreSQL) or the database is (SQLite)."""
    parents = {parent for shape in takers.values() for parent in leaves(shape)}
    results = dict(Job.objects.filter(pk__in=parents).values_list("pk", "result"))
    args = dict(Job.objects.filter(pk__in=list(takers)).values_list("pk", "args"))

    def value(shape: Any) -> Any:
        return [value(part) for part in shape] if isinstance(shape, list) else results.get(shape)

    for pk, shape in takers.items():
        Job.objects.filter(pk=pk).update(args=[value(shape), *args[pk]], result_input=None)
