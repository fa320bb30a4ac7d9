# The waiting jobs per concurrency key (the dashboard's busiest keys), built without blocking claims.

from django.db import migrations, models

from jobs.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # PostgreSQL builds the index CONCURRENTLY, which a transaction refuses

    dependencies = [
        ("jobs", "0019_batches"),
    ]

    operations = [
        AddIndexOnline(
            model_name="job",
            index=models.Index(
                models.F("concurrency_key"), condition=models.Q(("status", "queued")), name="job_queued_key_idx"
            ),
        ),
    ]
