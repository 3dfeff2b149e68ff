"""Idempotency records keep the command's domain result instead of its HTTP answer.

Records written before hold the answer as sent (status 200/201, a body with `id`,
`version` and `consistency_token`, and the headers that repeat them); they are
rewritten to the result they were rendered from, so a key used just before a deploy
still replays the same answer after it. Reversible: the answer is rendered back.
"""

import json

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

CREATED = 201
UPDATED = 200


def answers_to_results(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Record = apps.get_model("orders_write", "IdempotencyRecord")
    records = Record.objects.using(schema_editor.connection.alias).exclude(status_code=0)
    for record in records.iterator():
        body = json.loads(record.body)
        record.body = json.dumps(
            {
                "id": body["id"],
                "version": body["version"],
                "checkpoint": body["consistency_token"],
                "created": record.status_code == CREATED,
            }
        )
        record.save(update_fields=["body"])


def results_to_answers(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Record = apps.get_model("orders_write", "IdempotencyRecord")
    records = Record.objects.using(schema_editor.connection.alias).exclude(body="")
    for record in records.iterator():
        result = json.loads(record.body)
        token = result["checkpoint"]
        record.status_code = CREATED if result["created"] else UPDATED
        record.body = json.dumps({"id": result["id"], "version": result["version"], "consistency_token": token})
        record.headers = json.dumps({"ETag": f'"{result["version"]}"', "X-Consistency-Token": token})
        record.save(update_fields=["status_code", "body", "headers"])


class Migration(migrations.Migration):
    dependencies = [
        ("orders_write", "0003_idempotency_created_at_index"),
    ]

    operations = [
        migrations.RunPython(answers_to_results, results_to_answers),
        migrations.RemoveField(model_name="idempotencyrecord", name="headers"),
        migrations.RemoveField(model_name="idempotencyrecord", name="status_code"),
        migrations.RenameField(model_name="idempotencyrecord", old_name="body", new_name="result"),
    ]
