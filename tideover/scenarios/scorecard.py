"""The scorecard of one replayed outage, computed from what the records say happened.

Nothing here reads the scenario's plan: time to detect comes from the incident (and the alert it
was declared from), the sales figures from the registers' own acceptances compared with what HQ
posted, the reach from the outbox. A capability that is not installed leaves its figures out
rather than inventing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.apps import apps
from django.db.models import Count

from tideover.incidents.models import Incident


def _minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 60, 1)


def cadence_misses(incident: Incident) -> int:
    """Gaps between declaration, public updates and resolution longer than the severity's
    cadence (the moments the public was left without news)."""
    cadence = incident.severity.cadence if incident.severity else None
    if cadence is None:
        return 0
    times = [incident.declared_at]
    times += list(incident.public_updates.order_by("posted_at").values_list("posted_at", flat=True))
    end = incident.resolved_at
    if end is not None:
        times.append(end)
    times.sort()
    misses = sum(1 for a, b in zip(times, times[1:], strict=False) if b - a > cadence)
    return misses


def incident_section(incident: Incident) -> dict:
    started = incident.started_at or incident.declared_at
    return {
        "incident_id": incident.pk,
        "title": incident.title,
        "severity": incident.severity.name if incident.severity else None,
        "started_at": started.isoformat(),
        "time_to_detect_min": _minutes(incident.time_to_detect),
        "time_to_declare_min": _minutes(incident.declared_at - started),
        "time_to_first_public_update_min": _minutes(incident.time_to_first_update),
        "time_to_resolve_min": _minutes(incident.time_to_resolve),
        "public_updates": incident.public_updates.count(),
        "cadence_misses": cadence_misses(incident),
    }


def sales_section(accepted_ids: Iterable[str], *, offline_ids: Iterable[str] = ()) -> dict:
    """Sales the registers were told were accepted, against what HQ posted.

    Scenario sale ids start with their store's code (``S001-...``), which is how each is found
    at HQ (ids are unique per store). *Lost*: accepted, not at HQ. *Doubled*: a sale whose points
    were posted more than once in the ledger, or a sale at HQ from these stores and hours that no
    till was told was accepted (e.g. a card refused offline that posted anyway beside its cash
    re-ring)."""
    from tideover.sales.models import Sale

    accepted = set(accepted_ids)
    offline = set(offline_ids) & accepted
    posted: dict[str, tuple[str, datetime]] = {}
    ids = sorted(accepted)
    for start in range(0, len(ids), 5000):
        for sale_id, store, occurred in Sale.objects.filter(
            sale_id__in=ids[start : start + 5000]
        ).values_list("sale_id", "store__code", "occurred_at"):
            if sale_id.startswith(f"{store}-"):
                posted[sale_id] = (store, occurred)
    doubled = 0
    if posted:
        stores = {store for store, _ in posted.values()}
        first = min(at for _, at in posted.values())
        last = max(at for _, at in posted.values())
        extra = (
            Sale.objects.filter(
                store__code__in=stores, occurred_at__gte=first, occurred_at__lte=last
            )
            .exclude(sale_id__in=ids)
            .exclude(sale_id__contains="-GW-")  # goodwill redemptions come days later
            .count()
        )
        doubled += extra
    if apps.is_installed("tideover.loyalty"):
        from tideover.loyalty.models import JournalEntry

        keys = [f"{store}/{sale_id}" for sale_id, (store, _) in posted.items()]
        for start in range(0, len(keys), 5000):
            doubled += (
                JournalEntry.objects.filter(
                    source_type="sale", source_id__in=keys[start : start + 5000]
                )
                .values("source_id")
                .annotate(n=Count("id"))
                .filter(n__gt=1)
                .count()
            )
    return {
        "accepted": len(accepted),
        "accepted_offline": len(offline),
        "posted": len(posted),
        "lost": len(accepted - set(posted)),
        "doubled": doubled,
    }


def outbox_section(incident: Incident) -> dict:
    """What the public and staff were sent about this incident, by channel and state."""
    from tideover.notifications.models import OutboxMessage

    rows = (
        OutboxMessage.objects.filter(incident_id=incident.pk)
        .values_list("channel", "state")
        .annotate(n=Count("id"))
    )
    by: dict[str, dict[str, int]] = {}
    for channel, state, n in rows:
        by.setdefault(channel, {})[state] = n
    return by
