"""The Celery app: settings come from Django's (CELERY_ namespace), tasks from every app."""
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def config_loggers(*args, **kwargs) -> None:
    """Use Django's LOGGING in workers too, so worker logs look like web logs."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
