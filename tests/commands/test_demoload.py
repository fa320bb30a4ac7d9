"""demoload: a burst enqueues exactly N valid demo jobs; bad options are one clear line."""

from __future__ import annotations

import io
import random
import re
import signal
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from jobs import registry
from jobs.management.commands.demoload import WEIGHTS, random_spec
from jobs.models import Job
from tests.conftest import ROOT, wait_until, worker_env

SUMMARY = r"demoload: enqueued (\d+) jobs in [\d.]+ s \((\w+ \d+(, )?)+\)"


@pytest.mark.django_db
def test_burst_enqueues_that_many_jobs_of_demo_tasks() -> None:
    out = io.StringIO()

    call_command("demoload", "--burst", "20", stdout=out)

    names = set(Job.objects.values_list("task_name", flat=True))
    assert Job.objects.count() == 20
    assert names <= {f"jobs.tasks.{name}" for name in WEIGHTS}
    assert all(registry.get_task(name) for name in names)
    assert out.getvalue().startswith("demoload: enqueued 20 jobs in ")


@pytest.mark.django_db
def test_steady_load_stops_after_duration_with_a_summary() -> None:
    out = io.StringIO()

    call_command("demoload", "--rate", "50", "--interval", "0.05", "--duration", "0.1", stdout=out)

    summary = re.fullmatch(SUMMARY, out.getvalue().splitlines()[-1])
    assert summary is not None
    assert int(summary[1]) == Job.objects.count() >= 2


def test_sigterm_stops_the_steady_load_cleanly_with_a_summary(transactional_db: None) -> None:
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "demoload", "--rate", "20", "--interval", "0.1"],
        cwd=ROOT,
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: Job.objects.count() >= 4 or proc.poll() is not None, timeout=30)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert proc.returncode == 0, err
    summary = re.fullmatch(SUMMARY, out.splitlines()[-1])
    assert summary is not None, out
    assert int(summary[1]) == Job.objects.count()


def test_mix_uses_the_promised_queues_and_arguments() -> None:
    rng = random.Random(7)
    specs = [random_spec(rng) for _ in range(500)]

    assert {s.task_name.rsplit(".", 1)[1] for s in specs} == set(WEIGHTS)
    assert {s.queue for s in specs if s.task_name.endswith(".thumbnail")} == {"media"}
    assert {s.queue for s in specs if not s.task_name.endswith(".thumbnail")} == {"default"}
    assert {s.max_attempts for s in specs if s.task_name.endswith(".always_fail")} == {2}
    assert all(5 <= s.delay <= 30 for s in specs if s.delay is not None)
    assert any(s.delay for s in specs) and any(s.priority for s in specs)
    assert all(1 <= s.kwargs["seconds"] <= 6 for s in specs if s.task_name.endswith(".sleep"))
    assert all(50_000 <= s.kwargs["limit"] <= 500_000 for s in specs if s.task_name.endswith(".primes"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "-1"], "argument --rate: must be a number greater than 0"),
        (["--rate", "fast"], "argument --rate: 'fast' is not a number"),
        (["--interval", "0"], "argument --interval: must be a number greater than 0"),
        (["--duration", "nan"], "argument --duration: must be a number greater than 0"),
        (["--burst", "abc"], "argument --burst: 'abc' is not a whole number"),
        (["--burst", "0"], "argument --burst: must be between 1 and 10000"),
        (["--burst", "5", "--duration", "3"], "argument --duration: not allowed with argument --burst"),
    ],
)
def test_bad_option_is_refused_with_a_clear_message(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("demoload", *args)
