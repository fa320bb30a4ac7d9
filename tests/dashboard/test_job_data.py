"""The job page's payload and result: large values cut with an "expand", and hidden from viewers on request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from dashboard import fragments
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db

BIG = "x" * (fragments.JSON_DISPLAY_LIMIT + 5_000)


def data_url(job_id: int, part: str) -> str:
    return reverse("dashboard:job_data", args=[job_id, part])


# --- expand --------------------------------------------------------------------------------------


def test_a_large_payload_is_cut_with_an_expand_link(viewer_client: Client, make_job: Any) -> None:
    job = make_job(args=[BIG, 1])
    full = fragments.pretty_json(fragments.job_data(job, "payload"), limit=None)[0]

    html = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert BIG not in html and BIG[: fragments.JSON_DISPLAY_LIMIT - 100] in html
    assert f"Showing {fragments.JSON_DISPLAY_LIMIT:,} of {len(full):,} characters." in html
    assert f'hx-get="{data_url(job.pk, "payload")}"' in html


def test_expand_over_htmx_returns_the_whole_box_without_the_cut_note(viewer_client: Client, make_job: Any) -> None:
    job = make_job(args=[BIG, "<script>x</script>"])

    response = viewer_client.get(data_url(job.pk, "payload"), headers={"HX-Request": "true"})
    html = response.content.decode()

    assert response.status_code == 200
    assert html.lstrip().startswith('<div class="json-box" id="job-payload">')
    assert BIG in html and "Showing" not in html
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_expand_without_javascript_opens_the_json_as_plain_text(viewer_client: Client, make_job: Any) -> None:
    job = run_job(make_job().pk, result={"rows": [BIG]})

    response = viewer_client.get(data_url(job.pk, "result"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert json.loads(response.content) == {"rows": [BIG]}


def test_a_large_result_is_cut_with_an_expand_link(viewer_client: Client, make_job: Any) -> None:
    job = run_job(make_job().pk, result=BIG)

    html = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert f'hx-get="{data_url(job.pk, "result")}"' in html and BIG not in html


def test_a_small_value_has_no_expand(viewer_client: Client, make_job: Any) -> None:
    job = make_job()

    html = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert "Expand" not in html


def test_expand_of_a_missing_job_is_404_and_of_an_unknown_part_404(viewer_client: Client, make_job: Any) -> None:
    job = make_job()

    assert viewer_client.get(data_url(999_999, "payload")).status_code == 404
    assert viewer_client.get(f"/jobs/{job.pk}/secrets/").status_code == 404


def test_expand_needs_a_signed_in_user(client: Client, make_job: Any) -> None:
    job = make_job()

    assert client.get(data_url(job.pk, "payload")).status_code == 302


# --- payloads hidden from viewers -----------------------------------------------------------------


@pytest.fixture
def hidden(settings: Any) -> None:
    settings.JOBDECK_HIDE_PAYLOADS_FROM_VIEWERS = True


SECRET = "card-4242-4242"


def test_viewers_see_payloads_unless_they_are_hidden(viewer_client: Client, make_job: Any) -> None:
    job = make_job(kwargs={"card": SECRET})

    html = viewer_client.get(reverse("dashboard:job_detail", args=[job.pk])).content.decode()

    assert SECRET in html


@pytest.mark.usefixtures("hidden")
def test_hidden_payloads_and_results_are_not_sent_to_viewers(
    viewer_client: Client, operator_client: Client, make_job: Any
) -> None:
    job = run_job(make_job(kwargs={"card": SECRET}).pk, result={"charged": SECRET})
    url = reverse("dashboard:job_detail", args=[job.pk])

    seen_by_viewer = viewer_client.get(url).content.decode()
    seen_by_operator = operator_client.get(url).content.decode()

    assert SECRET not in seen_by_viewer
    assert "Hidden: payloads are not shown to viewers." in seen_by_viewer
    assert "Hidden: results are not shown to viewers." in seen_by_viewer
    assert seen_by_operator.count(SECRET) == 2


@pytest.mark.usefixtures("hidden")
def test_hidden_payloads_are_left_out_of_the_viewers_live_region(make_job: Any) -> None:
    job = run_job(make_job(kwargs={"card": SECRET}).pk, result={"charged": SECRET})

    variants = fragments.job_live_variants(job.pk)

    assert SECRET not in variants["view"] and "Hidden: results" in variants["view"]
    assert SECRET in variants["operate"]


@pytest.mark.usefixtures("hidden")
def test_hidden_payloads_refuse_expand_and_payload_search_to_viewers(
    viewer_client: Client, operator_client: Client, make_job: Any
) -> None:
    job = make_job(kwargs={"card": SECRET})
    search = reverse("dashboard:jobs") + f"?q=payload.card:{SECRET}"

    for response in (viewer_client.get(data_url(job.pk, "payload")), viewer_client.get(search)):
        assert response.status_code == 403
        assert "hidden from" in response.content.decode()
    assert operator_client.get(data_url(job.pk, "payload")).status_code == 200
    assert f'id="job-{job.pk}"' in operator_client.get(search).content.decode()
