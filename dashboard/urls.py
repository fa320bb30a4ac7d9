"""Dashboard URLs: pages, actions, sign-in (the WebSocket routes are in dashboard/routing.py)."""

from django.urls import path, re_path

from dashboard.views import (
    auth,
    bulk,
    failed,
    job_detail,
    jobs_list,
    limits,
    live,
    overview,
    queues,
    schedules,
    tasks,
    workers,
    workflow,
)

app_name = "dashboard"
urlpatterns = [
    path("", overview.overview, name="overview"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("jobs/", jobs_list.jobs, name="jobs"),
    path("jobs/bulk/", bulk.jobs_bulk, name="jobs_bulk"),
    path("jobs/<int:job_id>/", job_detail.job_detail, name="job_detail"),
    re_path(r"^jobs/(?P<job_id>[0-9]+)/(?P<part>payload|result)/$", job_detail.job_data, name="job_data"),
    path("jobs/<int:job_id>/cancel/", job_detail.job_action, {"action": "cancel"}, name="job_cancel"),
    path("jobs/<int:job_id>/retry/", job_detail.job_action, {"action": "retry"}, name="job_retry"),
    path("jobs/<int:job_id>/run-now/", job_detail.job_action, {"action": "run-now"}, name="job_run_now"),
    path("jobs/<int:job_id>/duplicate/", job_detail.job_duplicate, name="job_duplicate"),
    path("jobs/<int:job_id>/workflow/", workflow.workflow_page, name="job_workflow"),
    path("jobs/<int:job_id>/workflow/retry/", workflow.workflow_action, {"action": "retry"}, name="workflow_retry"),
    path("jobs/<int:job_id>/workflow/cancel/", workflow.workflow_action, {"action": "cancel"}, name="workflow_cancel"),
    path("failed/", failed.failed, name="failed"),
    path("failed/retry/", failed.failed_retry, name="failed_retry"),
    path("queues/", queues.queues, name="queues"),
    path("queues/<str:name>/pause/", queues.queue_action, {"action": "pause"}, name="queue_pause"),
    path("queues/<str:name>/resume/", queues.queue_action, {"action": "resume"}, name="queue_resume"),
    path("queues/<str:name>/concurrency/", queues.queue_action, {"action": "concurrency"}, name="queue_concurrency"),
    path("queues/<str:name>/max-depth/", queues.queue_action, {"action": "max_depth"}, name="queue_max_depth"),
    path("queues/<str:name>/retry-policy/", queues.queue_action, {"action": "retry"}, name="queue_retry_policy"),
    path("rate-limits/set/", limits.rate_limit_action, {"action": "set"}, name="rate_limit_set"),
    path("rate-limits/remove/", limits.rate_limit_action, {"action": "remove"}, name="rate_limit_remove"),
    path("workers/", workers.workers, name="workers"),
    path("tasks/", tasks.tasks, name="tasks"),
    path("tasks/<str:name>/", tasks.task_detail, name="task_detail"),
    path("schedules/", schedules.schedules_page, name="schedules"),
    path("schedules/<int:schedule_id>/enable/", schedules.schedule_enable, {"enabled": True}, name="schedule_enable"),
    path(
        "schedules/<int:schedule_id>/disable/", schedules.schedule_enable, {"enabled": False}, name="schedule_disable"
    ),
    path("schedules/<int:schedule_id>/run-now/", schedules.schedule_run_now, name="schedule_run_now"),
    # WebSocket addresses, named here so pages can reverse them (served by dashboard.routing).
    path("ws/overview/", live.websocket_only, name="ws_overview"),
    path("ws/jobs/", live.websocket_only, name="ws_jobs"),
    path("ws/jobs/<int:job_id>/", live.websocket_only, name="ws_job"),
]
