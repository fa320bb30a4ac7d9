"""The one error hierarchy of Jobdeck; each edge maps it to its own form (HTTP status, CommandError)."""


class JobdeckError(Exception):
    """Base error: a readable message and the HTTP status an edge should answer with."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidJob(JobdeckError):
    """The job request itself is wrong (bad task, payload, priority, run_at...)."""


class UnknownTask(InvalidJob):
    """No registered task has that name."""


class InvalidSearch(JobdeckError):
    """A jobs search or filter that cannot be run (malformed, too long, or naming no known task)."""


class PayloadTooLarge(InvalidJob):
    """A job's args and payload are over JOBDECK_MAX_PAYLOAD_BYTES."""

    status_code = 413

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload too large: {size} bytes > limit {limit} bytes")


class ResultTooLarge(JobdeckError):
    """A task returned more than JOBDECK_MAX_RESULT_BYTES; the attempt fails with this error."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"result too large: {size} bytes > limit {limit} bytes")


class JobNotFound(JobdeckError):
    status_code = 404

    def __init__(self, job_id: object) -> None:
        super().__init__("Job not found")
        self.job_id = job_id


class BatchNotFound(JobdeckError):
    status_code = 404

    def __init__(self, batch_id: object) -> None:
        super().__init__("Batch not found")
        self.batch_id = batch_id


class TaskNotFound(JobdeckError):
    """No registered task, live worker or stored job has that task name (the per-task figures)."""

    status_code = 404


class InvalidTransition(JobdeckError):
    """The job's current state does not allow the requested move."""

    status_code = 409

    def __init__(self, job_id: object, current: str, wanted: str) -> None:
        super().__init__(f"Job {job_id} is {current} and cannot become {wanted}")
        self.job_id = job_id
        self.current = current
        self.wanted = wanted


class Conflict(JobdeckError):
    """The request clashes with another job (e.g. an unfinished job holds the same idempotency key)."""

    status_code = 409


class InvalidQueue(JobdeckError):
    """A queue name or queue setting is not acceptable."""


class InvalidSchedule(JobdeckError):
    """A schedule definition is not acceptable (cron expression, timezone, task or job options)."""


class RateLimitNotFound(JobdeckError):
    status_code = 404

    def __init__(self) -> None:
        super().__init__("Rate limit not found")


class ScheduleNotFound(JobdeckError):
    status_code = 404

    def __init__(self, schedule_id: object) -> None:
        super().__init__("Schedule not found")
        self.schedule_id = schedule_id


class DatabaseUnavailable(JobdeckError):
    """The database refused a write (disk full, lock held too long, connection lost); nothing was stored.

    Raised by the write services (enqueue, cancel, retry, queue and schedule changes...) instead of
    Django's raw OperationalError, so every caller meets one documented error: the API answers 503
    with Retry-After, the CLI prints one line, Python callers may retry later.
    """

    status_code = 503
    retry_after = 5  # seconds a client should wait before trying again

    def __init__(self, reason: str) -> None:
        super().__init__(f"Database unavailable ({reason}); nothing was stored, try again later")
        self.reason = reason


class QueueFull(JobdeckError):
    """The queue holds its max_depth of waiting jobs (back-pressure): nothing was stored.

    Raised by enqueue_job / enqueue_jobs (a bulk is refused whole), so the Django Tasks backend's
    enqueue raises it too. The API answers 429 with Retry-After, the CLI prints one line.
    """

    status_code = 429
    retry_after = 5  # seconds a client should wait before trying again

    def __init__(self, queue: str, *, depth: int, max_depth: int, wanted: int = 1) -> None:
        if wanted > max_depth:
            message = f"queue '{queue}' holds at most {max_depth} waiting jobs: {wanted} can never fit"
        elif wanted == 1:
            message = f"queue '{queue}' is full ({depth} of {max_depth} waiting jobs)"
        else:
            room = max(0, max_depth - depth)
            message = f"queue '{queue}' has room for {room} more waiting jobs, not {wanted} ({max_depth} at most)"
        super().__init__(f"{message}; nothing was stored, try again later")
        self.queue = queue
        self.depth = depth
        self.max_depth = max_depth
        self.wanted = wanted
