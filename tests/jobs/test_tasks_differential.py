"""Django's Tasks API on Jobdeck against Django's own ImmediateBackend: the same calls, the same answers.

Code written for Django's Tasks framework must run on Jobdeck unchanged (docs/architecture.md). Each
case is made on both backends and what a Django developer can observe is compared: the TaskResult
once finished (status, return value, error classes, arguments, attempts), the exception an enqueue
raises (refusals and validation), and the signals in order. Jobdeck's jobs run on a real worker.
Jobdeck retries failures (ImmediateBackend cannot), so the comparison runs with one attempt per job.
Left out on purpose: queue names Jobdeck cannot store (not a string, or outside letters, digits and
`_ . : -`) are refused with InvalidTask, where Django's backends accept any name unless `QUEUES`
lists the allowed ones; and get_result, which ImmediateBackend does not support.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.tasks import TaskResult, default_task_backend
from django.tasks.exceptions import InvalidTask
from django.tasks.signals import task_enqueued
from django.test import override_settings
from django.utils import timezone

from tests.conftest import wait_until
from tests.tasks import add, async_add, echo_arguments, returns_unserialisable, with_context

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend", "QUEUES": []}}

# Calls that enqueue a job, by name.
RUNS: dict[str, Callable[[], TaskResult]] = {
    "positional arguments": lambda: add.enqueue(1, 2),
    "keyword arguments": lambda: add.enqueue(a=1, b=2),
    "tuples become lists, bytes text": lambda: echo_arguments.enqueue((1, (2, 3)), b"bytes", nested={"t": (4,)}),
    "the task raises": lambda: add.enqueue("text", 1),
    "an unserialisable return value": lambda: returns_unserialisable.enqueue(),
    "an async task": lambda: async_add.enqueue(2, 3),
    "a task taking its context": lambda: with_context.enqueue(),
    "another priority and queue": lambda: add.using(priority=7, queue_name="other").enqueue(1, 2),
    "aenqueue": lambda: _aenqueue(),
}


def _aenqueue() -> TaskResult:
    from asgiref.sync import async_to_sync

    return async_to_sync(add.aenqueue)(3, 4)


# Calls that must be refused, by name.
REFUSALS: dict[str, Callable[[], Any]] = {
    "a set argument": lambda: add.enqueue({1, 2}, 1),
    "an object argument": lambda: add.enqueue(object(), 1),
    "a datetime argument": lambda: add.enqueue(timezone.now(), 1),
    "a set inside a list": lambda: echo_arguments.enqueue([{1}]),
    "an object keyword argument": lambda: echo_arguments.enqueue(thing=object()),
    "undecodable bytes": lambda: echo_arguments.enqueue(b"\xff"),
    "a priority above 100": lambda: add.using(priority=101).enqueue(1, 2),
    "a priority below -100": lambda: add.using(priority=-101).enqueue(1, 2),
    "a naive run_after": lambda: add.using(run_after=datetime.datetime(2030, 1, 1)).enqueue(1, 2),  # noqa: DTZ001
}


def observe(result: TaskResult) -> tuple[Any, ...]:
    return (
        result.status,
        result.return_value if result.status == "SUCCESSFUL" else None,
        [error.exception_class_path for error in result.errors],
        result.args,
        result.kwargs,
        result.attempts,
        result.task.priority,
        result.task.queue_name,
        result.is_finished,
    )


def refusal(call: Callable[[], Any]) -> set[str]:
    """The exception types among Django's (the ones `except` clauses name) that the call's error is."""
    try:
        call()
    except (TypeError, ValueError, InvalidTask) as exc:
        return {kind.__name__ for kind in (TypeError, ValueError, InvalidTask) if isinstance(exc, kind)}
    return set()


def run_all(signal_log: Path) -> tuple[dict[str, Any], dict[str, set[str]], list[str]]:
    """Make every call on the current backend; return what finished, what was refused, and the signals."""
    enqueued: list[str] = []

    def on_enqueued(sender: object, task_result: TaskResult, **kwargs: object) -> None:
        enqueued.append(f"enqueued {task_result.id} {task_result.status}")

    task_enqueued.connect(on_enqueued)
    try:
        results = {name: call() for name, call in RUNS.items()}
        refused = {name: refusal(call) for name, call in REFUSALS.items()}
    finally:
        task_enqueued.disconnect(on_enqueued)
    if default_task_backend.supports_get_result:  # Jobdeck: the worker runs them meanwhile
        for result in results.values():
            wait_until(lambda r=result: r.refresh() or r.is_finished)
        # The worker sends task_finished after it stored the outcome (docs/tasks.md, hooks), so a
        # finished result can be read a moment before its signal is logged: wait for every one.
        wait_until(lambda: _logged(signal_log, "finished") >= len(results))
    finished = {name: observe(result) for name, result in results.items()}
    # Signals by case, in the order they came: ids differ between the backends, names do not.
    names = {result.id: name for name, result in results.items()}
    # tests/tasks.py logs "<signal> <id> <status> <attempts> <errors> <same as get_result>"; the last
    # is Jobdeck's own check (ImmediateBackend has no get_result), so it is left out here.
    logged = [line.rsplit(" ", 1)[0] for line in signal_log.read_text().splitlines()] if signal_log.exists() else []
    signals = [
        f"{names.get(line.split()[1], 'a call not in RUNS')}: {line.split()[0]} {' '.join(line.split()[2:])}"
        for line in enqueued + logged
    ]
    return finished, refused, sorted(signals, key=lambda line: line.split(":")[0])  # stable: keeps the order


def _logged(signal_log: Path, signal: str) -> int:
    """How many `signal` lines tests/tasks.py's receivers have written to `signal_log` so far."""
    lines = signal_log.read_text().splitlines() if signal_log.exists() else []
    return sum(1 for line in lines if line.split(" ", 1)[0] == signal)


@pytest.fixture
def on_django(tmp_path: Path, transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    log = tmp_path / "immediate-signals.txt"
    monkeypatch.setenv("JOBDECK_TEST_SIGNAL_LOG", str(log))  # tests/tasks.py's receivers, in this process
    with override_settings(TASKS=IMMEDIATE):
        assert type(add.get_backend()).__name__ == "ImmediateBackend"
        outcome = run_all(log)
    monkeypatch.delenv("JOBDECK_TEST_SIGNAL_LOG")
    return outcome


@pytest.mark.workers
def test_django_tasks_api_answers_as_on_djangos_immediate_backend(
    on_django: tuple[Any, ...], start_workers: Callable[..., Any], tmp_path: Path, settings: Any
) -> None:
    settings.JOBDECK_DEFAULT_MAX_ATTEMPTS = 1  # ImmediateBackend runs a task once
    log = tmp_path / "worker-signals.txt"
    start_workers("-w", "1", "-q", "default,other", JOBDECK_TEST_SIGNAL_LOG=str(log))
    assert "JOBDECK_TEST_SIGNAL_LOG" not in os.environ

    on_jobdeck = run_all(log)

    finished, refused, signals = on_django
    assert on_jobdeck[0] == finished
    assert on_jobdeck[2] == signals
    # Each refusal is caught by every `except` that catches Django's (an error may be more than one).
    assert {name: kinds & refused[name] for name, kinds in on_jobdeck[1].items()} == refused
    assert refused["a set argument"] == {"TypeError"} and "InvalidTask" in on_jobdeck[1]["a set argument"]
    assert all(refused.values()), refused  # every refusal case is refused on Django too
    assert finished["the task raises"][:3] == ("FAILED", None, ["builtins.TypeError"])
