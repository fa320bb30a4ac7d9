"""Size limits in the REST API: an oversized payload gets 413 JSON; lists never embed large fields."""

from __future__ import annotations

import pytest

from jobs import services
from jobs.models import Job
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_oversized_payload_gets_413_json_and_nothing_is_stored(api: ApiClient, settings: object) -> None:
    settings.JOBDECK_MAX_PAYLOAD_BYTES = 1000  # type: ignore[attr-defined]

    response = api.post("/jobs", {"task": "tests.tasks.append_line", "payload": {"path": "p", "line": "x" * 2000}})

    assert response.status_code == 413
    assert response.json() == {"error": "payload too large: 2027 bytes > limit 1000 bytes"}
    assert not Job.objects.exists()


def test_list_embeds_large_fields_only_as_omitted_while_the_detail_has_them_whole(
    api: ApiClient, settings: object
) -> None:
    settings.JOBDECK_LIST_FIELD_MAX_CHARS = 100  # type: ignore[attr-defined]
    small = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
    big = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.append_line", args=["p", "x" * 500]))
    # A large result stored before limits existed (or under a higher one) must not swell the list either.
    Job.objects.filter(pk=small.pk).update(result={"rows": ["y" * 500]})

    rows = {row["id"]: row for row in api.get("/jobs").json()}

    assert (rows[small.pk]["args"], rows[small.pk]["payload"], rows[small.pk]["result"]) == ([1, 2], {}, None)
    assert rows[small.pk]["omitted"] == ["result"]
    assert (rows[big.pk]["args"], rows[big.pk]["payload"], rows[big.pk]["result"]) == (None, {}, None)
    assert rows[big.pk]["omitted"] == ["args"]
    assert rows[big.pk]["task"] == "tests.tasks.append_line"  # everything else is as before
    detail = api.get(f"/jobs/{big.pk}").json()
    assert detail["args"] == ["p", "x" * 500]
    assert "omitted" not in detail
    assert api.get(f"/jobs/{small.pk}").json()["result"] == {"rows": ["y" * 500]}
