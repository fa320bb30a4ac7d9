"""The write side: every entry point (API, dashboard, admin, CLI, tasks backend) changes jobs through these.

One module per area: enqueue, batches, workflows (chains and groups), workflow_actions (a workflow's
failed part retried, the rest cancelled), job_actions (cancel, retry, run now, delete, progress), queues,
retention, schedules (a schedule's definition checked in schedule_definitions, the workers' firing
in schedule_upkeep). The job and queue services are named here too, so callers write
`services.cancel_job(...)`; the schedule ones are called as `schedules.create_schedule(...)` after
`from jobs.services import schedules`.
"""

from jobs.options import MAX_BULK
from jobs.services.batches import NewBatch, enqueue_batch
from jobs.services.enqueue import (
    ON_CONFLICT_CHOICES,
    ON_CONFLICT_ERROR,
    JobSpec,
    build_job,
    enqueue_job,
    enqueue_job_outcome,
    enqueue_jobs,
)
from jobs.services.job_actions import (
    BulkResult,
    cancel_job,
    cancel_jobs,
    delete_job,
    delete_jobs,
    retry_job,
    retry_jobs,
    run_job_now,
    run_jobs_now,
    set_progress,
)
from jobs.services.queues import (
    pause_queue,
    resume_queue,
    set_queue_concurrency,
    set_queue_max_depth,
    set_queue_retry_policy,
)
from jobs.services.retention import PruneResult, prune_jobs, prune_workers
from jobs.services.workflow_actions import cancel_workflow, retry_workflow
from jobs.services.workflows import Chain, Group, Step, WorkflowJob, WorkflowRun, enqueue_workflow

__all__ = [
    "MAX_BULK",
    "ON_CONFLICT_CHOICES",
    "ON_CONFLICT_ERROR",
    "BulkResult",
    "Chain",
    "Group",
    "JobSpec",
    "NewBatch",
    "PruneResult",
    "Step",
    "WorkflowJob",
    "WorkflowRun",
    "build_job",
    "cancel_job",
    "cancel_jobs",
    "cancel_workflow",
    "delete_job",
    "delete_jobs",
    "enqueue_batch",
    "enqueue_job",
    "enqueue_job_outcome",
    "enqueue_jobs",
    "enqueue_workflow",
    "pause_queue",
    "prune_jobs",
    "prune_workers",
    "resume_queue",
    "retry_job",
    "retry_jobs",
    "retry_workflow",
    "run_job_now",
    "run_jobs_now",
    "set_progress",
    "set_queue_concurrency",
    "set_queue_max_depth",
    "set_queue_retry_policy",
]
