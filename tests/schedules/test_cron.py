"""jobs.cron: which expressions are accepted, how they are normalized, and fire times across DST."""

from __future__ import annotations

import datetime

import pytest

from jobs import cron
from jobs.exceptions import InvalidSchedule

UTC = datetime.UTC

# Pure parsing and time arithmetic: no database is involved (see tests/conftest.py).
pytestmark = pytest.mark.db_independent

FIELDS = "minute hour day-of-month month day-of-week"


def at(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "normalized"),
    [
        ("* * * * *", "* * * * *"),
        ("  0   9 * *   mon-fri ", "0 9 * * MON-FRI"),
        ("*/15 8-18 * jan,jul *", "*/15 8-18 * JAN,JUL *"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 0 * * 5L", "0 0 * * 5L"),
        ("0 12 * * MON#2", "0 12 * * MON#2"),
        ("0 0 29 2 *", "0 0 29 2 *"),  # leap years only: rare, but it fires
        ("0 0 * * 7", "0 0 * * 7"),  # Sunday, as 7
        ("@hourly", "@hourly"),
        ("@Daily", "@daily"),
        ("@midnight", "@midnight"),
        ("@weekly", "@weekly"),
        ("@monthly", "@monthly"),
        ("@yearly", "@yearly"),
        ("@annually", "@annually"),
    ],
)
def test_valid_expressions_are_normalized(expression: str, normalized: str) -> None:
    assert cron.parse(expression) == normalized


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "The cron expression is empty"),
        ("   ", "The cron expression is empty"),
        (None, "The cron expression must be a string"),
        (5, "The cron expression must be a string"),
        ("* * * *", f"Invalid cron expression '* * * *': 4 fields given; use 5 ({FIELDS})"),
        ("* * * * * * *", f"Invalid cron expression '* * * * * * *': 7 fields given; use 5 ({FIELDS})"),
        (
            "*/10 * * * * *",
            f"Invalid cron expression '*/10 * * * * *': 6 fields given; seconds are not supported, use 5 ({FIELDS})",
        ),
        (
            "@reboot",
            "Invalid cron expression '@reboot': @reboot is not supported (schedules fire at times, not at start-up)",
        ),
        (
            "@every_minute",
            "Invalid cron expression '@every_minute': unknown alias; use one of "
            "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
        ),
        ("61 * * * *", "Invalid cron expression '61 * * * *': bad minute field"),
        ("* 24 * * *", "Invalid cron expression '* 24 * * *': bad hour field"),
        ("* * 0 * *", "Invalid cron expression '* * 0 * *': bad day-of-month field"),
        ("* * 32 * *", "Invalid cron expression '* * 32 * *': bad day-of-month field"),
        ("* * * 13 *", "Invalid cron expression '* * * 13 *': bad month field"),
        ("* * * * 8", "Invalid cron expression '* * * * 8': bad day-of-week field"),
        ("*/0 * * * *", "Invalid cron expression '*/0 * * * *': bad minute field"),
        ("5-1 * * * *", "Invalid cron expression '5-1 * * * *': bad minute field"),
        ("H * * * *", "Invalid cron expression 'H * * * *': bad minute field"),
        ("? * * * *", "Invalid cron expression '? * * * *': bad minute field '?'"),
        ("é * * * *", "Invalid cron expression 'é * * * *': bad minute field 'é'"),
        ("0;rm * * * *", "Invalid cron expression '0;rm * * * *': bad minute field '0;rm'"),
        ("0 0 30 2 *", "Invalid cron expression '0 0 30 2 *': it never fires: none of its months has that day"),
        ("0 0 31 4,6,9 *", "Invalid cron expression '0 0 31 4,6,9 *': it never fires: none of its months has that day"),
        (
            "1," * 50 + "2 * * * *",
            "Invalid cron expression '" + ("1," * 50)[:100] + "…': longer than 100 characters",
        ),
    ],
)
def test_absurd_expressions_are_refused_with_a_clear_message(expression: object, message: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        cron.parse(expression)

    assert caught.value.message == message
    assert caught.value.status_code == 400


@pytest.mark.parametrize("name", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_iana_timezones_are_accepted(name: str) -> None:
    assert cron.validate_timezone(name) == name


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "utc ", "../../etc/passwd", "/etc/localtime", "localtime", None])
def test_unknown_or_host_dependent_timezones_are_refused(name: object) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        cron.validate_timezone(name)

    assert caught.value.message == f"Unknown timezone '{name}': use an IANA name such as UTC or Europe/Paris"


def test_next_fire_times_are_strictly_after_the_moment_and_in_utc() -> None:
    times = cron.next_fire_times("*/15 * * * *", tz="UTC", after=at(2025, 1, 1, 10, 15), count=3)

    assert times == [at(2025, 1, 1, 10, 30), at(2025, 1, 1, 10, 45), at(2025, 1, 1, 11, 0)]
    assert all(t.tzinfo is UTC for t in times)


