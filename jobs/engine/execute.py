"""Run one claimed job: call its task, then decide the outcome (retry policy, snooze, discard, retry in N
seconds) for the state machine to record, and what runs once it is stored (signals, hooks)."""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import os
import random
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.db import close_old_connections
from django.tasks import Task, TaskContext, TaskResult
from django.utils import timezone
from django.utils.json import normalize_json

from jobs import hooks, registry, retry, states, taskresults, tracing
from jobs.conf import engine_settings, json_size
from jobs.context import Discard, JobCancelled, JobContext, JobControl, JobTimeout, RetryIn, Snooze, set_current
from jobs.engine import failures, policies
from jobs.engine.lease import HARD_STOP_SIGNAL, LeaseKeeper
from jobs.engine.logcapture import Limits, LogBuffer
from jobs.exceptions import ResultTooLarge, UnknownTask
from jobs.models import Attempt
from jobs.retry import RetryPolicy, next_run_at
from jobs.status import FINISHED, Status

logger = logging.getLogger(__name__)
_rng = random.Random()  # noqa: S311 - jitter, not security
# Forked workers (process, isolated) would otherwise all draw the same jitter: retries in step.
os.register_at_fork(after_in_child=_rng.seed)


def get_module_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _failure(exc: BaseException, outcome: str) -> states.Failure:
    return failures.describe(exc, outcome)


# The job a process worker's main thread runs under hard limits. The signal handlers are installed
# once per process and read it, so a job costs no handler swaps; between jobs a late signal is ignored.
_hard_job: JobContext | None = None


def _on_alarm(signum: int, frame: Any) -> None:
    ctx = _hard_job
    if ctx is not None:
        raise JobTimeout(f"job {ctx.job_id} timed out after {ctx.timeout}s")


def _on_stop(signum: int, frame: Any) -> None:
    ctx = _hard_job
    if ctx is not None:
        raise JobCancelled(f"job {ctx.job_id} was cancelled")


@contextlib.contextmanager
def _hard_limits(ctx: JobContext, hard: bool) -> Iterator[None]:
    """On a process worker's main thread: SIGALRM enforces the timeout, SIGUSR1 a cancel."""
    global _hard_job
    if not hard:
        yield
        return
    if signal.getsignal(signal.SIGALRM) is not _on_alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.signal(HARD_STOP_SIGNAL, _on_stop)
    _hard_job = ctx
    if ctx.timeout:
        signal.setitimer(signal.ITIMER_REAL, ctx.timeout)
    try:
        yield
    finally:
        if ctx.timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
        _hard_job = None


def _call(claimed: states.ClaimedJob, task: Task[..., Any], result: TaskResult[..., Any]) -> Any:
    taskresults.notify_started(task, result)
    if task.takes_context:
        return task.call(TaskContext(task_result=result), *claimed.args, **claimed.payload)
    return task.call(*claimed.args, **claimed.payload)


def execute(
    claimed: states.ClaimedJob,
    *,
    keeper: LeaseKeeper,
    policy: RetryPolicy,
    hard_stops: bool,
    log_limits: Limits | None = None,
    max_result_bytes: int | None = None,
) -> tuple[states.Finish, Callable[[], None] | None]:
    """Run a claimed job and return how it ended, for the storage to record with the next claim,
    and what to call once that outcome is stored (task_finished; None when nothing is due). The
    job's lease stays with `keeper` until the caller calls keeper.stored().

    `hard_stops` is true on process workers: the job runs on the main thread, where signals can
    interrupt it. KeyboardInterrupt (shutdown past its grace) puts the job back in the queue at
    once and propagates. With `log_limits`, the task's log lines are kept with the attempt. A
    result larger than `max_result_bytes` (as JSON) fails the job instead of being stored.
    """
    close_old_connections()
    hard = hard_stops and threading.current_thread() is threading.main_thread()
    ctx = JobContext(
        job_id=claimed.id,
        attempt=claimed.attempt,
        max_attempts=claimed.max_attempts,
        worker=claimed.worker,
        timeout=claimed.timeout,
        snoozes=claimed.snoozes,
        logs=None if log_limits is None else LogBuffer(job_id=claimed.id, attempt=claimed.attempt, limits=log_limits),
        task=claimed.task_name,
        queue=claimed.queue,
    )
    set_current(ctx)
    keeper.track(ctx, hard_stop_thread=threading.get_ident() if hard else None)
    outcome: states.Finish | None = None
    try:
        try:
            task = registry.resolve_for_execution(claimed.task_name).task
        except UnknownTask as exc:
            # Retrying cannot help. Not reached from runworkers: its claims take only the tasks it
            # loaded at start (versioned tasks), so a job of a task it lacks waits, unclaimed.
            failure = _failure(exc, Attempt.Outcome.FAILED)
            outcome = states.Finish(claimed, Status.FAILED, "task not found", failure=failure)
            return outcome, hooks.after_stored(outcome, None)  # the project's on_failure hooks
        # The signals carry what get_result() returns at that moment: on a retry, the earlier errors.
        earlier = taskresults.earlier_attempts(claimed)
        result = taskresults.claimed_result(task, claimed, earlier)
        with _traced(claimed, ctx):
            outcome = _run(claimed, task, result, ctx, hard, policy, max_result_bytes)
    finally:
        # A returned outcome is written later (with the next claim): the keeper renews the lease
        # until then (the caller tells it when: LeaseKeeper.stored()).
        keeper.untrack(ctx, outcome_pending=outcome is not None)
        set_current(None)
        _write_logs(ctx)
        close_old_connections()
    return outcome, _after_stored(outcome, task, earlier)


