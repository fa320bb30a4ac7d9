# The due index leaves out children waiting for their parents (see Job.Meta.indexes): the new one is
# built first, then the old dropped, both without blocking the queue (so the migration is not atomic).

from django.db import migrations, models

from jobs.migration_operations import AddIndexOnline, RemoveIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("jobs", "0015_job_dependencies"),
    ]

    operations = [
        AddIndexOnline(
            model_name="job",
            index=models.Index(
                models.F("run_at"),
                condition=models.Q(("pending_parents", 0), ("status__in", ["scheduled", "retrying"])),
                name="job_due_ready_idx",
            ),
        ),
        RemoveIndexOnline(model_name="job", name="job_due_idx"),
    ]
