"""Retry policy: when the next attempt of a failed job may run (pure, no database)."""

import datetime
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    max_seconds: float = 3600.0


def next_run_at(
    *, attempt: int, max_attempts: int, policy: RetryPolicy, now: datetime.datetime, rng: random.Random
) -> datetime.datetime | None:
    """When attempt `attempt + 1` may start, or None when `attempt` was the last one.

    Exponential backoff with jitter: base * 2**(attempt-1), scaled by a random factor in
    [0.5, 1.0], then capped at max_seconds. The jitter spreads retries of jobs that failed
    together; its range keeps each gap at least as long as the one before, and capping last
    keeps that true at the cap.
    """
    if attempt >= max_attempts:
        return None
    delay = policy.base_seconds * 2 ** (attempt - 1) * (0.5 + rng.random() / 2)
    return now + datetime.timedelta(seconds=min(policy.max_seconds, delay))
