"""Verification runs (what the admin and /metrics show of the last one) and projection lag samples (the lag chart)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("eventstore", "0006_no_purge_switch"),
    ]

    operations = [
        migrations.CreateModel(
            name="LagSample",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("taken_at", models.DateTimeField(db_index=True)),
                ("projection", models.CharField(max_length=100)),
                ("lag_events", models.BigIntegerField()),
                ("lag_seconds", models.FloatField()),
            ],
            options={
                "db_table": "eventstore_lag_sample",
                "ordering": ("taken_at", "projection"),
            },
        ),
        migrations.CreateModel(
            name="Verification",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField()),
                ("ok", models.BooleanField()),
                (
                    "checkpoint_txid",
                    models.BigIntegerField(help_text="the log head when the run started: it covered at least this"),
                ),
                ("checkpoint_position", models.BigIntegerField()),
                ("events_checked", models.BigIntegerField(default=0)),
                ("streams_checked", models.BigIntegerField(default=0)),
                ("seals_checked", models.BigIntegerField(default=0)),
                ("failure_stream_id", models.CharField(blank=True, default="", max_length=255)),
                ("failure_version", models.PositiveIntegerField(blank=True, null=True)),
                ("failure_reason", models.CharField(blank=True, default="", max_length=20)),
                ("failure_detail", models.TextField(blank=True, default="")),
                (
                    "started_by",
                    models.CharField(blank=True, default="", help_text="empty: the command line", max_length=150),
                ),
            ],
            options={
                "db_table": "eventstore_verification",
                "ordering": ("-id",),
                "permissions": [("run_verification", "Can run a verification of the log from the admin")],
            },
        ),
    ]
