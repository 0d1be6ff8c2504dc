"""Affected customers we find ourselves: members whose sales in the incident's stores failed,
were declined or waited offline during the incident, and web checkouts reported as failed."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import DomainError
from tideover.core.phones import to_e164
from tideover.incidents.models import Incident
from tideover.loyalty.members import find_member
from tideover.loyalty.models import Member
from tideover.recovery.capture import Person, Sighting, clean_email, record, record_many
from tideover.recovery.models import Source
from tideover.sales.reads import troubled_member_sales

_SOURCE_OF_STATUS = {"failed": Source.SALE_FAILED, "declined": Source.SALE_DECLINED}


def incident_window(incident: Incident) -> tuple[datetime, datetime]:
    start = incident.started_at or incident.declared_at
    return start, incident.resolved_at or timezone.now()


def _offline_detail(sale: dict) -> str:
    seconds = int((sale["posted_at"] - sale["occurred_at"]).total_seconds())
    wait = f"{seconds // 60} min" if seconds >= 60 else f"{max(seconds, 0)} s"
    if sale["queued_offline"]:
        return f"taken while the store was offline; posted {wait} after it happened"
    return f"posted {wait} after it happened"


def collect_from_sales(incident: Incident) -> dict:
    """Add the members whose sales in affected stores failed, were declined or were queued
    offline during the incident; each sale is evidence once, however often this runs."""
    since, until = incident_window(incident)
    sales = troubled_member_sales(
        incident.affected_store_ids(),
        since,
        until,
        offline_after_seconds=settings.RECOVERY_OFFLINE_LAG_SECONDS,
    )
    by_member = defaultdict(list)
    for sale in sales:
        by_member[sale["member_id"]].append(sale)
    members = {m.loyalty_id: m for m in Member.objects.filter(loyalty_id__in=list(by_member))}
    counts = defaultdict(int)
    stores = {}
    from tideover.core.models import Store

    for store in Store.objects.filter(pk__in={s["store_id"] for s in sales}):
        stores[store.pk] = store
    sightings = []
    for loyalty_id, member_sales in by_member.items():
        member = members.get(loyalty_id)
        if member is None:
            counts["unknown_member"] += len(member_sales)
            continue
        person = Person(name=member.name, phone_e164=member.phone_e164, email=member.email,
                        member=member)  # fmt: skip
        for sale in member_sales:
            source = _SOURCE_OF_STATUS.get(sale["status"], Source.SALE_OFFLINE)
            detail = (
                _offline_detail(sale)
                if source == Source.SALE_OFFLINE
                else f"sale {sale['status']} at the till"
            )
            sightings.append(
                Sighting(
                    person,
                    source=source,
                    store=stores.get(sale["store_id"]),
                    at=sale["occurred_at"],
                    amount_cents=sale["total_cents"],
                    reference=sale["sale_id"],
                    detail=detail,
                    recorded_by="collector",
                    dedupe_key=f"sale:{incident.pk}:{sale['sale_id']}",
                )
            )
            counts[source] += 1
    record_many(incident, sightings)  # thousands after an outage: a few queries per 500
    return dict(counts)


def report_web_failure(
    incident: Incident,
    *,
    email: str = "",
    phone: str = "",
    member_id: str = "",
    at: datetime,
    amount_cents: int,
    error: str,
    order_id: str = "",
    actor: Actor = SYSTEM,
) -> object:
    """A web checkout that errored during the incident (reported by the web shop)."""
    email = clean_email(email)
    phone_e164 = to_e164(phone, field="phone") if (phone or "").strip() else ""
    member = find_member(loyalty_id=member_id, phone_e164=phone_e164, email=email)
    if member_id and member is None:
        raise DomainError(f"No member with loyalty id {member_id!r}", field="member_id")
    if not (email or phone_e164 or member):
        raise DomainError("Send the shopper's email, phone or member_id", field="email")
    if amount_cents < 0:
        raise DomainError("amount_cents cannot be negative", field="amount_cents")
    since, until = incident_window(incident)
    if not since <= at <= until:
        raise DomainError(
            "This checkout happened outside the incident "
            f"({since:%Y-%m-%dT%H:%MZ} to {until:%Y-%m-%dT%H:%MZ})",
            field="at",
        )
    person = Person(
        name=member.name if member else "",
        phone_e164=phone_e164 or (member.phone_e164 if member else ""),
        email=email or (member.email if member else ""),
        member=member,
    )
    return record(
        incident,
        person,
        source=Source.WEB_CHECKOUT,
        at=at,
        amount_cents=amount_cents,
        reference=order_id[:100],
        detail=error[:300],
        recorded_by=actor.name,
        dedupe_key=f"web:{incident.pk}:{order_id}" if order_id else None,
    )
