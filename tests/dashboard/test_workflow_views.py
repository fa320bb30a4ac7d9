"""The workflow page (dashboard/views/workflow.py): graph, table and counts; polling while unfinished;
retry the failed part and cancel the rest, with a confirmation, for operators only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jobs import states
from jobs.models import Job
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db(transaction=True)


def chain(make_job: Any) -> tuple[Any, Any, Any]:
    """a <- b <- c: a failed for good, b and c cancelled by it."""
    a = make_job(max_attempts=1)
    b = make_job(after=[a.pk])
    c = make_job(after=[b.pk])
    run_job(a.pk, to="failed", error="boom")
    states.promote_due()
    states.promote_due()
    return a, b, c


def test_job_page_links_to_its_workflow_only_when_it_has_one(viewer_client: Client, make_job: Any) -> None:
    a = make_job()
    b = make_job(after=[a.pk])
    alone = make_job()

    page = viewer_client.get(reverse("dashboard:job_detail", args=[b.pk])).content.decode()
    assert f'href="{reverse("dashboard:job_workflow", args=[b.pk])}"' in page
    assert (
        "job-workflow-link" not in viewer_client.get(reverse("dashboard:job_detail", args=[alone.pk])).content.decode()
    )


def test_page_draws_every_job_with_its_state_and_polls_while_unfinished(viewer_client: Client, make_job: Any) -> None:
    a = make_job()
    b = make_job(after=[a.pk])

    response = viewer_client.get(reverse("dashboard:job_workflow", args=[a.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'id="wf-node-{a.pk}"' in page and f'id="wf-node-{b.pk}"' in page
    assert f"#{b.pk} · Scheduled</text>" in page  # the state in words, not only in colour
    assert page.count('class="wf-edge"') == 1
    assert 'hx-trigger="every 2s"' in page
    assert 'id="workflow-actions"' not in page  # a viewer gets no action buttons


def test_the_htmx_fragment_stops_polling_once_every_job_finished(viewer_client: Client, make_job: Any) -> None:
    a = make_job()
    b = make_job(after=[a.pk])
    run_job(a.pk)
    states.promote_due()
    run_job(b.pk)

    response = viewer_client.get(reverse("dashboard:job_workflow", args=[a.pk]), headers={"HX-Request": "true"})

    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div id="workflow-graph"')
    assert "hx-trigger" not in fragment
    assert 'data-finished="yes"' in fragment


def test_unknown_job_is_a_404_page(viewer_client: Client) -> None:
    assert viewer_client.get(reverse("dashboard:job_workflow", args=[424242])).status_code == 404


def test_retry_asks_to_confirm_then_rearms_the_failed_part(operator_client: Client, make_job: Any) -> None:
    a, b, c = chain(make_job)
    url = reverse("dashboard:workflow_retry", args=[c.pk])
    page = operator_client.get(reverse("dashboard:job_workflow", args=[c.pk])).content.decode()
    assert f'action="{url}"' in page

    confirm = operator_client.post(url)
    assert confirm.status_code == 200
    assert "Retry the failed part?" in confirm.content.decode()
    assert "Its 3 job(s) now: 1 failed, 2 cancelled." in confirm.content.decode()
    assert Job.objects.get(pk=a.pk).status == "failed"

    done = operator_client.post(url, {"confirm": "1"}, follow=True)
    assert "3 of 3 job(s) re-armed." in done.content.decode()
    assert dict(Job.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("pk", "status")) == {
        a.pk: "queued",
        b.pk: "scheduled",
        c.pk: "scheduled",
    }


def test_an_action_on_an_unknown_job_is_a_404_page(operator_client: Client) -> None:
    assert operator_client.post(reverse("dashboard:workflow_retry", args=[424242])).status_code == 404
    assert (
        operator_client.post(reverse("dashboard:workflow_cancel", args=[424242]), {"confirm": "1"}).status_code == 404
    )


def test_cancel_the_rest_cancels_every_unfinished_job(operator_client: Client, make_job: Any) -> None:
    a = make_job()
    b = make_job(after=[a.pk])

    operator_client.post(reverse("dashboard:workflow_cancel", args=[a.pk]), {"confirm": "1"})

    assert set(Job.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"cancelled"}


@pytest.mark.parametrize("action", ["workflow_retry", "workflow_cancel"])
def test_viewers_and_outsiders_cannot_act(
    viewer_client: Client, outsider_client: Client, make_job: Any, action: str
) -> None:
    a, _, _ = chain(make_job)

    for client in (viewer_client, outsider_client):
        assert client.post(reverse(f"dashboard:{action}", args=[a.pk]), {"confirm": "1"}).status_code == 403
    assert Client().post(reverse(f"dashboard:{action}", args=[a.pk]), {"confirm": "1"}).status_code == 302
    assert Job.objects.get(pk=a.pk).status == "failed"


def test_a_batch_callbacks_page_lists_its_first_100_parents_and_counts_the_rest(viewer_client: Client) -> None:
    from jobs import services

    members = [services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(150)]
    new = services.enqueue_batch(
        specs=members,
        on_complete=services.JobSpec(task_name="tests.tasks.add", args=[0, 0]),
        on_failure=services.JobSpec(task_name="tests.tasks.add", args=[0, 0]),
    )

    complete = viewer_client.get(reverse("dashboard:job_detail", args=[new.callbacks["on_complete"].pk]))
    page = complete.content.decode()
    parents = page.split('id="job-parents"', 1)[1].split("</dd>", 1)[0]
    assert parents.count("<a ") == 100
    assert "and 50 more" in parents and "runs even if one fails" in parents
    failure = viewer_client.get(reverse("dashboard:job_detail", args=[new.callbacks["on_failure"].pk]))
    assert "runs only if one fails" in failure.content.decode()
