"""Retry policy per task and queue, snooze (issue 12): Job.snoozes and Job.retry_policy, Queue.retry_policy,
and the attempt outcome "snoozed".

The new columns are nullable or have a database default, so old workers inserting jobs during a
rolling deploy keep working. The outcome's new choice changes only Django's model state (choices are
not in the database), hence no SQL for it.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0008_worker_tasks"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="snoozes",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="job",
            name="retry_policy",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="queue",
            name="retry_policy",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="attempt",
                    name="outcome",
                    field=models.CharField(
                        choices=[
                            ("done", "Done"),
                            ("failed", "Failed"),
                            ("timeout", "Timed out"),
                            ("cancelled", "Cancelled"),
                            ("lost", "Worker lost"),
                            ("interrupted", "Interrupted by shutdown"),
                            ("snoozed", "Snoozed"),
                        ],
                        max_length=16,
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
