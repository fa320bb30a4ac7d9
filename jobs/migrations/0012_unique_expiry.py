# Unique jobs for a period and expiry (issue 12). The indexes build without blocking the queue
# (CONCURRENTLY on PostgreSQL, see jobs/migration_operations.py), so this migration is not atomic.
# The key's unique index is replaced by adding the new one first, then dropping the old: a key is
# unique throughout.

from django.db import migrations, models

from jobs.migration_operations import AddIndexOnline, AddUniqueIndexOnline, RemoveUniqueIndexOnline


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("jobs", "0011_task_versions"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="unique_for",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="key_held",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="job",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        AddUniqueIndexOnline(
            model_name="job",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("idempotency_key__isnull", False),
                    models.Q(
                        ("status__in", ["queued", "retrying", "running", "scheduled"]),
                        ("key_held", True),
                        _connector="OR",
                    ),
                ),
                fields=("idempotency_key",),
                name="job_idempotency_key_held",
            ),
        ),
        RemoveUniqueIndexOnline(
            model_name="job",
            name="job_idempotency_key_active",
        ),
        AddIndexOnline(
            model_name="job",
            index=models.Index(
                models.F("expires_at"),
                condition=models.Q(
                    ("status__in", ["queued", "retrying", "scheduled"]), ("expires_at__isnull", False)
                ),
                name="job_expiry_idx",
            ),
        ),
    ]
