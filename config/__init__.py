"""Project wiring; exporting the Celery app makes @shared_task bind to it."""

from .celery_app import app as celery_app

__all__ = ("celery_app",)
