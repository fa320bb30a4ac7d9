from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0017_trace_context'),
    ]

    operations = [
        migrations.AddField(
            model_name='job',
            name='result_input',
            field=models.JSONField(blank=True, null=True),
        ),
    ]