def test_aliases_fire_like_their_five_fields() -> None:
    after = at(2025, 1, 1, 10, 30)

    assert cron.next_fire_time("@hourly", tz="UTC", after=after) == at(2025, 1, 1, 11, 0)
    assert cron.next_fire_time("@daily", tz="UTC", after=after) == at(2025, 1, 2)
    assert cron.next_fire_time("@weekly", tz="UTC", after=after) == at(2025, 1, 5)  # a Sunday
    assert cron.next_fire_time("@monthly", tz="UTC", after=after) == at(2025, 2, 1)
    assert cron.next_fire_time("@yearly", tz="UTC", after=after) == at(2026, 1, 1)


def test_fields_are_read_in_the_schedules_timezone() -> None:
    # 09:00 in New York is 14:00 UTC in winter (EST) and 13:00 UTC in summer (EDT).
    assert cron.next_fire_time("0 9 * * *", tz="America/New_York", after=at(2025, 1, 15)) == at(2025, 1, 15, 14)
    assert cron.next_fire_time("0 9 * * *", tz="America/New_York", after=at(2025, 7, 15)) == at(2025, 7, 15, 13)


def test_daily_time_keeps_its_local_hour_across_dst_changes() -> None:
    times = cron.next_fire_times("0 9 * * *", tz="Europe/Paris", after=at(2025, 3, 29), count=3)

    # 09:00 CET (UTC+1) on the 29th, then 09:00 CEST (UTC+2) from the 30th.
    assert times == [at(2025, 3, 29, 8), at(2025, 3, 30, 7), at(2025, 3, 31, 7)]


def test_time_skipped_by_spring_forward_fires_once_just_after_the_gap() -> None:
    # Berlin, 30 March 2025: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    times = cron.next_fire_times("30 2 * * *", tz="Europe/Berlin", after=at(2025, 3, 29, 12), count=2)

    assert times == [at(2025, 3, 30, 1, 0), at(2025, 3, 31, 0, 30)]  # 03:00 CEST, then 02:30 CEST


def test_time_repeated_by_fall_back_fires_once() -> None:
    # Berlin, 26 October 2025: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice.
    times = cron.next_fire_times("30 2 * * *", tz="Europe/Berlin", after=at(2025, 10, 25, 12), count=2)

    assert times == [at(2025, 10, 26, 0, 30), at(2025, 10, 27, 1, 30)]  # 02:30 CEST only, then 02:30 CET


def test_interval_schedule_keeps_real_time_steps_through_the_repeated_hour() -> None:
    # Every 30 minutes is elapsed time: both passes through 02:00-03:00 local fire.
    times = cron.next_fire_times("*/30 * * * *", tz="Europe/Berlin", after=at(2025, 10, 25, 23, 45), count=5)

    assert times == [
        at(2025, 10, 26, 0, 0),  # 02:00 CEST
        at(2025, 10, 26, 0, 30),  # 02:30 CEST
        at(2025, 10, 26, 1, 0),  # 02:00 CET
        at(2025, 10, 26, 1, 30),  # 02:30 CET
        at(2025, 10, 26, 2, 0),  # 03:00 CET
    ]


def test_next_fire_from_inside_the_repeated_hour_is_never_in_the_past() -> None:
    # New York, 2 November 2025: 01:30 EDT fired at 05:30 UTC; at 01:15 EST (06:15 UTC) the next
    # "30 1" is tomorrow's, not the first-occurrence 01:30 that cronsim answers with.
    after = at(2025, 11, 2, 6, 15)

    assert cron.next_fire_times("30 1 * * *", tz="America/New_York", after=after, count=2) == [
        at(2025, 11, 3, 6, 30),
        at(2025, 11, 4, 6, 30),
    ]


def test_latest_fire_time_counts_the_moment_itself() -> None:
    assert cron.latest_fire_time("*/15 * * * *", tz="UTC", at=at(2025, 1, 1, 10, 30)) == at(2025, 1, 1, 10, 30)
    just_before = at(2025, 1, 1, 10, 29, 59) + datetime.timedelta(microseconds=999_999)
    assert cron.latest_fire_time("*/15 * * * *", tz="UTC", at=just_before) == at(2025, 1, 1, 10, 15)


def test_latest_fire_time_in_a_timezone() -> None:
    # 09:00 Paris on 10 January is 08:00 UTC; at 07:59 UTC the latest is the day before's.
    assert cron.latest_fire_time("0 9 * * *", tz="Europe/Paris", at=at(2025, 1, 10, 7, 59)) == at(2025, 1, 9, 8)
    assert cron.latest_fire_time("0 9 * * *", tz="Europe/Paris", at=at(2025, 1, 10, 8, 0)) == at(2025, 1, 10, 8)


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        cron.next_fire_time("* * * * *", tz="UTC", after=datetime.datetime(2025, 1, 1))  # noqa: DTZ001
