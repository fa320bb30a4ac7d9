"""Settings of the REST API, read lazily like jobs/conf.py (JOBDECK_* setting, else environment, else default)."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.conf import read_setting

MAX_JSON_DEPTH = 32  # deeper request JSON is refused: nothing legitimate nests that far


@dataclass(frozen=True)
class ApiSettings:
    max_body_bytes: int  # larger request bodies get 413
    health_max_wait_seconds: float  # /health reports DEGRADED when a runnable job has waited longer


def api_settings() -> ApiSettings:
    """Read the API settings now (never at import time)."""
    return ApiSettings(
        max_body_bytes=int(read_setting("JOBDECK_API_MAX_BODY_BYTES", 1024 * 1024)),
        health_max_wait_seconds=read_setting("JOBDECK_HEALTH_MAX_WAIT_SECONDS", 300.0),
    )
