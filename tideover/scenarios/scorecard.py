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
from django.db.models import Count, F, QuerySet, Value
from django.db.models.functions import Concat

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


def replay_sales(sales: QuerySet) -> QuerySet:
    """Only the replay's own sales among ``sales``: their ids start with their store's code
    (``S001-...``, see ``traffic``). A rehearsal (``chain.use_current``) runs on a copy of a
    live database whose stores have sales of their own in the replayed hours; those are not
    the replay's to count."""
    return sales.filter(sale_id__startswith=Concat(F("store__code"), Value("-")))


def first_evidence(
    incident: Incident | None,
    *,
    since: datetime,
    offline_ids: Iterable[str] = (),
    store_ids: Iterable[int] | None = None,
) -> tuple[datetime, str] | None:
    """The earliest moment the records show the failure, and which record: a sale of the
    replay's declined or failed at an affected store's till, a sale a store agent had to hold
    offline, or a web checkout reported as failed. ``since`` bounds the search (the replay's
    start); ``store_ids`` are the affected stores when no incident was declared to name them."""
    from django.db.models import Min

    from tideover.sales.models import Sale, SaleStatus

    if store_ids is None:
        store_ids = incident.affected_store_ids() if incident is not None else ()
    found: list[tuple[datetime, str]] = []
    troubled = replay_sales(
        Sale.objects.filter(
            store_id__in=list(store_ids),
            occurred_at__gte=since,
            status__in=[SaleStatus.DECLINED, SaleStatus.FAILED],
        )
    ).aggregate(first=Min("occurred_at"))["first"]
    if troubled:
        found.append((troubled, "a sale declined or failed at the till"))
    ids = sorted(set(offline_ids))
    for start in range(0, len(ids), 5000):
        held = Sale.objects.filter(sale_id__in=ids[start : start + 5000]).aggregate(
            first=Min("occurred_at")
        )["first"]
        if held:
            found.append((held, "a sale a store agent held offline"))
    if incident is not None and apps.is_installed("tideover.recovery"):
        from tideover.recovery.models import Evidence, Source

        web = Evidence.objects.filter(
            customer__incident=incident, source=Source.WEB_CHECKOUT, at__gte=since
        ).aggregate(first=Min("at"))["first"]
        if web:
            found.append((web, "a web checkout reported as failed"))
    return min(found, default=None)


def undeclared_section(title: str, evidence: tuple[datetime, str] | None) -> dict:
    """The incident figures of a replay in which nobody declared: none of the incident's times
    exist, so none is given; when the records show the failure, when they first did."""
    started, seen_in = evidence if evidence is not None else (None, "no record of the failure")
    return {
        "incident_id": None,
        "title": title,
        "declared": False,
        "severity": None,
        "started_at": started.isoformat() if started else None,
        "start_seen_in": seen_in,
        "time_to_detect_min": None,
        "time_to_declare_min": None,
        "time_to_first_public_update_min": None,
        "time_to_resolve_min": None,
        "public_updates": 0,
        "cadence_misses": 0,
    }


def incident_section(incident: Incident, evidence: tuple[datetime, str] | None = None) -> dict:
    """Times as the incident records them, measured from the failure's start: the start the
    incident was declared with, or the first record of the failure when that is earlier (a
    detector that lagged the failure does not shorten the time to detect)."""
    started = incident.started_at or incident.declared_at
    seen_in = "the incident's start"
    if evidence is not None and evidence[0] < started:
        started, seen_in = evidence
    detected = incident.detected_at or incident.declared_at
    return {
        "incident_id": incident.pk,
        "title": incident.title,
        "declared": True,
        "severity": incident.severity.name if incident.severity else None,
        "started_at": started.isoformat(),
        "start_seen_in": seen_in,
        "time_to_detect_min": _minutes(detected - started),
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
    were posted more than once in the ledger, or a sale at HQ with a replay's id (``replay_sales``)
    from these stores and hours that no till was told was accepted (e.g. a card refused offline
    that posted anyway beside its cash re-ring). A rehearsal database's own sales in those hours
    are not the replay's and are left out."""
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
            replay_sales(
                Sale.objects.filter(
                    store__code__in=stores, occurred_at__gte=first, occurred_at__lte=last
                )
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


def refresh_scorecard(card: dict) -> dict:
    """The figures that keep changing after the replay (messages delivered, offers redeemed)
    counted again from the records, saved with the run."""
    from tideover.scenarios.models import ScenarioRun

    if card["incident"]["incident_id"] is None:
        return card  # nobody declared: no messages or offers to count again
    run = ScenarioRun.objects.filter(incident_id=card["incident"]["incident_id"]).first()
    if run is None:
        return card
    card = dict(card, messages=outbox_section(run.incident))
    if "recovery" in card:
        from tideover.scenarios.recover import recovery_section

        card["recovery"] = {**card["recovery"], **recovery_section(run.incident)}
    run.scorecard = card
    run.save(update_fields=["scorecard"])
    return card


def postmortem_link(incident) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("postmortems:postmortem", args=[incident.pk])
    except NoReverseMatch:  # Respond's postmortems are not installed
        return ""


def replay_card(
    scenario,
    incident: Incident | None,
    tally,
    *,
    start: datetime,
    affected_store_ids: list[int],
    deadline_members: list[str],
    with_recovery: bool,
) -> dict:
    """The scorecard of a replay (``tally``: what the tills were told, ``fleet.Tally``). A day
    nobody declared still has its sales, refusals and exposure; its incident figures say it
    was never declared instead of being made up."""
    if incident is None:
        evidence = first_evidence(
            None, since=start, offline_ids=tally.accepted_offline, store_ids=affected_store_ids
        )
        section = undeclared_section(scenario.staff.title, evidence)
    else:
        incident.refresh_from_db()
        evidence = first_evidence(incident, since=start, offline_ids=tally.accepted_offline)
        section = incident_section(incident, evidence)
    card = {
        "incident": section,
        "sales": sales_section(tally.accepted, offline_ids=tally.accepted_offline),
        "peak_card_exposure_cents": tally.peak_card_exposure_cents,
        "refused_at_the_tills": dict(tally.refused),
        "messages": outbox_section(incident) if incident else {},
        "api_answers": dict(tally.settled),
        "postmortem": postmortem_link(incident) if incident else "",
    }
    if with_recovery and incident is not None:
        from tideover.scenarios.recover import customers_affected, recovery_section

        card["recovery"] = {
            "customers_affected": customers_affected(incident, tally.accepted_offline),
            **recovery_section(incident),
        }
    if scenario.loyalty is not None:
        from tideover.scenarios.deadline import deadline_section

        card["loyalty_deadline"] = deadline_section(deadline_members, start)
    return card
