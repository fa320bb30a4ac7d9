"""Cron expressions in plain words for the schedules page: the common 5-field forms, else the expression.

Only forms whose meaning is unambiguous are described ("every 5 minutes", "at 02:30 on Mondays",
"at 00:00 on day 1 of the month"); anything else (lists of hours, L/W/# extensions, steps in the
day fields) falls back to the expression itself, which is always shown next to the words.
"""

from __future__ import annotations

import re

from jobs.cron import ALIASES

DAYS = ["Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"]
DAY_NAMES = {name: n for n, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
MONTHS += ["November", "December"]
MONTH_NAMES = {name: n + 1 for n, name in enumerate(m[:3].upper() for m in MONTHS)}
_NUMBER = re.compile(r"^\d+$")
_STEP = re.compile(r"^\*/(\d+)$")


def _int(text: str, names: dict[str, int] | None = None) -> int | None:
    if _NUMBER.match(text):
        return int(text)
    return (names or {}).get(text.upper())


def _weekdays(field: str) -> str | None:
    """ "Mondays", "Mondays to Fridays", "Mondays and Thursdays", or None for other forms."""
    if "-" in field and "," not in field:
        start, _, end = field.partition("-")
        a, b = _int(start, DAY_NAMES), _int(end, DAY_NAMES)
        if a is not None and b is not None and 0 <= a <= 7 and 0 <= b <= 7:
            return f"{DAYS[a]} to {DAYS[b]}"
        return None
    days = [_int(part, DAY_NAMES) for part in field.split(",")]
    if any(d is None or not 0 <= d <= 7 for d in days):
        return None
    names = [DAYS[d] for d in days if d is not None]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _days(dom: str, month: str, dow: str) -> str | None:
    """The day part (" on Mondays", " on day 1 of the month", " on 1 January", " in May"), "" for
    every day, or None when the form is not a simple one."""
    day = _int(dom) if dom != "*" else None
    number = _int(month, MONTH_NAMES) if month != "*" else None
    if (dom != "*" and (day is None or not 1 <= day <= 31)) or (
        month != "*" and (number is None or not 1 <= number <= 12)
    ):
        return None
    if dom != "*" and dow != "*":
        return None  # cron fires when either field matches: too subtle for one phrase
    month_name = MONTHS[number - 1] if number else ""
    if day is not None:
        return f" on {day} {month_name}" if month_name else f" on day {day} of the month"
    weekdays = _weekdays(dow) if dow != "*" else ""
    if weekdays is None:
        return None
    text = f" on {weekdays}" if weekdays else ""
    return text + (f" in {month_name}" if month_name else "")


def describe(expression: str) -> str:
    """Plain words for a cron expression, or the expression itself when the form is not a common one."""
    fields = ALIASES.get(expression.strip().lower(), expression).split()
    if len(fields) != 5:
        return expression
    minute, hour, dom, month, dow = fields
    days = _days(dom, month, dow)
    if days is None:
        return expression
    if hour == "*" and minute == "*":
        return "every minute" + days
    step = _STEP.match(minute)
    if step and hour == "*":
        n = int(step.group(1))
        return ("every minute" if n == 1 else f"every {n} minutes") + days
    m, h = _int(minute), _int(hour)
    if m is not None and m < 60 and hour == "*":
        return f"every hour at minute {m}" + days
    hour_step = _STEP.match(hour)
    if m is not None and m < 60 and hour_step:
        n = int(hour_step.group(1))
        return (f"every {n} hours" if n > 1 else "every hour") + f" at minute {m}" + days
    if m is not None and h is not None and m < 60 and h < 24:
        return f"at {h:02d}:{m:02d}" + (days or " every day")
    return expression