def _traced(claimed: states.ClaimedJob, ctx: JobContext) -> tracing.JobSpan:
    """The attempt's trace: with OpenTelemetry, a span whose parent is the job's trace context (read
    then, one query); without, the job's context for the jobs it enqueues, read only if it enqueues
    one or asks (the claim does not return it, so jobs that never ask cost nothing)."""

    def attributes() -> dict[str, Any]:
        return {
            "messaging.system": "jobdeck",
            "messaging.destination.name": claimed.queue,
            "messaging.message.id": str(claimed.id),
            "jobdeck.task": claimed.task_name,
            "jobdeck.attempt": claimed.attempt,
        }

    return tracing.JobSpan(f"{claimed.task_name} process", lambda: ctx.trace_context, attributes)


def _after_stored(outcome: states.Finish, task: Task[..., Any] | None, earlier: list[Any]) -> Callable[[], None] | None:
    """What to call once `outcome` is stored: Django's task_finished (a job that has ended), then the
    hooks; None when nothing is due."""
    run_hooks = hooks.after_stored(outcome, task)
    if outcome.to not in FINISHED or task is None:
        return run_hooks
    notify = functools.partial(taskresults.notify_finished, task, outcome, earlier)
    return notify if run_hooks is None else functools.partial(_in_turn, notify, run_hooks)


def _in_turn(*calls: Callable[[], object]) -> None:
    """Call each after the outcome is stored (Django's task_finished, then the hooks); one that
    raises is logged and the next still runs."""
    for call in calls:
        try:
            call()
        except Exception:
            logger.exception("a call after a stored outcome failed")


def _write_logs(ctx: JobContext) -> None:
    """Store the attempt's remaining log lines; losing them must not lose the outcome."""
    if ctx.logs is None:
        return
    try:
        ctx.logs.write(final=True)
    except Exception:
        logger.exception("could not store the log lines of job %s", ctx.job_id, extra={"job_id": ctx.job_id})


def _run(
    claimed: states.ClaimedJob,
    task: Task[..., Any],
    result: TaskResult[..., Any],
    ctx: JobContext,
    hard: bool,
    policy: RetryPolicy,
    max_result_bytes: int | None,
) -> states.Finish:
    """Call the task and decide the outcome."""
    try:
        with _hard_limits(ctx, hard):
            value = _call(claimed, task, result)
        value = normalize_json(value)
        if ctx.timed_out():
            raise JobTimeout(f"job {ctx.job_id} timed out after {ctx.timeout}s")
    except KeyboardInterrupt:
        failure = states.Failure(outcome=Attempt.Outcome.INTERRUPTED, message="interrupted by shutdown")
        states.record(states.Finish(claimed, Status.QUEUED, "interrupted by shutdown", failure=failure))
        raise
    except JobCancelled as exc:
        return states.Finish(claimed, Status.CANCELLED, "cancelled", failure=_failure(exc, Attempt.Outcome.CANCELLED))
    except JobControl as exc:
        if ctx.cancel_requested:
            failure = _failure(exc, Attempt.Outcome.CANCELLED)
            return states.Finish(claimed, Status.CANCELLED, "cancelled", failure=failure)
        return _controlled(claimed, task, exc)
    except (Exception, SystemExit) as exc:
        return _failed(claimed, task, ctx, exc, policy)
    if ctx.cancel_requested:  # finished anyway: the result is discarded, as cancel promised
        failure = states.Failure(
            outcome=Attempt.Outcome.CANCELLED,
            error_class=get_module_path(JobCancelled),
            message="cancelled while running",
        )
        return states.Finish(claimed, Status.CANCELLED, "cancelled", failure=failure)
    if max_result_bytes is not None:
        size = json_size(value)
        if size > max_result_bytes:
            # Not retried: another attempt would most likely return as much again.
            failure = _failure(ResultTooLarge(size, max_result_bytes), Attempt.Outcome.FAILED)
            return states.Finish(claimed, Status.FAILED, "result too large", failure=failure)
    return states.Finish(claimed, Status.DONE, "done", result=value)


