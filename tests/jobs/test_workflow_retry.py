"""A workflow (jobs.workflow_graph) and its actions: retry the failed part (jobs/states/rearm.py) and
cancel the rest (jobs/services/workflow_actions.py), in one process."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import services, states, workflow_graph
from jobs.exceptions import JobNotFound
from jobs.models import Job, JobDependency
from jobs.services import JobSpec
from jobs.status import Status
from tests.task_helpers import run_one

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(**fields: Any) -> Job:
    return services.enqueue_job(spec=JobSpec(task_name="tests.tasks.add", args=[1, 2], **fields))


def status(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def failed_chain() -> tuple[Job, Job, Job, Job]:
    """root -> a (fails) -> b -> c, with a and its descendants cancelled by the failure."""
    root = enqueue()
    a = enqueue(after=[root.pk], max_attempts=1)
    b = enqueue(after=[a.pk])
    c = enqueue(after=[b.pk])
    assert run_one() == root.pk
    states.promote_due()
    assert run_one(Status.FAILED) == a.pk
    states.promote_due()
    states.promote_due()
    assert [status(j) for j in (root, a, b, c)] == ["done", "failed", "cancelled", "cancelled"]
    return root, a, b, c


def test_workflow_holds_every_connected_job_and_link_whichever_job_is_asked() -> None:
    a, b = enqueue(), enqueue()
    c = enqueue(after=[a.pk, b.pk])
    d = enqueue(after=[c.pk])
    enqueue()  # not connected

    for asked in (a, d):
        flow = workflow_graph.workflow(asked.pk)
        assert flow.ids == [a.pk, b.pk, c.pk, d.pk]
        assert flow.links == [(a.pk, c.pk), (b.pk, c.pk), (c.pk, d.pk)]
        assert flow.counts["queued"] == 2 and flow.counts["scheduled"] == 2
        assert not flow.truncated and not flow.finished


def test_a_workflow_past_the_limit_keeps_the_nearest_jobs_and_says_so() -> None:
    root = enqueue()
    kids = [enqueue(after=[root.pk]) for _ in range(4)]
    grandchild = enqueue(after=[kids[0].pk])

    flow = workflow_graph.workflow(grandchild.pk, limit=3)

    assert flow.truncated
    assert flow.ids == [root.pk, kids[0].pk, grandchild.pk]


def test_a_long_chain_is_read_in_a_few_queries_whatever_its_depth(django_assert_max_num_queries: Any) -> None:
    last = enqueue()
    for _ in range(40):
        last = enqueue(after=[last.pk])

    with django_assert_max_num_queries(5):
        flow = workflow_graph.workflow(last.pk)

    assert len(flow.jobs) == 41 and len(flow.links) == 40


def test_unknown_job_is_not_found() -> None:
    with pytest.raises(JobNotFound):
        workflow_graph.workflow(424242)
    with pytest.raises(JobNotFound):
        services.retry_workflow(job_id=424242)


def test_retry_rearms_the_failed_job_and_the_jobs_its_failure_cancelled() -> None:
    root, a, b, c = failed_chain()

    result = services.retry_workflow(job_id=c.pk, actor="alice")

    assert (result.matched, result.changed, result.skipped) == (3, 3, 0)
    assert [status(j) for j in (root, a, b, c)] == ["done", "queued", "scheduled", "scheduled"]
    rows = {j.pk: j for j in Job.objects.filter(pk__in=[b.pk, c.pk])}
    assert rows[b.pk].pending_parents == 1 and rows[b.pk].failed_parent is None and rows[b.pk].last_error == ""
    assert not JobDependency.objects.get(child=b).resolved
    assert not JobDependency.objects.get(child=c).resolved
    assert JobDependency.objects.get(child=a).resolved  # root stays done: counted already


def test_retried_children_wait_for_their_parents_new_run_then_run_in_order() -> None:
    _, a, b, c = failed_chain()
    services.retry_workflow(job_id=a.pk)

    assert states.promote_due() == 0  # b and c wait: only a is runnable
    assert run_one() == a.pk
    assert status(c) == "scheduled"
    states.promote_due()
    assert run_one() == b.pk
    states.promote_due()
    assert run_one() == c.pk
    assert workflow_graph.workflow(a.pk).finished


def test_a_rearmed_parent_failing_again_cancels_its_children_again() -> None:
    _, a, b, c = failed_chain()
    services.retry_workflow(job_id=a.pk)

    assert run_one(Status.FAILED) == a.pk
    states.promote_due()
    states.promote_due()

    assert [status(j) for j in (a, b, c)] == ["failed", "cancelled", "cancelled"]
    assert Job.objects.get(pk=b.pk).last_error == f"dependency #{a.pk} failed"


def test_a_child_a_cancelled_parent_would_cancel_again_is_left_alone() -> None:
    p, q = enqueue(max_attempts=1), enqueue()
    child = enqueue(after=[p.pk, q.pk])
    assert run_one(Status.FAILED) == p.pk
    services.cancel_job(job_id=q.pk)  # cancelled by a person: not part of the failure
    states.promote_due()

    result = services.retry_workflow(job_id=child.pk)

    assert (result.matched, result.changed, result.skipped) == (2, 1, 1)
    assert status(p) == "queued" and status(q) == "cancelled" and status(child) == "cancelled"


def test_a_parent_retried_by_hand_is_not_counted_twice_by_a_rearmed_child() -> None:
    p, q = enqueue(), enqueue(max_attempts=1)
    child = enqueue(after=[p.pk, q.pk], after_failure="run")
    assert run_one() == p.pk
    assert run_one(Status.FAILED) == q.pk
    states.promote_due()
    assert run_one(Status.FAILED) == child.pk
    services.retry_job(job_id=p.pk)  # p queued again: its link stays resolved

    services.retry_workflow(job_id=child.pk)

    # Waits for q only; p's earlier finish was counted already.
    assert Job.objects.get(pk=child.pk).pending_parents == 1


def test_nothing_failed_means_nothing_to_retry() -> None:
    a = enqueue()
    enqueue(after=[a.pk])

    result = services.retry_workflow(job_id=a.pk)

    assert (result.matched, result.changed) == (0, 0)


def test_cancel_the_rest_cancels_waiting_jobs_and_requests_running_ones() -> None:
    a = enqueue()
    b = enqueue(after=[a.pk])
    done = enqueue()
    c = enqueue(after=[done.pk, b.pk])
    claimed = states.claim_next(queues=["default"], worker="w1", lease_seconds=30)
    assert claimed is not None and claimed.id == a.pk
    assert run_one() == done.pk

    result = services.cancel_workflow(job_id=c.pk, actor="alice")

    assert result.changed + result.skipped == 3
    assert status(done) == "done"
    assert status(b) == "cancelled" and status(c) == "cancelled"
    running = Job.objects.get(pk=a.pk)
    assert running.status == "running" and running.cancel_requested_at is not None
