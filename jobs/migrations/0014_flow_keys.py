# Concurrency per key and rate limits (issue 13, points 2 and 3). Two nullable columns, an index
# built online (so the migration is not atomic), two new tables, and on PostgreSQL the functions the
# claim calls (see jobs/states/sql.py, _KEY_FREE_PG and _RATE_FREE_PG, for why they are functions).

import django.db.models.deletion
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

RATE_FREE = """
CREATE OR REPLACE FUNCTION jobdeck_rate_free(q text, t text, k text, now_epoch double precision) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT id, max_starts, period FROM jobs_ratelimit
             WHERE (scope = 'queue' AND name = q) OR (scope = 'task' AND name = t) OR (scope = 'key' AND name = k)
    LOOP
        IF NOT pg_try_advisory_xact_lock(1245790, r.id::integer) THEN
            RETURN false;
        END IF;
        IF (SELECT count(*) FROM jobs_ratestart WHERE rate_limit_id = r.id AND at > now_epoch - r.period)
           >= r.max_starts THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(KEY_SLOT_FREE)
        schema_editor.execute(RATE_FREE)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS jobdeck_key_slot_free(text, integer)")
        schema_editor.execute("DROP FUNCTION IF EXISTS jobdeck_rate_free(text, text, text, double precision)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("jobs", "0013_queue_backpressure"),
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
        migrations.CreateModel(
            name="RateLimit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "scope",
                    models.CharField(
                        choices=[("queue", "Queue"), ("task", "Task"), ("key", "Concurrency key")], max_length=8
                    ),
                ),
                ("name", models.CharField(max_length=255)),
                ("max_starts", models.PositiveIntegerField()),
                ("period", models.FloatField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("scope", "name"), name="ratelimit_scope_name"),
                    models.CheckConstraint(condition=models.Q(("max_starts__gte", 1)), name="ratelimit_max_starts_positive"),
                    models.CheckConstraint(condition=models.Q(("period__gt", 0)), name="ratelimit_period_positive"),
                ],
            },
        ),
        migrations.CreateModel(
            name="RateStart",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.FloatField()),
                (
                    "rate_limit",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="starts",
                        to="jobs.ratelimit",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["rate_limit", "at"], name="ratestart_limit_at_idx")],
            },
        ),
        migrations.RunPython(create_function, drop_function),
    ]
