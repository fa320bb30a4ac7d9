"""dashboard.cron_words: common cron forms in plain words, anything else shown as written."""

from __future__ import annotations

import pytest

from dashboard.cron_words import describe

# Pure string formatting: no database is involved (see tests/conftest.py).
pytestmark = pytest.mark.db_independent


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* * * * *", "every minute"),
        ("*/5 * * * *", "every 5 minutes"),
        ("*/1 * * * *", "every minute"),
        ("0 * * * *", "every hour at minute 0"),
        ("15 * * * 1-5", "every hour at minute 15 on Mondays to Fridays"),
        ("0 */6 * * *", "every 6 hours at minute 0"),
        ("30 2 * * *", "at 02:30 every day"),
        ("30 2 * * 1", "at 02:30 on Mondays"),
        ("0 9 * * 1-5", "at 09:00 on Mondays to Fridays"),
        ("0 9 * * MON,THU", "at 09:00 on Mondays and Thursdays"),
        ("0 9 * * 1,3,5", "at 09:00 on Mondays, Wednesdays and Fridays"),
        ("5 4 * * SUN", "at 04:05 on Sundays"),
        ("5 4 * * 7", "at 04:05 on Sundays"),
        ("0 0 1 * *", "at 00:00 on day 1 of the month"),
        ("0 0 1 1 *", "at 00:00 on 1 January"),
        ("15 10 * 5 *", "at 10:15 in May"),
        ("0 8 * DEC 1", "at 08:00 on Mondays in December"),
        ("@daily", "at 00:00 every day"),
        ("@hourly", "every hour at minute 0"),
        ("@weekly", "at 00:00 on Sundays"),
        ("@monthly", "at 00:00 on day 1 of the month"),
        ("@yearly", "at 00:00 on 1 January"),
    ],
)
def test_common_forms_are_described_in_words(expression: str, words: str) -> None:
    assert describe(expression) == words


@pytest.mark.parametrize(
    "expression",
    [
        "0 1,2 * * *",  # a list of hours
        "0 0 L * *",  # last day of the month
        "0 0 1 * 1",  # day of month OR weekday: cron's subtle rule
        "0 0 */2 * *",  # steps in the day field
        "0 9 * * 1#2",  # the second Monday
        "0 0 0 * *",  # out of range
        "0 24 * * *",
        "0 0 * 13 *",
        "not a cron",
        "* * * * * *",  # six fields
    ],
)
def test_other_forms_fall_back_to_the_expression(expression: str) -> None:
    assert describe(expression) == expression
