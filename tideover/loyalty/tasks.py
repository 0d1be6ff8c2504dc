"""Background jobs. Points expiry runs from the worker's periodic schedule (LoyaltyConfig.ready
registers ``run_expiry`` hourly); this task lets an operator queue a run on demand."""

from django_tasks import task

from tideover.loyalty.expiry import run_expiry


@task()
def expire_points() -> dict:
    """Reminders, then expiry of points past their last day."""
    return run_expiry()
