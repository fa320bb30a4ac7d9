"""The job state machine: the only code that writes Job.status, each move a conditional UPDATE plus a JobEvent.

Every write here filters on the status (and attempt) the caller read, and checks the row count, so
a duplicate delivery, a late heartbeat, a rescue racing a finish or a racing cancel can never move a
job backwards, revive a finished job, or let two workers run it at once.

The package's files:
  records.py    ClaimedJob, NewJob, Failure, Finish: what the moves take and hand out
  decisions.py  the rules with no database: allowed moves, what a finish or a rescue sets
  history.py    the one writer of JobEvent and Attempt rows (columns and truncation, once)
  create.py     enqueue's multi-row insert
  dependencies.py  a new job's links to its parents; a finished parent's release of its children
  rearm.py      a workflow retry: failed jobs and the children they cancelled wait again for their parents
  passing.py    result passing (chains): a job's result_input checked, stored, and written into its args
  batches.py    a batch's insert: members, callbacks and the links between them
  hot.py        the worker's per-job moves on a raw connection: claim, finish, late finish
  orm.py        the cold moves through the ORM: transition, cancel, renew, rescue, promote, expire, release
  reads.py      the engine's reads between moves: next due time, cancel requests
  sql.py        the hot statements' text, per dialect

Callers import the verbs from here: `from jobs import states; states.claim_next(...)`.
"""

from jobs.states.batches import create_batch
from jobs.states.create import create_jobs
from jobs.states.dependencies import MAX_PARENTS, check_after
from jobs.states.hot import claim_next, finish_and_claim, record
from jobs.states.orm import (
    expire_due,
    promote_due,
    record_note,
    release_worker_jobs,
    renew_leases,
    request_cancel,
    rescue_expired,
    transition,
)
from jobs.states.passing import check_result_input
from jobs.states.passing import resolve as resolve_result_input
from jobs.states.reads import cancel_requested, next_due_at
from jobs.states.rearm import rearm_failed
from jobs.states.records import ClaimedJob, Failure, Finish, NewJob, Ref
from jobs.status import attempts_spent

__all__ = [
    "MAX_PARENTS",
    "ClaimedJob",
    "Failure",
    "Finish",
    "NewJob",
    "Ref",
    "attempts_spent",
    "cancel_requested",
    "check_after",
    "check_result_input",
    "claim_next",
    "create_batch",
    "create_jobs",
    "expire_due",
    "finish_and_claim",
    "next_due_at",
    "promote_due",
    "record",
    "rearm_failed",
    "record_note",
    "release_worker_jobs",
    "renew_leases",
    "request_cancel",
    "resolve_result_input",
    "rescue_expired",
    "transition",
]
