"""Message figures for other apps' reports (postmortems): read-only."""

from __future__ import annotations

from django.db.models import Count

from tideover.notifications.models import Category, DeliveryTally, OutboxMessage


def incident_messages(incident_id: int) -> dict:
    """Messages about one incident: to subscribers by channel and state, and to staff; those
    pruning removed count from their tallies (a tally kept before categories were counts as
    public, as almost every message is)."""
    rows = (
        OutboxMessage.objects.filter(incident_id=incident_id)
        .values_list("category", "channel", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    pruned = DeliveryTally.objects.filter(incident_id=incident_id).values_list(
        "category", "channel", "state", "count"
    )
    public: dict[str, int] = {}
    staff = failed_staff = failed_public = 0
    for category, channel, state, n in [*rows, *pruned]:
        if category == Category.INTERNAL:
            staff += n
            failed_staff += n if state == "failed" else 0
        elif category in (Category.STATUS, ""):
            public[channel] = public.get(channel, 0) + n
            failed_public += n if state == "failed" else 0
    return {
        "public": public,
        "public_total": sum(public.values()),
        "public_failed": failed_public,
        "staff": staff,
        "staff_failed": failed_staff,
    }
