"""The verification the admin starts: queued here, run by a Celery worker (eventstore.tamper.runs)."""

from celery import shared_task

from eventstore.tamper.runs import run_verification, store_progress, verification_running


@shared_task(ignore_result=True)
def verify_whole_log(started_by: str = "") -> None:
    """Verify the whole log and record the result; progress goes to the cache as it reads."""
    run_verification(started_by=started_by)


def queue_verification(*, started_by: str) -> bool:
    """Queue a run unless one is queued or running already; False when it was not queued.

    The entry is marked queued first, so the page shows it before a worker takes the task.
    """
    if verification_running():
        return False
    store_progress("queued", started_by=started_by)
    try:
        verify_whole_log.delay(started_by)
    except Exception:
        store_progress("failed", started_by=started_by)  # not left "queued" for a task that never was
        raise
    return True
