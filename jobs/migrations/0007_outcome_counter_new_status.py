"""OutcomeCounter.outcome is named for what it holds, new_status; the column stays "outcome".

Only Django's model state changes (no SQL): a renamed column would break the workers that still run
the old code during a rolling deploy (tests/test_migrations.py), and the unique constraint already
covers the same three columns.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_worker_liveness"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="outcomecounter", name="outcome_counter_unique"),
                migrations.RenameField(model_name="outcomecounter", old_name="outcome", new_name="new_status"),
                migrations.AlterField(
                    model_name="outcomecounter",
                    name="new_status",
                    field=models.CharField(db_column="outcome", max_length=16),
                ),
                migrations.AddConstraint(
                    model_name="outcomecounter",
                    constraint=models.UniqueConstraint(
                        fields=("process", "queue", "new_status"), name="outcome_counter_unique"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
