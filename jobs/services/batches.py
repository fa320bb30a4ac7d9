"""Batches (issue 13): enqueue a tracked set of jobs with on_success, on_complete and on_failure
callbacks, all or nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from jobs import states, tracing
from jobs.conf import engine_settings, size_limits
from jobs.dbguard import write_service
from jobs.exceptions import InvalidJob, QueueFull
from jobs.models import Batch
from jobs.services import backpressure
from jobs.services.enqueue import JobSpec, announced, build_job

MAX_BATCH = 100_000  # members per batch: a batch's insert is one transaction
DESCRIPTION_CHARS = 200


@dataclass(frozen=True)
class NewBatch:
    """A stored batch: the Batch row, its members' records in the order given, and its callbacks'
    records by role ("on_success", "on_complete", "on_failure"; absent when not given)."""

    batch: Batch
    jobs: list[states.NewJob]
    callbacks: dict[str, states.NewJob]


@write_service
def enqueue_batch(
    *,
    specs: Sequence[JobSpec],
    on_success: JobSpec | None = None,
    on_complete: JobSpec | None = None,
    on_failure: JobSpec | None = None,
    description: str = "",
    actor: str = "",
) -> NewBatch:
    """Validate and store a batch: its members and its callbacks in one transaction, all or nothing.

    on_success runs once when every member is done; on_complete once when every member has finished
    however it ended; on_failure once when every member has finished and at least one failed for
    good or was cancelled (when none did, it ends cancelled: "batch succeeded: no failure callback
    needed"). Each callback is a job waiting for every member (jobs.states.batches).

    Raises InvalidJob naming the first bad item ("job 3: ...", "on_failure: ...") and writes
    nothing; QueueFull, writing nothing, when the new jobs would take a queue past its max_depth.
    Members and callbacks cannot have an idempotency key or unique_for (an existing job cannot join
    a batch); a callback cannot have `after` (it waits for the batch).
    """
    if not specs:
        raise InvalidJob("a batch needs at least one job")
    if len(specs) > MAX_BATCH:
        raise InvalidJob(f"at most {MAX_BATCH} jobs per batch")
    if not isinstance(description, str) or len(description) > DESCRIPTION_CHARS:
        raise InvalidJob(f"description must be a string of at most {DESCRIPTION_CHARS} characters")
    now = timezone.now()
    default_max_attempts = engine_settings().default_max_attempts
    max_payload_bytes = size_limits().max_payload_bytes
    ambient_trace = tracing.capture()  # the trace a spec without its own carries, as in enqueue_jobs()

    def build(spec: JobSpec, where: str) -> states.NewJob:
        try:
            job = build_job(spec, now, default_max_attempts, max_payload_bytes, ambient_trace=ambient_trace)
        except InvalidJob as exc:
            raise InvalidJob(f"{where}: {exc.message}") from None
        if job.idempotency_key is not None:
            raise InvalidJob(f"{where}: a job of a batch cannot have an idempotency key or unique_for")
        return job

    jobs = [build(spec, f"job {index}") for index, spec in enumerate(specs)]
    given = {"on_success": on_success, "on_complete": on_complete, "on_failure": on_failure}
    callbacks = {role: build(spec, role) for role, spec in given.items() if spec is not None}
    for role, job in callbacks.items():
        if job.after:
            raise InvalidJob(f"{role}: a callback cannot have `after`: it waits for the batch")

    def store() -> NewBatch:
        batch = states.create_batch(members=jobs, callbacks=callbacks, description=description, actor=actor)
        announced([*jobs, *callbacks.values()])
        return NewBatch(batch=batch, jobs=jobs, callbacks=callbacks)

    wanted = backpressure.limited(Counter(job.queue for job in [*jobs, *callbacks.values()]))
    try:
        return backpressure.admit(wanted, store) if wanted else store()
    except QueueFull as exc:
        backpressure.record_refusal(exc)
        raise
