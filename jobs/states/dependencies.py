"""Dependencies between jobs (issue 13): a new job's links to its parents, and a finished parent's
release of the children waiting for it.

A child waits `scheduled` with pending_parents > 0: promotion skips it, so it is never queued and
never claimed, and the claim itself costs nothing more. Each parent's finish, in the transaction
that writes the parent's outcome, resolves its links once and counts itself on each child; the
child is promoted (or, after a parent failed, cancelled; with after_failure "only", cancelled unless
one failed) by promote_due like any due job. A batch's callbacks are such children (batches.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from jobs.database import Hot
from jobs.exceptions import InvalidJob
from jobs.models import Batch
from jobs.states import sql
from jobs.states.records import NewJob
from jobs.status import FINISHED, Status

# At most this many parents per job: one statement's parameters, and a fan-in that large is a batch.
MAX_PARENTS = 1000
MAX_JOB_ID = 2**63 - 1  # a bigint: a larger id cannot exist, and the database would refuse it as a parameter


def release_children(hot: Hot, *, parent_id: int, status: str) -> None:
    """Count the finish of job `parent_id` (now `status`, one of FINISHED) on the children waiting
    for it, in the caller's transaction. Does nothing for a job without unresolved children, and
    nothing the second time."""
    if hot.pg:
        hot.execute(sql.RELEASE_CHILDREN_PG, [parent_id])
        return
    children = [row[0] for row in hot.execute(sql.RESOLVE_LINKS_SQLITE, [parent_id]).fetchall()]
    if children:
        values = {"status": status, "parent": parent_id}
        params = [values[name] for name in sql.COUNT_PARENT_ORDER]
        hot.execute(sql.COUNT_PARENT_SQLITE, [*params, json.dumps(children)])


def no_failure_reason(job_id: int) -> str:
    """Why a job with after_failure "only" ends cancelled once every parent is done: a batch's
    on_failure callback says so in the batch's words."""
    if Batch.objects.filter(on_failure_id=job_id).exists():
        return "batch succeeded: no failure callback needed"
    return "no dependency failed: nothing to run after a failure"


def lock_parents(hot: Hot, jobs: Sequence[NewJob]) -> dict[int, str]:
    """Before new jobs with `after` are inserted: mark their parents as having dependents and return
    each parent's status, read under the parent's row lock (PostgreSQL; SQLite's write lock holds
    the whole database), so a parent finishing at the same time either finished before (its status
    says so) or releases the new links after this transaction commits. Raises InvalidJob naming a
    parent that does not exist."""
    wanted = sorted({parent for job in jobs for parent in job.after})
    if not wanted:
        return {}
    if hot.pg:
        hot.execute(sql.LOCK_PARENTS_PG, [wanted]).fetchall()
        rows = hot.execute(sql.MARK_PARENTS_PG, [wanted]).fetchall()
    else:
        rows = hot.execute(sql.MARK_PARENTS_SQLITE, [json.dumps(wanted)]).fetchall()
    found = {row[0]: row[1] for row in rows}
    missing = [parent for parent in wanted if parent not in found]
    if missing:
        raise InvalidJob(f"after: job #{missing[0]} does not exist")
    return found


def plan_waits(jobs: Sequence[NewJob], parents: dict[int, str]) -> None:
    """Set each new job's pending_parents (its parents not finished yet) and, when one already
    failed or was cancelled, failed_parent (and, with after_failure "cancel", the reason)."""
    for job in jobs:
        if not job.after and not job.after_refs:
            continue
        # A parent of the same request (after_refs) was created in this transaction: not finished.
        job.pending_parents = sum(1 for parent in job.after if parents[parent] not in FINISHED) + len(job.after_refs)
        failed = next((p for p in job.after if parents[p] in (Status.FAILED, Status.CANCELLED)), None)
        if failed is not None:
            job.failed_parent = failed
            if job.after_failure == "cancel":
                job.pending_parents = 0
                job.last_error = f"dependency #{failed} {parents[failed]}"


def insert_links(hot: Hot, jobs: Sequence[NewJob], parents: dict[int, str], request: Sequence[NewJob] = ()) -> None:
    """The JobDependency rows of new (stored) jobs; a link to a finished parent is resolved already.
    `request`: every job of the enqueue, stored up to these, which `after_refs` index (chains)."""
    links = [(job.pk, parent, parents[parent] in FINISHED) for job in jobs for parent in job.after]
    refs = sorted({cast(int, request[ref].pk) for job in jobs for ref in job.after_refs})
    if refs:  # the same request's parents: new rows, only marked (so their finish looks for children)
        mark = sql.MARK_PARENTS_PG if hot.pg else sql.MARK_PARENTS_SQLITE
        hot.execute(mark, [refs if hot.pg else json.dumps(refs)]).fetchall()
        links += [(job.pk, cast(int, request[ref].pk), False) for job in jobs for ref in job.after_refs]
    for start in range(0, len(links), 300):
        chunk = links[start : start + 300]
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        hot.execute(sql.INSERT_LINKS + values, [value for link in chunk for value in link])


def check_after(after: object) -> tuple[int, ...]:
    """A job's `after` as given (ids of existing jobs), checked: distinct positive ids, at most
    MAX_PARENTS. Raises InvalidJob."""
    if isinstance(after, str | bytes) or not hasattr(after, "__iter__"):
        raise InvalidJob("after must be a list of job ids")
    ids: dict[int, None] = {}  # distinct, in the order given
    for item in after:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_JOB_ID:
            raise InvalidJob("after must be a list of job ids")
        ids[item] = None
    if len(ids) > MAX_PARENTS:
        raise InvalidJob(f"after: at most {MAX_PARENTS} jobs")
    return tuple(ids)
