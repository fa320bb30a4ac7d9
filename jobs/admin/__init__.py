"""Django admin for Jobdeck, one module per area; importing them registers the ModelAdmins."""

from jobs.admin import history, jobs, queues, rate_limits, schedules, tokens, workers  # noqa: F401
