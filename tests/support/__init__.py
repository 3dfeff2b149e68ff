"""Harness for black-box and fault tests: live gunicorn nodes, extra Celery workers, an API client.

The fault tests drive the system the way production does (HTTP into gunicorn, tasks
through Redis into real workers) so that a kill -9 hits real processes, sockets and
transactions; nothing here mocks the database or the broker.
"""
