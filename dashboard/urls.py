"""Dashboard URLs: pages, actions, sign-in (the WebSocket routes are in dashboard/routing.py)."""

from django.urls import path, re_path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/bulk/", views.jobs_bulk, name="jobs_bulk"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    re_path(r"^jobs/(?P<job_id>[0-9]+)/(?P<part>payload|result)/$", views.job_data, name="job_data"),
    path("jobs/<int:job_id>/cancel/", views.job_action, {"action": "cancel"}, name="job_cancel"),
    path("jobs/<int:job_id>/retry/", views.job_action, {"action": "retry"}, name="job_retry"),
    path("jobs/<int:job_id>/run-now/", views.job_action, {"action": "run-now"}, name="job_run_now"),
    path("jobs/<int:job_id>/duplicate/", views.job_duplicate, name="job_duplicate"),
    path("failed/", views.failed, name="failed"),
    path("failed/retry/", views.failed_retry, name="failed_retry"),
    path("queues/", views.queues, name="queues"),
    path("queues/<str:name>/pause/", views.queue_action, {"action": "pause"}, name="queue_pause"),
    path("queues/<str:name>/resume/", views.queue_action, {"action": "resume"}, name="queue_resume"),
    path("queues/<str:name>/concurrency/", views.queue_action, {"action": "concurrency"}, name="queue_concurrency"),
    path("workers/", views.workers, name="workers"),
    path("schedules/", views.schedules_page, name="schedules"),
    path("schedules/<int:schedule_id>/enable/", views.schedule_enable, {"enabled": True}, name="schedule_enable"),
    path("schedules/<int:schedule_id>/disable/", views.schedule_enable, {"enabled": False}, name="schedule_disable"),
    path("schedules/<int:schedule_id>/run-now/", views.schedule_run_now, name="schedule_run_now"),
    # WebSocket addresses, named here so pages can reverse them (served by dashboard.routing).
    path("ws/overview/", views.websocket_only, name="ws_overview"),
    path("ws/jobs/", views.websocket_only, name="ws_jobs"),
    path("ws/jobs/<int:job_id>/", views.websocket_only, name="ws_job"),
]
