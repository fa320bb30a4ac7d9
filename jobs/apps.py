"""App config for the job engine."""

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.tasks import signals

        from jobs import taskresults

        # Django logs every FAILED task_finished at ERROR, and a cancelled job reads FAILED in its
        # four statuses. Our worker logs its own jobs' endings with the stored state instead
        # (taskresults.notify_finished); other backends keep Django's logging (taskresults.log_task_finished).
        if signals.task_finished.disconnect(signals.log_task_finished):
            signals.task_finished.connect(taskresults.log_task_finished)
