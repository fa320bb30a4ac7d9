"""Cron expressions: validation to one normalized form, and fire times in a timezone (as aware UTC datetimes).

cronsim does the parsing and the calendar walk (including DST); this module adds what a shared
scheduler needs on top: only the standard five fields, a bounded length and alphabet, named
aliases, an expression that fires at all, and fire times strictly after (or at most at) the moment
asked about, whatever cronsim makes of ambiguous local times.
"""

from __future__ import annotations

import datetime
import functools
import re
import zoneinfo

from cronsim import CronSim, CronSimError

from jobs.exceptions import InvalidSchedule

MAX_LENGTH = 100
MAX_TIMEZONE_LENGTH = 64
MAX_COUNT = 1000  # fire times per next_fire_times() call
FIELDS = "minute hour day-of-month month day-of-week"
# Vixie cron's aliases, spelled out in the five fields they stand for (cronsim has no aliases).
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Digits, names (JAN, MON), the L/W/# extensions and the operators * , - /; nothing else.
FIELD_PATTERN = re.compile(r"^[0-9A-Z*,/#-]+$")
# Host-dependent names: hosts with different local zones would disagree on the fire times.
HOST_TIMEZONES = frozenset({"localtime", "posixrules"})
# cronsim's wording for a field it cannot read, in the order of our five fields.
CRONSIM_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
REFERENCE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def _invalid(expression: str, why: str) -> InvalidSchedule:
    return InvalidSchedule(f"Invalid cron expression '{expression}': {why}")


def parse(expression: object) -> str:
    """Validate a cron expression; return it normalized (single spaces, upper case; aliases lower case).

    Accepts the five standard fields (minute hour day-of-month month day-of-week) with cronsim's
    syntax, and the aliases @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly.
    Raises InvalidSchedule for anything else: seconds (six fields), @reboot, over-long or
    non-ASCII input, values out of range, and expressions that never fire (February 30th).
    """
    if not isinstance(expression, str):
        raise InvalidSchedule("The cron expression must be a string")
    shown = expression if len(expression) <= MAX_LENGTH else expression[:MAX_LENGTH] + "…"
    if len(expression) > MAX_LENGTH:
        raise _invalid(shown, f"longer than {MAX_LENGTH} characters")
    parts = expression.split()
    if not parts:
        raise InvalidSchedule("The cron expression is empty")
    if len(parts) == 1 and parts[0].startswith("@"):
        alias = parts[0].lower()
        if alias == "@reboot":
            raise _invalid(shown, "@reboot is not supported (schedules fire at times, not at start-up)")
        if alias not in ALIASES:
            raise _invalid(shown, f"unknown alias; use one of {', '.join(ALIASES)}")
        return alias
    if len(parts) == 6:
        raise _invalid(shown, f"6 fields given; seconds are not supported, use 5 ({FIELDS})")
    if len(parts) != 5:
        raise _invalid(shown, f"{len(parts)} fields given; use 5 ({FIELDS})")
    for name, part in zip(CRONSIM_FIELDS, parts, strict=True):
        if not FIELD_PATTERN.match(part.upper()):
            raise _invalid(shown, f"bad {name} field '{part}'")
    normalized = " ".join(parts).upper()
    try:
        next(CronSim(normalized, REFERENCE))
    except CronSimError as exc:
        raise _invalid(shown, _describe(exc, parts)) from None
    except StopIteration:
        raise _invalid(shown, "it never fires") from None
    return normalized


def _describe(exc: CronSimError, parts: list[str]) -> str:
    message = str(exc)  # "Bad minute", "Bad day-of-month", ...
    if message == "Bad day-of-month":
        # cronsim also says this for days no listed month has (30 2): valid with every month means
        # the day exists, just never in those months.
        try:
            CronSim(" ".join([*parts[:3], "*", parts[4]]).upper(), REFERENCE)
        except CronSimError:
            pass
        else:
            return "it never fires: none of its months has that day"
    if message.startswith("Bad "):
        return f"bad {message[4:]} field"
    return message[:1].lower() + message[1:]


def _fields(expression: str) -> str:
    return ALIASES.get(expression, expression)


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - HOST_TIMEZONES


def validate_timezone(name: object) -> str:
    """Return `name` if it is an IANA timezone name (Europe/Paris, UTC); raise InvalidSchedule otherwise."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_TIMEZONE_LENGTH or name not in _known_timezones():
        shown = name[:MAX_TIMEZONE_LENGTH] if isinstance(name, str) else name
        raise InvalidSchedule(f"Unknown timezone '{shown}': use an IANA name such as UTC or Europe/Paris")
    return name


def _local(moment: datetime.datetime, tz: str) -> datetime.datetime:
    if moment.tzinfo is None:
        raise ValueError("cron times need an aware datetime")
    return moment.astimezone(zoneinfo.ZoneInfo(tz))


def next_fire_times(expression: str, *, tz: str, after: datetime.datetime, count: int = 1) -> list[datetime.datetime]:
    """The next `count` fire times strictly after `after`, in order, as aware UTC datetimes.

    `expression` must come from parse(). Local times that do not exist (the hour skipped in
    spring) fire at the first minute after the gap; local times that happen twice (autumn) fire
    once, at the first occurrence (cronsim's Debian-cron behaviour). Fewer than `count` are
    returned only for an expression that stops firing within cronsim's 50-year horizon.
    """
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_COUNT}")
    times: list[datetime.datetime] = []
    previous = after.astimezone(datetime.UTC)
    iterator = CronSim(_fields(expression), _local(after, tz))
    while len(times) < count:
        try:
            moment = next(iterator).astimezone(datetime.UTC)
        except StopIteration:
            break
        # At a repeated local hour cronsim can answer with the first occurrence of a time whose
        # second occurrence `after` already is: an instant in the past. Skip it, never fire twice.
        if moment > previous:
            times.append(moment)
            previous = moment
    return times


def next_fire_time(expression: str, *, tz: str, after: datetime.datetime) -> datetime.datetime:
    """The first fire time strictly after `after` (aware UTC). Raises InvalidSchedule if there is none."""
    times = next_fire_times(expression, tz=tz, after=after)
    if not times:
        raise _invalid(expression, "it never fires")
    return times[0]


def latest_fire_time(expression: str, *, tz: str, at: datetime.datetime) -> datetime.datetime | None:
    """The latest fire time at or before `at` (aware UTC), or None within cronsim's 50-year horizon."""
    at = at.astimezone(datetime.UTC)
    # cronsim steps one second back before matching; starting a second later makes `at` itself count.
    start = (at + datetime.timedelta(seconds=1)).replace(microsecond=0)
    iterator = CronSim(_fields(expression), _local(start, tz), reverse=True)
    for _ in range(3):  # at most one ambiguous-time answer can lie after `at`
        try:
            moment = next(iterator).astimezone(datetime.UTC)
        except StopIteration:
            return None
        if moment <= at:
            return moment
    return None
