"""Retry policy: when the next attempt of a failed job may run, and which errors are retried (pure, no database).

A policy has three parts, each resolved on its own (first one set wins): the job's own (JobSpec, API,
CLI; stored on the job as JSON), the task's (`@task(backoff=..., retry_on=..., discard_on=...)`), the
queue's default (Queue.retry_policy), then the global settings (JOBDECK_RETRY_BASE_SECONDS and
JOBDECK_RETRY_MAX_SECONDS, exponential).
"""

from __future__ import annotations

import datetime
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from jobs import options

BACKOFF_KINDS = ("exponential", "linear", "constant")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
MAX_CLASS_NAMES = 20
BACKOFF_ERROR = (
    "backoff must be an object with kind (exponential, linear or constant), base and cap (seconds, "
    "0 <= base <= cap <= 1 year) and jitter (0 to 1)"
)
CLASS_NAMES_ERROR = f"{{field}} must be a list of at most {MAX_CLASS_NAMES} dotted exception class names"
POLICY_KEYS = ("backoff", "retry_on", "discard_on")
MAX_SECONDS = 365 * 24 * 3600.0


@dataclass(frozen=True)
class RetryPolicy:
    """The global default (the settings): exponential, jitter 0.5."""

    base_seconds: float = 5.0
    max_seconds: float = 3600.0


@dataclass(frozen=True)
class Backoff:
    """How long to wait before attempt n+1: base * 2**(n-1) (exponential), base * n (linear) or
    base (constant); the random part of each wait is `jitter` of it (0: none, 0.5: a factor in
    [0.5, 1]), then the wait is capped at `cap` seconds."""

    kind: str = "exponential"
    base: float = 5.0
    cap: float = 3600.0
    jitter: float = 0.5

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.kind}, base {self.base:g}s, cap {self.cap:g}s, jitter {self.jitter:g}"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN


def parse_backoff(value: object) -> Backoff:
    """A Backoff from a Backoff or a mapping ({"kind", "base", "cap", "jitter"}, each optional).
    Raises ValueError(BACKOFF_ERROR) when it is not one."""
    if isinstance(value, Backoff):
        data: Mapping[str, Any] = value.as_json()
    elif isinstance(value, Mapping):
        data = value
    else:
        raise ValueError(BACKOFF_ERROR)
    if set(data) - {"kind", "base", "cap", "jitter"}:
        raise ValueError(BACKOFF_ERROR)
    defaults = Backoff()
    kind = data.get("kind", defaults.kind)
    base = data.get("base", defaults.base)
    cap = data.get("cap", max(defaults.cap, base) if _number(base) else defaults.cap)
    jitter = data.get("jitter", defaults.jitter)
    if kind not in BACKOFF_KINDS or not all(_number(v) for v in (base, cap, jitter)):
        raise ValueError(BACKOFF_ERROR)
    if not (0 <= base <= cap <= MAX_SECONDS and 0 <= jitter <= 1):
        raise ValueError(BACKOFF_ERROR)
    return Backoff(kind=kind, base=float(base), cap=float(cap), jitter=float(jitter))


def parse_backoff_text(text: str) -> Backoff:
    """The CLI's form, `kind[:base[:cap[:jitter]]]` (`linear:10:600:0.2`). Raises ValueError."""
    parts = text.split(":")
    if not 1 <= len(parts) <= 4:
        raise ValueError(BACKOFF_ERROR)
    data: dict[str, Any] = {"kind": parts[0]}
    try:
        for name, part in zip(("base", "cap", "jitter"), parts[1:], strict=False):
            data[name] = float(part)
    except ValueError:
        raise ValueError(BACKOFF_ERROR) from None
    return parse_backoff(data)


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def class_names(values: object, *, field: str) -> tuple[str, ...]:
    """Exception classes (or their dotted names) as dotted names. Raises ValueError naming `field`."""
    if isinstance(values, str | type) or not isinstance(values, Iterable):
        values = [values]
    names = []
    for value in values:
        if isinstance(value, type) and issubclass(value, BaseException):
            names.append(class_path(value))
        elif isinstance(value, str) and len(value) <= 255 and _DOTTED.match(value):
            names.append(value)
        else:
            raise ValueError(CLASS_NAMES_ERROR.format(field=field))
    if len(names) > MAX_CLASS_NAMES:
        raise ValueError(CLASS_NAMES_ERROR.format(field=field))
    return tuple(names)


def matches(exc_type: type[BaseException], names: Iterable[str]) -> bool:
    """Whether `exc_type` is one of the classes named, or a subclass of one (by dotted name, so
    nothing is imported: a class a worker cannot import simply never matches)."""
    wanted = set(names)
    return any(class_path(cls) in wanted for cls in exc_type.__mro__)


def policy_json(
    *, backoff: object = None, retry_on: object = None, discard_on: object = None, max_snoozes: object = None
) -> dict[str, Any] | None:
    """A job's or a queue's stored policy (only the parts given), or None when nothing is given.
    `max_snoozes` is a job's own only (no queue default). Raises ValueError with a readable message
    for a bad part."""
    stored: dict[str, Any] = {}
    if max_snoozes is not None:
        if not options.is_max_snoozes(max_snoozes):
            raise ValueError(options.MAX_SNOOZES_ERROR)
        stored["max_snoozes"] = max_snoozes
    if backoff is not None:
        stored["backoff"] = parse_backoff(backoff).as_json()
    if retry_on is not None:
        stored["retry_on"] = list(class_names(retry_on, field="retry_on"))
    if discard_on is not None:
        stored["discard_on"] = list(class_names(discard_on, field="discard_on"))
    return stored or None


def delay_seconds(*, attempt: int, backoff: Backoff, rng: random.Random) -> float:
    """The wait before attempt `attempt + 1`, `attempt` >= 1 (see Backoff)."""
    if backoff.kind == "exponential":
        delay = backoff.base * 2 ** min(attempt - 1, 64)
    elif backoff.kind == "linear":
        delay = backoff.base * attempt
    else:
        delay = backoff.base
    delay *= 1 - backoff.jitter + backoff.jitter * rng.random()
    return float(min(backoff.cap, delay))


def next_run_at(
    *,
    attempt: int,
    max_attempts: int,
    policy: RetryPolicy | Backoff,
    now: datetime.datetime,
    rng: random.Random,
) -> datetime.datetime | None:
    """When attempt `attempt + 1` may start, or None when `attempt` was the last one.

    The global default is exponential backoff with jitter: base * 2**(attempt-1), scaled by a
    random factor in [0.5, 1.0], then capped at max_seconds. The jitter spreads retries of jobs
    that failed together; its range keeps each gap at least as long as the one before, and capping
    last keeps that true at the cap.
    """
    if attempt >= max_attempts:
        return None
    if isinstance(policy, RetryPolicy):
        policy = Backoff(kind="exponential", base=policy.base_seconds, cap=policy.max_seconds, jitter=0.5)
    return now + datetime.timedelta(seconds=delay_seconds(attempt=attempt, backoff=policy, rng=rng))
