"""JOBDECK_LOG_FORMAT=json: log records as one JSON object per line, with the running job's context."""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from jobs.context import current_job_or_none

# The attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_SKIPPED_EXTRAS = frozenset({"request"})  # Django's request logging: an HttpRequest, not data


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp (UTC, ISO 8601), level, logger, message, process, the
    record's extras (job_id, worker_id, action...), and the job running on this thread (job_id,
    task, queue, attempt, worker) when there is one; exc_info as `exception`. Never raises on a value
    JSON cannot hold: it is written as its str()."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        job = current_job_or_none()
        if job is not None:
            entry.update(job_id=job.job_id, task=job.task, queue=job.queue, attempt=job.attempt, worker=job.worker)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in _SKIPPED_EXTRAS and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii: a line stays one line whatever the message holds (newlines are escaped).
        return json.dumps(entry, default=str)
