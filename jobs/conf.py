"""Typed, lazily read Jobdeck settings: JOBDECK_* in Django settings, else the environment, else defaults."""

import json
import os
from dataclasses import dataclass

from django.conf import settings


def read_setting(name: str, default: float) -> float:
    """A numeric setting: the Django setting `name`, else the environment variable, else `default`."""
    if hasattr(settings, name):
        return float(getattr(settings, name))
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def read_flag(name: str, default: bool) -> bool:
    """A yes/no setting: the Django setting `name`, else the environment variable (1/true/yes/on or
    0/false/no/off), else `default`."""
    if hasattr(settings, name):
        return bool(getattr(settings, name))
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in _TRUE | _FALSE:
        raise ValueError(f"{name} must be 1 or 0 (true or false), got {raw!r}")
    return raw in _TRUE


@dataclass(frozen=True)
class EngineSettings:
    """Numbers that shape the engine; every one can be set as JOBDECK_<NAME>."""

    lease_seconds: float  # how long a claim lasts without a heartbeat
    heartbeat_seconds: float  # how often a worker renews the leases it holds
    rescue_interval_seconds: float  # how often expired leases are looked for
    cancel_grace_seconds: float  # how long a running job may ignore a cancel before a hard stop
    shutdown_grace_seconds: float  # how long SIGTERM waits for running jobs
    retry_base_seconds: float  # first retry delay; doubles each attempt, with jitter
    retry_max_seconds: float  # cap on a single retry delay
    default_max_attempts: int
    max_snoozes: int  # times a job may snooze (jobs.context.snooze) unless its task says
    idle_wait_seconds: float  # longest an idle worker waits before returning to huey's loop
    sqlite_probe_seconds: float  # how often an idle SQLite worker looks for a new commit
    retention_days: float  # done and cancelled jobs are pruned this long after they finished
    failed_retention_days: float  # failed jobs (the dead-letter set) are kept longer
    prune_batch: int  # jobs deleted per transaction
    prune_interval_seconds: float  # how often workers prune
    worker_retention_seconds: float  # gone worker rows are deleted this long after they were last heard from
    schedule_interval_seconds: float  # how often workers look for cron schedules that are due
    log_max_lines: int  # log lines kept per attempt; later ones are counted, not stored
    log_max_line_chars: int  # a longer log line is cut to this length


def engine_settings() -> EngineSettings:
    """Read the engine settings now (never at import time)."""
    return EngineSettings(
        lease_seconds=read_setting("JOBDECK_LEASE_SECONDS", 15.0),
        heartbeat_seconds=read_setting("JOBDECK_HEARTBEAT_SECONDS", 5.0),
        rescue_interval_seconds=read_setting("JOBDECK_RESCUE_INTERVAL_SECONDS", 2.0),
        cancel_grace_seconds=read_setting("JOBDECK_CANCEL_GRACE_SECONDS", 10.0),
        shutdown_grace_seconds=read_setting("JOBDECK_SHUTDOWN_GRACE_SECONDS", 30.0),
        retry_base_seconds=read_setting("JOBDECK_RETRY_BASE_SECONDS", 5.0),
        retry_max_seconds=read_setting("JOBDECK_RETRY_MAX_SECONDS", 3600.0),
        default_max_attempts=int(read_setting("JOBDECK_DEFAULT_MAX_ATTEMPTS", 3)),
        max_snoozes=int(read_setting("JOBDECK_MAX_SNOOZES", 10)),
        idle_wait_seconds=read_setting("JOBDECK_IDLE_WAIT_SECONDS", 2.0),
        sqlite_probe_seconds=read_setting("JOBDECK_SQLITE_PROBE_SECONDS", 0.004),
        retention_days=read_setting("JOBDECK_RETENTION_DAYS", 7.0),
        failed_retention_days=read_setting("JOBDECK_FAILED_RETENTION_DAYS", 30.0),
        prune_batch=int(read_setting("JOBDECK_PRUNE_BATCH", 1000)),
        prune_interval_seconds=read_setting("JOBDECK_PRUNE_INTERVAL_SECONDS", 300.0),
        worker_retention_seconds=read_setting("JOBDECK_WORKER_RETENTION_SECONDS", 86400.0),
        schedule_interval_seconds=read_setting("JOBDECK_SCHEDULE_INTERVAL_SECONDS", 1.0),
        log_max_lines=int(read_setting("JOBDECK_LOG_MAX_LINES", 1000)),
        log_max_line_chars=int(read_setting("JOBDECK_LOG_MAX_LINE_CHARS", 4000)),
    )


@dataclass(frozen=True)
class ApiSettings:
    """Numbers that shape the REST API; every one can be set as JOBDECK_<NAME>."""

    api_max_body_bytes: int  # larger request bodies get 413
    health_max_wait_seconds: float  # /health reports DEGRADED when a runnable job has waited longer


def api_settings() -> ApiSettings:
    """Read the API settings now (never at import time)."""
    return ApiSettings(
        api_max_body_bytes=int(read_setting("JOBDECK_API_MAX_BODY_BYTES", 1024 * 1024)),
        health_max_wait_seconds=read_setting("JOBDECK_HEALTH_MAX_WAIT_SECONDS", 300.0),
    )


@dataclass(frozen=True)
class SizeLimits:
    """Bounds on what a job carries, so one job cannot fill the database or a response."""

    max_payload_bytes: int  # a job's args and payload as UTF-8 JSON; a larger one is refused at enqueue
    max_result_bytes: int  # a task's return value as UTF-8 JSON; a larger one fails the job
    list_field_max_chars: int  # job lists embed args, payload and result only up to this JSON length each


def size_limits() -> SizeLimits:
    """Read the size limits now (never at import time)."""
    return SizeLimits(
        max_payload_bytes=int(read_setting("JOBDECK_MAX_PAYLOAD_BYTES", 1024 * 1024)),
        max_result_bytes=int(read_setting("JOBDECK_MAX_RESULT_BYTES", 1024 * 1024)),
        list_field_max_chars=int(read_setting("JOBDECK_LIST_FIELD_MAX_CHARS", 4096)),
    )


def json_size(value: object) -> int:
    """Bytes of `value` as UTF-8 JSON: the measure every size limit uses."""
    return len(json.dumps(value, ensure_ascii=False).encode())


HOOK_KINDS = ("on_success", "on_failure", "on_retry", "on_cancel")


def project_hooks() -> dict[str, list[str]]:
    """JOBDECK_HOOKS: project-wide hooks, {"on_failure": ["app.hooks.notify"], ...} (dotted paths),
    run after each task's own. Raises ImproperlyConfigured for an unknown kind or a bad value."""
    from django.core.exceptions import ImproperlyConfigured

    value = getattr(settings, "JOBDECK_HOOKS", None)
    if value is None:
        raw = os.environ.get("JOBDECK_HOOKS", "")
        try:
            value = json.loads(raw) if raw else {}
        except ValueError:
            raise ImproperlyConfigured("JOBDECK_HOOKS in the environment must be a JSON object") from None
    if not isinstance(value, dict) or set(value) - set(HOOK_KINDS):
        raise ImproperlyConfigured(f"JOBDECK_HOOKS must be a dict with keys among {', '.join(HOOK_KINDS)}")
    hooks: dict[str, list[str]] = {}
    for kind, paths in value.items():
        paths = [paths] if isinstance(paths, str) else paths
        if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
            raise ImproperlyConfigured(f"JOBDECK_HOOKS[{kind!r}] must be a dotted path or a list of them")
        hooks[kind] = list(paths)
    return hooks
