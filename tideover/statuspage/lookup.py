""" "Is my store affected?": a shopper finds their store by code, name or town and reads which
open public incidents touch it.

Dynamic on purpose (one answer per query), so it is not part of the cached or exported pages;
each answer is a few small queries. Drills never show, as everywhere on the status page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from tideover.core.models import Store
from tideover.core.services import stores_by_code
from tideover.incidents.models import Incident, IncidentState
from tideover.statuspage import snapshot

MAX_QUERY = 60
MAX_STORES = 10


@dataclass
class StoreAnswer:
    store: Store
    incidents: list[snapshot.IncidentView]


@dataclass
class Lookup:
    query: str
    stores: list[StoreAnswer]
    more: bool  # more stores match than are shown
    error: str = ""


def _open_public_scoped() -> list[Incident]:
    """Open public incidents and maintenance in progress, with what they say about stores."""
    return list(
        Incident.objects.public()
        .open()
        .exclude(state=IncidentState.SCHEDULED)
        .prefetch_related("affected_regions", "affected_stores")
        .order_by("-declared_at", "-pk")
    )


def _touches(incident: Incident, store: Store) -> bool:
    if incident.affects_all_stores:
        return True
    if any(region.pk == store.region_id for region in incident.affected_regions.all()):
        return True
    return any(listed.pk == store.pk for listed in incident.affected_stores.all())


def find_stores(query: str) -> Lookup:
    """Active stores whose code, name or town match ``query`` (any case), each with the open
    public incidents that touch it."""
    query = " ".join((query or "").split())
    if not query:
        return Lookup(query, [], False, "Type your store's number, name or town.")
    if len(query) > MAX_QUERY:
        return Lookup(query[:MAX_QUERY], [], False, f"Type at most {MAX_QUERY} characters.")
    by_code, _ = stores_by_code([query])
    matches = Store.objects.filter(is_active=True).filter(
        Q(pk__in=[s.pk for s in by_code]) | Q(name__icontains=query) | Q(city__icontains=query)
    )
    found = list(matches.select_related("region").order_by("code")[: MAX_STORES + 1])
    if not found:
        return Lookup(query, [], False, f"No store matches “{query}”. Try its number or town.")
    incidents = _open_public_scoped()
    shown = found[:MAX_STORES]
    touching = {s.pk: [i.pk for i in incidents if _touches(i, s)] for s in shown}
    views = snapshot.incidents_by_id(sorted({pk for pks in touching.values() for pk in pks}))
    answers = [StoreAnswer(s, [views[pk] for pk in touching[s.pk]]) for s in shown]
    return Lookup(query, answers, more=len(found) > MAX_STORES)
