"""argparse `type=` validators shared by the management commands: one clear message per mistake."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from jobs import options


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A validator for a whole number in [low, high]."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number

    return parse


def priority(value: str) -> int:
    """A priority: a whole number in the allowed range, or a name (high, medium, low)."""
    if value in options.PRIORITY_NAMES:
        return options.PRIORITY_NAMES[value]
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number, high, medium or low") from None
    if not options.is_priority(number):
        raise argparse.ArgumentTypeError(f"must be between {options.PRIORITY_MIN} and {options.PRIORITY_MAX}")
    return number
