"""Admin test helpers: jobs driven into a state through the state machine, and admin URLs."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from jobs import states
from jobs.models import Job
from jobs.status import Status

_queues = itertools.count()


def changelist(model: str) -> str:
    return reverse(f"admin:jobs_{model}_changelist")


def change(model: str, pk: int) -> str:
    return reverse(f"admin:jobs_{model}_change", args=[pk])


@pytest.fixture
def job_in(make_job: Callable[..., Job]) -> Callable[..., Job]:
    """A job driven into `status` through the services and the state machine (so its history exists)."""

    def make(status: str, **overrides: Any) -> Job:
        if status == Status.SCHEDULED:
            return make_job(delay=3600, **overrides)
        if status != Status.QUEUED:
            overrides.setdefault("queue", f"claim-{next(_queues)}")  # its own queue: the claim takes this job
        job = make_job(**overrides)
        if status == Status.QUEUED:
            return job
        claimed = states.claim_next(queues=[job.queue], worker="host:1:abc", lease_seconds=60)
        assert claimed is not None and claimed.id == job.pk
        failure = states.Failure(outcome="failed", error_class="builtins.ValueError", message="boom")
        if status == Status.DONE:
            assert states.record(states.Finish(claimed, status, reason="done", result={"sum": 3}))
        elif status == Status.FAILED:
            assert states.record(states.Finish(claimed, status, reason="failed", failure=failure))
        else:
            assert status == Status.RUNNING
        job.refresh_from_db()
        assert job.status == status
        return job

    return make


@pytest.fixture
def admin_user(django_user_model: Any) -> Any:
    """pytest-django's superuser without a password: hashing one costs half a second per test."""
    return django_user_model.objects.create_superuser("admin", "admin@example.com", password=None)
