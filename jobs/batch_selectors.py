"""The read side of batches (issue 13): a batch with its progress (counted from its members) and its
callbacks' states, one or a page of them."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import asdict, dataclass

from django.db.models import Count, Max, Q

from jobs.exceptions import BatchNotFound
from jobs.models import Batch, Job
from jobs.status import FINISHED, WAITING, Status

CALLBACK_ROLES = ("on_success", "on_complete", "on_failure")


@dataclass(frozen=True)
class Progress:
    """A batch's members by state. Members pruned since are in `total` only."""

    total: int
    done: int
    failed: int
    cancelled: int
    running: int
    waiting: int  # scheduled, queued or retrying

    @property
    def finished(self) -> bool:
        return self.running == 0 and self.waiting == 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Callback:
    job_id: int
    status: str | None  # None: the job was pruned


@dataclass(frozen=True)
class BatchDetail:
    id: int
    description: str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None  # the last member's finish, once every member finished
    progress: Progress
    on_success: Callback | None
    on_complete: Callback | None
    on_failure: Callback | None


def _progress(total: int, counts: dict[str, int]) -> Progress:
    return Progress(
        total=total,
        done=counts.get(Status.DONE, 0),
        failed=counts.get(Status.FAILED, 0),
        cancelled=counts.get(Status.CANCELLED, 0),
        running=counts.get(Status.RUNNING, 0),
        waiting=sum(counts.get(s, 0) for s in WAITING),
    )


def _details(batches: list[Batch]) -> list[BatchDetail]:
    """BatchDetails of `batches` in three queries whatever their number: the members' counts (an
    index-only scan of job_batch_status_idx), the last finish of the finished batches, the callbacks."""
    ids = [b.pk for b in batches]
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    rows = Job.objects.filter(batch_id__in=ids).values_list("batch_id", "status").annotate(n=Count("*"))
    for batch_id, state, n in rows.order_by():
        counts[batch_id][state] = n
    progress = {b.pk: _progress(b.total, counts[b.pk]) for b in batches}
    done = [pk for pk, p in progress.items() if p.finished]
    last: dict[int | None, datetime.datetime | None] = {}
    if done:
        ends = Job.objects.filter(batch_id__in=done, status__in=sorted(FINISHED)).values("batch_id")
        last = dict(ends.annotate(last=Max("finished_at")).order_by().values_list("batch_id", "last"))
    callback_ids = [pk for b in batches for pk in b.callback_ids.values() if pk is not None]
    states = dict(Job.objects.filter(pk__in=callback_ids).values_list("pk", "status"))

    def callback(pk: int | None) -> Callback | None:
        return None if pk is None else Callback(job_id=pk, status=states.get(pk))

    return [
        BatchDetail(
            id=b.pk,
            description=b.description,
            created_at=b.created_at,
            finished_at=last.get(b.pk),
            progress=progress[b.pk],
            on_success=callback(b.on_success_id),
            on_complete=callback(b.on_complete_id),
            on_failure=callback(b.on_failure_id),
        )
        for b in batches
    ]


def batch_detail(batch_id: int) -> BatchDetail:
    """One batch with its progress and callbacks. Raises BatchNotFound."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise BatchNotFound(batch_id)
    return _details([batch])[0]


def list_batches(*, before_id: int | None = None, offset: int = 0, limit: int = 50) -> list[BatchDetail]:
    """Batches newest first: after an offset, or (keyset) before an id."""
    qs = Batch.objects.order_by("-id")
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    return _details(list(qs[offset : offset + limit]))


def batch_of_callback(job_id: int) -> Batch | None:
    """The batch whose callback `job_id` is, if any (one query through the batch_on_*_idx indexes)."""
    found = Batch.objects.filter(Q(on_success_id=job_id) | Q(on_complete_id=job_id) | Q(on_failure_id=job_id))
    return found.first()
