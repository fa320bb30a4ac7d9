"""Describe a task's exception for its Attempt row without ever raising.

A task's exception is user code: its `__str__`, `__repr__` or the attributes traceback formatting
reads (such as `__notes__`) may raise. If describing it raised, the worker would never write the
attempt's outcome and the job would end only when its lease expired, as "worker lost". So each
part is built on its own, and a part that cannot be built gets a placeholder naming what broke.
"""

from __future__ import annotations

import traceback

from jobs import states


def _error_class(exc: BaseException) -> str:
    cls = type(exc)
    try:
        return f"{cls.__module__}.{cls.__qualname__}"
    except Exception:  # a metaclass may make these raise
        return "<unknown exception class>"


def _class_name(exc: BaseException) -> str:
    try:
        return type(exc).__name__
    except Exception:
        return "exception"


def _message(exc: BaseException) -> str:
    try:
        return str(exc) or _class_name(exc)
    except Exception as err:
        return f"<{_class_name(exc)}: str() raised {_class_name(err)}>"


def _traceback(exc: BaseException, message: str) -> str:
    try:
        return "".join(traceback.format_exception(exc))
    except Exception as err:
        # Keep the frames, which are what a reader needs; only the exception's own text broke.
        try:
            frames = "".join(traceback.format_tb(exc.__traceback__))
        except Exception:
            frames = ""
        note = f"(the full traceback could not be formatted: formatting raised {_class_name(err)})"
        return f"Traceback (most recent call last):\n{frames}{_error_class(exc)}: {message}\n{note}\n"


def describe(exc: BaseException, outcome: str) -> states.Failure:
    """The Failure row for `exc`; never raises, whatever the exception does."""
    message = _message(exc)
    return states.Failure(
        outcome=outcome, error_class=_error_class(exc), message=message, traceback=_traceback(exc, message)
    )
