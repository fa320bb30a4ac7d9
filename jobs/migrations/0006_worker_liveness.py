from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0004_queue_waiting_index"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="workerprocess",
            options={"verbose_name_plural": "worker processes"},
        ),
    ]
