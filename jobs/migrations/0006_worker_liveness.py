from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_job_interrupted"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="workerprocess",
            options={"verbose_name_plural": "worker processes"},
        ),
    ]
