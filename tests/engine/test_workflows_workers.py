"""Chains and groups with real worker processes: a chain passing results computes the right value,
a group's jobs run at the same time, and no step starts before the steps it follows have finished
(checked against each run's own recorded interval and the database's timestamps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.models import Job, JobDependency
from jobs.status import Status
from jobs.workflows import chain, group, sig
from tests.conftest import wait_until
from tests.tasks import chain_step, fail_until

pytestmark = pytest.mark.workers


def intervals(log: Path) -> dict[int, tuple[float, float]]:
    runs = {}
    for line in log.read_text().splitlines():
        job_id, start, end = line.split()
        runs[int(job_id)] = (float(start), float(end))
    return runs


def test_a_chain_with_a_group_passes_results_runs_the_group_at_once_and_never_early(
    start_workers, tmp_path: Path
) -> None:
    log, meet = str(tmp_path / "runs.log"), tmp_path / "meet"
    meet.mkdir()
    member = {"log": log, "meet": str(meet), "meet_count": 3}
    workflow = chain(
        sig(chain_step, log=log, add=1),
        group(sig(chain_step, add=10, **member), sig(chain_step, add=20, **member), sig(chain_step, add=30, **member)),
        sig(chain_step, log=log, add=100),
        chain(sig(chain_step, log=log, add=1000), sig(chain_step.using(priority=5), log=log, add=10_000)),
        pass_results=True,
    )
    run = workflow.enqueue()
    for kind in ("thread", "thread", "process", "process"):
        start_workers("-w", "1", "-k", kind)

    last = run.job_ids[-1]
    wait_until(lambda: Job.objects.get(pk=last).status in (Status.DONE, Status.FAILED, Status.CANCELLED), timeout=120)

    jobs = {job.pk: job for job in Job.objects.filter(pk__in=run.job_ids)}
    assert {job.status for job in jobs.values()} == {Status.DONE}
    # 1; then 11, 21, 31; then 100 + 63; then 1000 + 163; then 10,000 + 1163.
    assert [jobs[pk].result for pk in run.job_ids] == [1, 11, 21, 31, 163, 1163, 11163]
    a, b, c, d, e, f, g = run.job_ids
    assert jobs[e].args == [[11, 21, 31]]  # the group's results, in group order
    assert jobs[g].args == [1163]
    assert jobs[g].priority == 5  # .using() is read as Django's Task API writes it
    # The group met: all three were running at once (each waited for the other two to arrive).
    assert sorted(int(p.name) for p in meet.iterdir()) == [b, c, d]
    runs = intervals(Path(log))
    assert max(runs[m][0] for m in (b, c, d)) < min(runs[m][1] for m in (b, c, d))
    # No step started before the steps it follows had finished: by the runs' own clocks (one host)
    # and by the database's timestamps.
    for child, parent in JobDependency.objects.filter(child__in=run.job_ids).values_list("child_id", "parent_id"):
        assert runs[child][0] >= runs[parent][1], (child, parent)
        assert jobs[child].started_at >= jobs[parent].finished_at, (child, parent)
    assert set(JobDependency.objects.filter(child=e).values_list("parent_id", flat=True)) == {b, c, d}


def test_a_failed_step_cancels_the_rest_of_the_chain_with_workers(start_workers, tmp_path: Path) -> None:
    log = str(tmp_path / "runs.log")
    run = chain(
        sig(chain_step, log=log, add=1),
        sig(fail_until.using(queue_name="default"), str(tmp_path / "fails"), 5),
        group(sig(chain_step, log=log, add=2), sig(chain_step, log=log, add=3)),
        sig(chain_step, log=log, add=4),
    ).enqueue()
    Job.objects.filter(pk=run.job_ids[1]).update(max_attempts=1)  # fail for good at its first attempt
    start_workers("-w", "2")

    wait_until(lambda: not Job.objects.active().exists(), timeout=60)

    statuses = [Job.objects.get(pk=pk).status for pk in run.job_ids]
    assert statuses == [Status.DONE, Status.FAILED, Status.CANCELLED, Status.CANCELLED, Status.CANCELLED]
    failed = run.job_ids[1]
    reasons = [Job.objects.get(pk=pk).last_error for pk in run.job_ids[2:4]]
    assert reasons == [f"dependency #{failed} failed"] * 2
    assert not Path(log).read_text().strip().count("\n")  # only the first step ran
