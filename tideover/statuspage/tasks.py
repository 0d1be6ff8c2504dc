"""Background jobs: re-rendering the static export after public changes (coalesced, see
services.publish_changes)."""

from __future__ import annotations

from django_tasks import task


@task()
def publish_status() -> dict:
    """Warm the hot pages and rewrite the static export, unless it is already current."""
    from tideover.statuspage.services import render_and_export

    return render_and_export()


@task()
def export_status_later() -> dict:
    """The export for changes made within STATUS_EXPORT_INTERVAL_SECONDS of the last one."""
    from tideover.statuspage.services import export_if_stale

    return export_if_stale()
