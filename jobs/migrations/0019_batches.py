# Batches (issue 13): the Batch table and Job.batch_id with its partial index, built online.

from django.db import migrations, models

from jobs.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # AddIndexOnline builds CONCURRENTLY on PostgreSQL

    dependencies = [
        ('jobs', '0018_job_result_input'),
    ]

    operations = [
        migrations.CreateModel(
            name='Batch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('description', models.CharField(blank=True, default='', max_length=200)),
                ('created_at', models.DateTimeField()),
                ('total', models.PositiveIntegerField()),
                ('on_success_id', models.BigIntegerField(blank=True, null=True)),
                ('on_complete_id', models.BigIntegerField(blank=True, null=True)),
                ('on_failure_id', models.BigIntegerField(blank=True, null=True)),
                ('actor', models.CharField(blank=True, default='', max_length=200)),
            ],
            options={
                'indexes': [
                    models.Index(fields=['on_success_id'], name='batch_on_success_idx'),
                    models.Index(fields=['on_complete_id'], name='batch_on_complete_idx'),
                    models.Index(fields=['on_failure_id'], name='batch_on_failure_idx'),
                ],
            },
        ),
        migrations.AddField(
            model_name='job',
            name='batch_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        AddIndexOnline(
            model_name='job',
            index=models.Index(
                condition=models.Q(('batch_id__isnull', False)), fields=['batch_id', 'status'], name='job_batch_status_idx'
            ),
        ),
    ]
