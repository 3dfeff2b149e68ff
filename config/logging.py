"""Structured logs: one JSON object per line, each carrying the request's id.

The request id is kept in a context variable so that log lines written anywhere
during a request (command handlers, the store) can be tied back to it.
"""

import contextvars
import json
import logging
from datetime import UTC, datetime

NO_ID = "-"
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_ID)
# Set only inside a Celery task (config.task_context): the correlation id it carries and its own id.
correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default=NO_ID)
task_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default=NO_ID)


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id, and inside a task with its correlation and task ids.

    The last two are added only when set, so a web request's lines stay as they were, and
    an id the caller passed explicitly (`extra={"correlation_id": ...}`) is kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        for name, var in (("correlation_id", correlation_id_var), ("task_id", task_id_var)):
            value = var.get()
            if value != NO_ID and not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; extra attributes given by the caller are kept."""

    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._standard})
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
