"""Chains and groups (jobs.services.workflows): the structure flattened into one bulk enqueue, its
checks, references between jobs of one request, and result passing through the moves, in one process."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import services, states
from jobs.exceptions import InvalidJob
from jobs.models import Job, JobDependency
from jobs.services import Chain, Group, JobSpec, Step
from jobs.services.workflows import MAX_WORKFLOW_DEPTH, MAX_WORKFLOW_JOBS, plan_workflow
from jobs.states import Failure, Finish, Ref
from jobs.status import Status


def add(*args: Any) -> JobSpec:
    return JobSpec(task_name="tests.tasks.add", args=list(args))


def echo(*args: Any) -> JobSpec:
    return JobSpec(task_name="tests.tasks.echo_arguments", args=list(args))


# --- structure (no database) ------------------------------------------------------------------------


def test_a_chain_with_a_group_becomes_steps_after_the_previous_steps() -> None:
    specs, paths, shape = plan_workflow(Chain([add(1, 1), Group([add(2, 2), add(3, 3)]), add(4, 4)]))

    assert [spec.args for spec in specs] == [[1, 1], [2, 2], [3, 3], [4, 4]]
    assert [tuple(spec.after) for spec in specs] == [(), (Ref(0),), (Ref(0),), (Ref(1), Ref(2))]
    assert paths == [(0,), (1, 0), (1, 1), (2,)]
    assert shape == {"chain": [0, {"group": [1, 2]}, 3]}
    assert all(spec.result_input is None for spec in specs)


def test_pass_results_takes_one_result_after_a_job_and_the_list_after_a_group() -> None:
    specs, _, _ = plan_workflow(Chain([add(1, 1), Group([echo(), echo()]), echo()], pass_results=True))

    assert [spec.result_input for spec in specs] == [None, Ref(0), Ref(0), [Ref(1), Ref(2)]]


def test_a_group_member_chain_gives_its_last_steps_result() -> None:
    workflow = Chain([Group([Chain([add(1, 1), add(2, 2)], pass_results=False), add(3, 3)]), echo()], pass_results=True)
    specs, _, _ = plan_workflow(workflow)

    assert [tuple(spec.after) for spec in specs] == [(), (Ref(0),), (), (Ref(1), Ref(2))]
    # The inner chain says it passes nothing: its second step takes nothing.
    assert [spec.result_input for spec in specs] == [None, None, None, [Ref(1), Ref(2)]]


def test_a_nested_chain_passes_results_as_the_chain_around_it_unless_it_says() -> None:
    specs, _, _ = plan_workflow(Chain([add(1, 1), Chain([echo(), echo()])], pass_results=True))

    assert [spec.result_input for spec in specs] == [None, Ref(0), Ref(1)]


def test_nested_groups_pass_nested_lists() -> None:
    specs, _, _ = plan_workflow(Chain([Group([add(1, 1), Group([add(2, 2), add(3, 3)])]), echo()], pass_results=True))

    assert specs[-1].result_input == [Ref(0), [Ref(1), Ref(2)]]
    assert specs[-1].after == (Ref(0), Ref(1), Ref(2))


def test_a_step_may_take_the_previous_result_or_not_whatever_its_chain_says() -> None:
    specs, _, _ = plan_workflow(
        Chain([add(1, 1), Step(echo(), take_result=True), echo(), Step(echo(), take_result=False)])
    )
    assert [spec.result_input for spec in specs] == [None, Ref(0), None, None]

    specs, _, _ = plan_workflow(Chain([add(1, 1), Step(echo(), take_result=False), echo()], pass_results=True))
    assert [spec.result_input for spec in specs] == [None, None, Ref(1)]


def test_the_first_step_of_a_nested_chain_takes_as_the_outer_chain_decides() -> None:
    specs, _, _ = plan_workflow(Chain([add(1, 1), Chain([echo(), echo()], pass_results=False)], pass_results=True))

    assert [spec.result_input for spec in specs] == [None, Ref(0), None]


def test_a_steps_own_after_is_kept() -> None:
    specs, _, _ = plan_workflow(Chain([add(1, 1), JobSpec(task_name="tests.tasks.add", args=[1, 2], after=[7])]))

    assert specs[1].after == (7, Ref(0))


@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        (Chain([]), "workflow: a chain needs at least one step"),
        (Chain([add(1, 1), Group([])]), "workflow[1]: a group needs at least one step"),
        (Chain([add(1, 1), "tests.tasks.add"]), "workflow[1]: a step must be a job, a chain or a group, not str"),
        (Group("abc"), "workflow: a group takes a list of steps"),
        (Chain([add(1, 1)] * (MAX_WORKFLOW_JOBS + 1)), f"a workflow has at most {MAX_WORKFLOW_JOBS} jobs"),
        (
            Chain([Group([add(1, 1)] * 200), Group([add(1, 1)] * 200)]),
            "workflow[1][50]: more than 10000 links between jobs",
        ),
    ],
)
def test_bad_structures_are_refused_naming_the_place(workflow: Any, message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        plan_workflow(workflow)

    assert caught.value.message.startswith(message)


def test_nesting_past_the_limit_is_refused() -> None:
    workflow: Any = add(1, 1)
    for _ in range(MAX_WORKFLOW_DEPTH + 1):
        workflow = Chain([workflow])

    with pytest.raises(InvalidJob, match="nest more than 10 deep"):
        plan_workflow(workflow)


# --- references inside one bulk enqueue ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("after", "message"),
    [
        ([Ref(1)], "job 1: after: job 1 is not an earlier job of this request"),
        ([Ref(5)], "job 1: after: job 5 is not an earlier job of this request"),
        ([Ref(-1)], "job 1: after: job -1 is not an earlier job of this request"),
        ([Ref(True)], "job 1: after: job True is not an earlier job of this request"),
    ],
)
def test_a_reference_must_name_an_earlier_job_of_the_request(after: list[Any], message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        services.enqueue_jobs(specs=[add(1, 1), JobSpec(task_name="tests.tasks.add", args=[1, 2], after=after)])

    assert caught.value.message == message
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_single_enqueue_cannot_hold_a_reference() -> None:
    with pytest.raises(InvalidJob, match="needs a bulk enqueue"):
        services.enqueue_job(spec=JobSpec(task_name="tests.tasks.add", args=[1, 2], after=[Ref(0)]))


@pytest.mark.django_db(transaction=True)
def test_references_link_the_jobs_of_one_request_in_two_statements_more() -> None:
    specs = [add(1, 1), *[JobSpec(task_name="tests.tasks.add", args=[i, i], after=[Ref(0)]) for i in range(3)]]
    jobs = services.enqueue_jobs(specs=specs)

    first, *rest = (Job.objects.get(pk=job.pk) for job in jobs)
    assert first.status == Status.QUEUED and first.has_dependents
    assert [job.status for job in rest] == [Status.SCHEDULED] * 3
    assert [job.pending_parents for job in rest] == [1, 1, 1]
    links = set(JobDependency.objects.values_list("child_id", "parent_id", "resolved"))
    assert links == {(job.pk, first.pk, False) for job in rest}


@pytest.mark.django_db(transaction=True)
def test_result_input_must_name_a_parent() -> None:
    spec = JobSpec(task_name="tests.tasks.add", args=[1], after=[Ref(0)], result_input=[Ref(0), 99])

    with pytest.raises(InvalidJob, match="result_input must name jobs of after"):
        services.enqueue_jobs(specs=[add(1, 1), spec])


@pytest.mark.django_db(transaction=True)
def test_a_bad_step_is_named_by_its_place_and_nothing_is_stored() -> None:
    with pytest.raises(InvalidJob) as caught:
        services.enqueue_workflow(workflow=Chain([add(1, 1), Group([add(1, 1), JobSpec(task_name="x", priority=999)])]))

    assert caught.value.message.startswith("workflow[1][1]: ")
    with pytest.raises(InvalidJob, match=r"^workflow\[1\]: Unknown task 'no.such.task'"):
        services.enqueue_workflow(workflow=Chain([add(1, 1), JobSpec(task_name="no.such.task")]))
    assert not Job.objects.exists()


# --- through the moves ---------------------------------------------------------------------------------


def run_next(*, fail: bool = False) -> int:
    """Claim the next runnable job and finish it with the sum of its numbers (lists summed too)."""
    claimed = states.claim_next(queues=["default"], worker="w1", lease_seconds=30)
    assert claimed is not None

    def total(value: Any) -> int:
        return sum(total(v) for v in value) if isinstance(value, list) else int(value or 0)

    if fail:
        end = Finish(claimed=claimed, to=Status.FAILED, reason="failed", failure=Failure(outcome="failed"))
    else:
        end = Finish(claimed=claimed, to=Status.DONE, reason="done", result=total(claimed.args))
    assert states.record(end)
    states.promote_due()
    return claimed.id


@pytest.mark.django_db(transaction=True)
def test_a_chain_passes_each_result_on_and_a_group_passes_the_list() -> None:
    run = services.enqueue_workflow(
        workflow=Chain([add(1, 2), Group([add(10), add(20)]), echo(1000)], pass_results=True)
    )
    a, b, c, d = run.job_ids

    assert run.tree == {
        "chain": [
            {"job_id": a, "task": "tests.tasks.add"},
            {"group": [{"job_id": b, "task": "tests.tasks.add"}, {"job_id": c, "task": "tests.tasks.add"}]},
            {"job_id": d, "task": "tests.tasks.echo_arguments"},
        ]
    }
    assert [job.path for job in run.jobs] == [(0,), (1, 0), (1, 1), (2,)]
    assert Job.objects.get(pk=d).result_input == [b, c]
    assert run_next() == a
    assert Job.objects.get(pk=b).args == [3, 10]  # written in when queued: the job page shows it
    assert {run_next(), run_next()} == {b, c}
    assert run_next() == d
    finished = Job.objects.get(pk=d)
    assert finished.args == [[13, 23], 1000]
    assert finished.result == 1036
    assert finished.result_input is None  # filled once: a later promotion adds nothing


@pytest.mark.django_db(transaction=True)
def test_a_failed_step_cancels_the_rest_of_the_chain() -> None:
    run = services.enqueue_workflow(workflow=Chain([add(1, 2), Group([add(1), add(2)]), add(3)]))
    a, b, c, d = run.job_ids

    run_next()
    run_next(fail=True)
    run_next()
    states.promote_due()

    statuses = dict(Job.objects.filter(pk__in=run.job_ids).values_list("pk", "status"))
    assert statuses[a] == Status.DONE
    assert sorted([statuses[b], statuses[c]]) == [Status.DONE, Status.FAILED]
    assert statuses[d] == Status.CANCELLED
    failed = b if statuses[b] == Status.FAILED else c
    assert Job.objects.get(pk=d).last_error == f"dependency #{failed} failed"


@pytest.mark.django_db(transaction=True)
def test_references_work_with_idempotency_keys_too() -> None:
    specs = [
        JobSpec(task_name="tests.tasks.add", args=[1, 2], idempotency_key="first"),
        JobSpec(task_name="tests.tasks.echo_arguments", after=[Ref(0)], result_input=Ref(0)),
    ]
    first, second = services.enqueue_jobs(specs=specs)

    assert Job.objects.get(pk=second.pk).result_input == first.pk
    run_next()
    run_next()
    assert Job.objects.get(pk=second.pk).args == [3]


# --- jobs.workflows: Django tasks ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sig_binds_arguments_and_reads_the_tasks_options() -> None:
    from jobs.workflows import chain, group, sig
    from tests.tasks import add as add_task
    from tests.tasks import echo_arguments

    run = chain(
        sig(add_task, 1, b=2), group(echo_arguments, sig(echo_arguments.using(queue_name="other", priority=7), "x"))
    ).enqueue()

    jobs = [Job.objects.get(pk=pk) for pk in run.job_ids]
    assert [(job.task_name, job.args, job.payload, job.queue, job.priority) for job in jobs] == [
        ("tests.tasks.add", [1], {"b": 2}, "default", 0),
        ("tests.tasks.echo_arguments", [], {}, "default", 0),
        ("tests.tasks.echo_arguments", ["x"], {}, "other", 7),
    ]
    assert jobs[0].status == Status.QUEUED
    assert {job.pending_parents for job in jobs[1:]} == {1}
    assert run.tree["chain"][1]["group"][1] == {"job_id": jobs[2].pk, "task": "tests.tasks.echo_arguments"}


@pytest.mark.django_db(transaction=True)
def test_sig_refuses_what_is_not_a_task_or_not_json() -> None:
    from jobs.workflows import chain, group, sig
    from tests.tasks import add as add_task

    run = chain(sig(add_task, 1, 2), sig(add_task, 5).take_result(), group(sig(add_task, 1, 1))).enqueue()
    assert [Job.objects.get(pk=pk).result_input for pk in run.job_ids] == [None, run.job_ids[0], None]
    Job.objects.all().delete()

    with pytest.raises(TypeError, match="sig\\(\\) takes a Django task"):
        sig(len, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidJob, match="not JSON"):
        chain(sig(add_task, object(), 2)).enqueue()
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_job_taking_the_result_of_a_done_parent_waits_for_promotion_not_run_now() -> None:
    parent = services.enqueue_job(spec=add(1, 2))
    run_next()
    child = services.enqueue_job(
        spec=JobSpec(task_name="tests.tasks.echo_arguments", args=["x"], after=[parent.pk], result_input=[parent.pk])
    )

    assert child.status == Status.SCHEDULED
    assert not Job.objects.get(pk=child.pk).can_run_now  # run now would skip writing the result in
    assert states.promote_due() == 1
    stored = Job.objects.get(pk=child.pk)
    assert (stored.status, stored.args, stored.result_input) == (Status.QUEUED, [[3], "x"], None)