def _controlled(claimed: states.ClaimedJob, task: Task[..., Any], exc: JobControl) -> states.Finish:
    """The outcome a task asked for: snooze (no attempt used, bounded), discard, retry in N seconds."""
    now = timezone.now()
    if isinstance(exc, Snooze):
        limit = (claimed.retry_policy or {}).get("max_snoozes")  # the job's own (JobSpec.max_snoozes)
        if limit is None:
            limit = getattr(task, "max_snoozes", None)
        if limit is None:
            limit = engine_settings().max_snoozes
        if claimed.snoozes >= limit:
            message = f"snoozed more than {limit} times"
            failure = states.Failure(
                outcome=Attempt.Outcome.FAILED, error_class=get_module_path(Snooze), message=message
            )
            return states.Finish(claimed, Status.FAILED, message, failure=failure)
        until = now + datetime.timedelta(seconds=exc.seconds)
        failure = states.Failure(outcome=Attempt.Outcome.SNOOZED, error_class=get_module_path(Snooze), message=str(exc))
        reason = f"snoozed until {until.isoformat(timespec='seconds')} (snooze {claimed.snoozes + 1} of {limit})"
        return states.Finish(claimed, Status.RETRYING, reason, failure=failure, retry_at=until)
    if isinstance(exc, Discard):
        failure = states.Failure(
            outcome=Attempt.Outcome.FAILED, error_class=get_module_path(Discard), message=exc.reason
        )
        return states.Finish(claimed, Status.FAILED, f"discarded: {exc.reason}", failure=failure)
    assert isinstance(exc, RetryIn)
    failure = states.Failure(outcome=Attempt.Outcome.FAILED, error_class=get_module_path(RetryIn), message=str(exc))
    if claimed.attempts_spent >= claimed.max_attempts:
        return states.Finish(claimed, Status.FAILED, "attempts exhausted", failure=failure)
    until = now + datetime.timedelta(seconds=exc.seconds)
    return states.Finish(claimed, Status.RETRYING, f"retry in {exc.seconds:g}s", failure=failure, retry_at=until)


def _failed(
    claimed: states.ClaimedJob, task: Task[..., Any] | None, ctx: JobContext, exc: BaseException, policy: RetryPolicy
) -> states.Finish:
    """A raised attempt: cancelled if a cancel was asked for; failed at once if the retry policy says
    the error is not worth retrying (discard_on, retry_on); else retried while attempts remain."""
    if ctx.cancel_requested:
        return states.Finish(claimed, Status.CANCELLED, "cancelled", failure=_failure(exc, Attempt.Outcome.CANCELLED))
    failure = _failure(exc, Attempt.Outcome.TIMEOUT if isinstance(exc, JobTimeout) else Attempt.Outcome.FAILED)
    logger.info(
        "job %s attempt %s raised %s",
        claimed.id,
        claimed.attempt,
        type(exc).__name__,
        extra={"job_id": claimed.id, "worker_id": claimed.worker},
    )
    try:
        rules = policies.resolve(claimed, task)
    except Exception:  # the queues' defaults unreadable (database refusing): the settings' policy
        logger.exception("could not read the retry policy of job %s", claimed.id, extra={"job_id": claimed.id})
        rules = policies.DEFAULT_RULES
    name = get_module_path(type(exc))
    if rules.discard_on and retry.matches(type(exc), rules.discard_on):
        return states.Finish(claimed, Status.FAILED, f"discarded: {name} matches discard_on", failure=failure)
    if rules.retry_on and not retry.matches(type(exc), rules.retry_on):
        return states.Finish(claimed, Status.FAILED, f"not retried: {name} is not in retry_on", failure=failure)
    retry_at = next_run_at(
        attempt=claimed.attempts_spent,
        max_attempts=claimed.max_attempts,
        policy=policy if rules.backoff is None else rules.backoff,
        now=timezone.now(),
        rng=_rng,
    )
    if retry_at is None:
        return states.Finish(claimed, Status.FAILED, "attempts exhausted", failure=failure)
    return states.Finish(claimed, Status.RETRYING, "will retry", failure=failure, retry_at=retry_at)


def after_stored_elsewhere(outcome: states.Finish) -> Callable[[], None] | None:
    """What to call once an outcome decided outside execute() (failed_elsewhere: a crashed or killed
    isolated job) is stored: the same as for an outcome execute() returns, task_finished when the job
    has ended, then the task's and the project's hooks. Runs in the isolated slot, whose job process
    is gone; a hook that raises is logged and noted, as anywhere."""
    try:
        task: Task[..., Any] | None = registry.resolve_for_execution(outcome.claimed.task_name).task
    except UnknownTask:
        task = None  # the project's hooks still run
    earlier = taskresults.earlier_attempts(outcome.claimed) if outcome.to in FINISHED and task is not None else []
    return _after_stored(outcome, task, earlier)


def failed_elsewhere(
    claimed: states.ClaimedJob, exc: BaseException, cancelled: bool, *, policy: RetryPolicy
) -> states.Finish:
    """The outcome of an attempt that ended outside execute(): its process crashed or was killed
    (isolated workers, jobs.engine.isolated). Decided as a raised attempt is: cancelled if it was
    cancelled, else retried while attempts remain."""
    ctx = JobContext(
        job_id=claimed.id,
        attempt=claimed.attempt,
        max_attempts=claimed.max_attempts,
        worker=claimed.worker,
        timeout=claimed.timeout,
    )
    if cancelled:
        ctx.cancel_event.set()
    try:  # the task's own retry policy, as for an attempt that raised in this process
        task: Task[..., Any] | None = registry.resolve_for_execution(claimed.task_name).task
    except UnknownTask:
        task = None
    return _failed(claimed, task, ctx, exc, policy)
