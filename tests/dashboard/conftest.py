"""Dashboard personas: a viewer, an operator, an admin (group), and an outsider with no role."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

PASSWORD = "correct horse battery staple"


def make_user(username: str, *groups: str, superuser: bool = False) -> User:
    if superuser:
        user = User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    else:
        user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer(db: None) -> User:
    return make_user("vera", "viewer")


@pytest.fixture
def operator(db: None) -> User:
    return make_user("otto", "operator")


@pytest.fixture
def outsider(db: None) -> User:
    return make_user("oscar")


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return client_for(viewer)


@pytest.fixture
def operator_client(operator: User) -> Client:
    return client_for(operator)


@pytest.fixture
def group_admin_client(db: None) -> Client:
    return client_for(make_user("ada", "admin"))


@pytest.fixture
def outsider_client(outsider: User) -> Client:
    return client_for(outsider)


def run_job(job_id: int, *, to: str = "done", result: Any = 3, error: str = "") -> Any:
    """Claim the job as a worker would and end its attempt with `to` (done, failed...); return it fresh."""
    from jobs import states
    from jobs.models import Job

    queue = Job.objects.values_list("queue", flat=True).get(pk=job_id)
    claimed = states.claim_next(queues=[queue], worker="test-worker", lease_seconds=60)
    assert claimed is not None and claimed.id == job_id
    if to == "running":
        return Job.objects.get(pk=job_id)
    failure = None
    if to != "done":
        failure = states.Failure(outcome=to, error_class="builtins.ValueError", message=error, traceback="Traceback...")
    assert states.record(states.Finish(claimed, to, reason=to, result=result, failure=failure))
    return Job.objects.get(pk=job_id)


@pytest.fixture
def failed_job(make_job: Any) -> Any:
    """A job whose only attempt failed, made through the state machine."""
    job = make_job(max_attempts=1, queue="failing")
    return run_job(job.pk, to="failed", error="boom")
