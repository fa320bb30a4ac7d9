"""Django's Tasks API: jobs.backend.batch([sig(task, ...), ...], on_success=sig(...)) enqueues a batch."""

from __future__ import annotations

import pytest
from django.tasks.exceptions import InvalidTask

from jobs.backend import batch, sig
from jobs.models import Batch, Job
from tests import tasks

pytestmark = pytest.mark.django_db


def test_batch_enqueues_members_and_callbacks_and_returns_their_results() -> None:
    result = batch(
        [sig(tasks.add, 1, 2), sig(tasks.add.using(queue_name="other"), a=3, b=4)],
        on_success=sig(tasks.append_line, "/dev/null", "ok"),
        on_failure=sig(tasks.append_line, "/dev/null", "failed"),
        description="two sums",
    )

    stored = Batch.objects.get(pk=result.id)
    assert stored.description == "two sums"
    assert [r.status for r in result.results] == ["READY", "READY"]
    members = [Job.objects.get(pk=int(r.id)) for r in result.results]
    assert [(j.batch_id, j.queue, j.args, j.payload) for j in members] == [
        (result.id, "default", [1, 2], {}),
        (result.id, "other", [], {"a": 3, "b": 4}),
    ]
    assert result.on_success is not None and result.on_failure is not None and result.on_complete is None
    assert int(result.on_success.id) == stored.on_success_id
    assert Job.objects.get(pk=stored.on_failure_id).after_failure == "only"


def test_a_bad_member_is_invalid_task_and_nothing_is_stored() -> None:
    with pytest.raises(InvalidTask, match="job 1: "):
        batch([sig(tasks.add, 1, 2), sig(tasks.add, object())])
    with pytest.raises(InvalidTask, match="a batch needs at least one job"):
        batch([])
    with pytest.raises(InvalidTask, match=r"job 0: give sig\(task, \*args, \*\*kwargs\)"):
        batch([tasks.add])  # type: ignore[list-item]

    assert not Job.objects.exists()
    assert not Batch.objects.exists()
