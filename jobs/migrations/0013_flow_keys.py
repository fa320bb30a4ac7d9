# Concurrency per key (issue 13, point 2). Two nullable columns, an index built online (so the
# migration is not atomic), and on PostgreSQL the function the claim calls for a keyed job
# (see jobs/states/sql.py, _KEY_FREE_PG, for why it is a function).

from django.db import migrations, models

from jobs.migration_operations import AddIndexOnline

KEY_SLOT_FREE = """
CREATE OR REPLACE FUNCTION jobdeck_key_slot_free(key text, lim integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(1245789, hashtext(key)) THEN
        RETURN false;
    END IF;
    RETURN (SELECT count(*) FROM jobs_job WHERE concurrency_key = key AND status = 'running') < lim;
END
$$
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(KEY_SLOT_FREE)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS jobdeck_key_slot_free(text, integer)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("jobs", "0012_unique_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="concurrency_key",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="concurrency_limit",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        AddIndexOnline(
            model_name="job",
            index=models.Index(
                models.F("concurrency_key"), condition=models.Q(("status", "running")), name="job_running_key_idx"
            ),
        ),
        migrations.RunPython(create_function, drop_function),
    ]
