"""gunicorn settings for the web service: all interfaces, workers from WEB_CONCURRENCY, metrics cleanup."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Threads, so a request waiting for read-your-writes (up to 10 s) holds one thread, not a
# whole worker process: /healthz and other requests stay instant while clients wait.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = None  # config.metrics logs every command as JSON; requests are counted in /metrics
# Only the proxy in front may set X-Forwarded-*; "*" would let any client claim HTTPS.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker: object) -> None:
    """Connect to the broker and the cache now, so that the first command after a (re)start is not the one to."""
    from eventstore.projections.wakeups import warm_up_publisher

    warm_up_publisher()


def child_exit(server: object, worker: object) -> None:
    """A dead worker's live gauges must not linger in the merged metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
