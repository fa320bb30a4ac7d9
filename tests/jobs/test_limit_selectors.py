"""The busiest concurrency keys are read in two bounded, index-backed queries."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import limit_selectors, services, states
from tests.engine.test_claim_plan import explain


def test_busiest_keys_read_running_and_queued_jobs_through_their_partial_indexes(make_job: Any) -> None:
    for n in range(6):
        make_job(concurrency_key=f"customer:{n % 3}", concurrency_limit=5)
    for _ in range(2):
        assert states.claim_next(queues=["default"], worker="w", lease_seconds=30) is not None
    # Many queued jobs without a key: an index on anything else than the key would read them all.
    services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[1, 2])] * 500)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE jobs_job")

    with CaptureQueriesContext(connection) as ctx:
        keys = limit_selectors.busiest_keys()

    assert [(k.key, k.running, k.limit, k.waiting) for k in keys] == [("customer:0", 1, 5, 1), ("customer:1", 1, 5, 1)]
    assert len(ctx.captured_queries) == 2
    running, waiting = ("\n".join(explain(q["sql"])) for q in ctx.captured_queries)
    # Running rows are few (the workers' slots): either index bounds the read to them.
    assert "job_running_key_idx" in running or "job_status_id_idx (status=?)" in running, running
    assert "job_queued_key_idx" in waiting, waiting
