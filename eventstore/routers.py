"""Sends the read side (views and projection checkpoints) to the `read` database.

With no READ_DATABASE_URL there is no `read` alias and everything lives in `default`.
Checkpoints live with the views so that both commit in the same transaction.
"""

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

READ_APPS = frozenset({"orders_read"})
READ_MODELS = frozenset({("eventstore", "projectionstate")})


def read_db_alias() -> str:
    """The alias the read models live on."""
    return "read" if "read" in settings.DATABASES else DEFAULT_DB_ALIAS


def is_read_model(app_label: str, model_name: str | None) -> bool:
    return app_label in READ_APPS or (app_label, (model_name or "").lower()) in READ_MODELS


class ReadModelRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return read_db_alias() if is_read_model(model._meta.app_label, model._meta.model_name) else DEFAULT_DB_ALIAS

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        if read_db_alias() == DEFAULT_DB_ALIAS:
            return True
        if hints.get("target_db") is not None:
            return hints["target_db"] == db
        if model_name is None and app_label in READ_APPS:
            return db == "read"  # RunSQL/RunPython of the read apps
        wants_read = is_read_model(app_label, model_name)
        return db == ("read" if wants_read else DEFAULT_DB_ALIAS)
