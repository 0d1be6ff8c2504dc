"""Message figures for other apps' reports (postmortems): read-only."""

from __future__ import annotations

from django.db.models import Count

from tideover.notifications.models import Category, OutboxMessage


def incident_messages(incident_id: int) -> dict:
    """Messages about one incident: to subscribers by channel and state, and to staff."""
    rows = (
        OutboxMessage.objects.filter(incident_id=incident_id)
        .values_list("category", "channel", "state")
        .annotate(n=Count("pk"))
    )
    public: dict[str, int] = {}
    staff = failed_staff = failed_public = 0
    for category, channel, state, n in rows:
        if category == Category.INTERNAL:
            staff += n
            failed_staff += n if state == "failed" else 0
        elif category == Category.STATUS:
            public[channel] = public.get(channel, 0) + n
            failed_public += n if state == "failed" else 0
    return {
        "public": public,
        "public_total": sum(public.values()),
        "public_failed": failed_public,
        "staff": staff,
        "staff_failed": failed_staff,
    }
