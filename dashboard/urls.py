"""Dashboard URLs: pages, actions, sign-in (the WebSocket routes are in dashboard/routing.py)."""

from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/bulk/", views.jobs_bulk, name="jobs_bulk"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/cancel/", views.job_action, {"action": "cancel"}, name="job_cancel"),
    path("jobs/<int:job_id>/retry/", views.job_action, {"action": "retry"}, name="job_retry"),
    path("jobs/<int:job_id>/run-now/", views.job_action, {"action": "run-now"}, name="job_run_now"),
    # WebSocket addresses, named here so pages can reverse them (served by dashboard.routing).
    path("ws/overview/", views.websocket_only, name="ws_overview"),
    path("ws/jobs/", views.websocket_only, name="ws_jobs"),
    path("ws/jobs/<int:job_id>/", views.websocket_only, name="ws_job"),
]
