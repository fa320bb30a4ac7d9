"""How failures are grouped: an error split into class and message, and the message normalised so
instances of one failure ("id 42 not found", "id 43 not found") fall into one group. Pure rules,
shared by the dashboard's failed page and the per-task figures."""

from __future__ import annotations

import re

ERROR_CHARS = 300  # of last_error taken into the grouping key

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX_PREFIXED = re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE)
_HEX_LONG = re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.IGNORECASE)  # hashes, ids
_NUMBER = re.compile(r"\d+")
_CLASS_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


def normalise(message: str) -> str:
    """The message with uuids, hex values and numbers replaced, so instances of one failure group together."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    text = _UUID.sub("<uuid>", text)
    text = _HEX_PREFIXED.sub("<hex>", text)
    text = _HEX_LONG.sub("<hex>", text)
    return _NUMBER.sub("<n>", text)


def split_error(last_error: str) -> tuple[str, str]:
    """("module.Class", "message") from Job.last_error; the class is "" when there is none ("worker lost")."""
    error_class, sep, message = last_error.partition(": ")
    if sep and _CLASS_NAME.match(error_class):
        return error_class, message
    return "", last_error


def group_key(task: str, last_error: str) -> tuple[str, str, str]:
    """(task, error class, normalised message): the key failures are grouped by."""
    error_class, message = split_error(last_error[:ERROR_CHARS])
    return task, error_class, normalise(message)
