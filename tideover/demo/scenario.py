"""The outage scenario of docs/overview.md, replayed at its own clock.

Saturday 14:00 (chain time): registers in 150 of 200 stores lose HQ. The commander declares a
SEV1 on in-store checkout, the public hears from us every 15 scenario-minutes, HQ returns at
16:00 and the incident is resolved. Every service call carries the scenario time (``at=``), so
the status page, timeline and history show the times the scenario says, not the replay's.
A few older incidents and maintenance windows give the 90-day history something to show.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from tideover.core.models import Component, ComponentStatus, Store
from tideover.incidents import services
from tideover.incidents.models import Incident, IncidentState, Severity

CHAIN_TZ = zoneinfo.ZoneInfo("America/Chicago")
OUTAGE_TITLE = "Registers in many stores cannot reach HQ"
AFFECTED_SHARE = 0.75  # 150 of the 200 stores lose HQ


def affected_stores() -> list[Store]:
    """The stores that lose HQ: the first three quarters of the chain by store code."""
    stores = list(Store.objects.order_by("code"))
    return stores[: round(len(stores) * AFFECTED_SHARE)]


UPDATE_EVERY = timedelta(minutes=15)


def outage_start(now: datetime | None = None) -> datetime:
    """The most recent Saturday 14:00 chain time that is at least a day old."""
    local = (now or timezone.now()).astimezone(CHAIN_TZ) - timedelta(days=1)
    days_back = (local.weekday() - 5) % 7
    saturday = (local - timedelta(days=days_back)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    if saturday > local:
        saturday -= timedelta(days=7)
    return saturday


@dataclass
class Step:
    at: datetime
    label: str
    run: Callable[[], object]


@dataclass
class Replay:
    """The scenario as ordered steps; other apps add their own (sales, sign-ups, messages)."""

    start: datetime
    steps: list[Step] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def add(self, offset: timedelta, label: str, run: Callable[[], object]) -> None:
        self.steps.append(Step(self.start + offset, label, run))

    def ordered(self) -> list[Step]:
        return sorted(self.steps, key=lambda step: step.at)


def _user(username: str):
    return get_user_model().objects.filter(username=username).first()


PUBLIC_UPDATES = [
    # minutes after 14:00, state, text
    (
        8,
        None,
        "Registers in many of our stores cannot reach our central systems. Stores are open and "
        "still selling: cash and most cards work, some card payments may be declined. We are investigating.",
    ),
    (
        23,
        "identified",
        "We have found the cause: a network fault between our stores and our data center. "
        "Stores keep selling offline; your purchases and loyalty points are safe and will post automatically.",
    ),
    (
        38,
        None,
        "Our network provider is replacing the failed equipment. Stores remain open. If your card is "
        "declined, cash or another card works; staff can sign you up for updates and a thank-you offer.",
    ),
    (
        53,
        None,
        "Work on the network continues. Stores are selling normally offline; loyalty points from "
        "today will appear on your account as soon as the connection is back.",
    ),
    (68, None, "The replacement equipment is being installed. Next update within 15 minutes."),
    (83, None, "Installation is nearly complete; we are testing the connection with a few stores."),
    (
        98,
        "monitoring",
        "The first stores are reconnected and sending their sales. We are watching closely "
        "as the rest come back.",
    ),
    (
        113,
        None,
        "Most stores are reconnected. Loyalty points from this afternoon are posting now with the "
        "time of your purchase.",
    ),
]
RESOLUTION = (
    "All stores are connected again and every sale made during the outage has been received. Loyalty "
    "points are on your account with the time you bought. We are sorry for the trouble: if you signed "
    "up in store, a thank-you offer is on its way."
)
NOTES = [
    (
        10,
        "Runbook 'Stores offline' attached; all store managers paged.",
        "Say: stores are open, cash and most cards work, points will post. Don't say: data loss, hack.",
    ),
    (
        40,
        "Carrier ETA for replacement: 75 minutes.",
        "Offer the sign-up QR code to anyone whose card was declined.",
    ),
]


def build_outage(replay: Replay) -> None:
    """Add the SEV1 incident's steps: declare, updates every 15 minutes, notes, resolve at 16:00."""
    state: dict = {}

    def declare():
        stores = affected_stores()
        components = {c.slug: c for c in Component.objects.all()}
        state["incident"] = services.declare_incident(
            title=OUTAGE_TITLE,
            severity=Severity.objects.get(level=1),
            components={
                components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE,
                components["card-payments"]: ComponentStatus.DEGRADED_PERFORMANCE,
                components["loyalty"]: ComponentStatus.DEGRADED_PERFORMANCE,
            },
            stores=stores,
            commander=_user("casey.commander"),
            comms_lead=_user("morgan.comms"),
            started_at=replay.start,
            detected_at=replay.start + timedelta(minutes=3),
            actor=services.Actor.of(_user("casey.commander")),
            at=replay.start + timedelta(minutes=6),
        )

    replay.add(timedelta(minutes=6), "SEV1 declared on in-store checkout", declare)
    comms = services.Actor.of(_user("morgan.comms"))
    for minutes, new_state, text in PUBLIC_UPDATES:
        at = replay.start + timedelta(minutes=minutes)
        replay.add(
            timedelta(minutes=minutes),
            f"public update {minutes} min",
            lambda at=at, text=text, new_state=new_state: services.post_public_update(
                state["incident"], text, state=new_state, actor=comms, at=at
            ),
        )
    for minutes, note, points in NOTES:
        at = replay.start + timedelta(minutes=minutes)
        replay.add(
            timedelta(minutes=minutes),
            "internal note",
            lambda at=at, note=note, points=points: services.add_internal_note(
                state["incident"], note, talking_points=points, actor=comms, at=at
            ),
        )
    replay.add(
        timedelta(hours=2),
        "HQ back; incident resolved",
        lambda: services.resolve_incident(
            state["incident"],
            RESOLUTION,
            actor=services.Actor.of(_user("casey.commander")),
            at=replay.start + timedelta(hours=2),
        ),
    )
    replay.summary["incident"] = state


def seed_history(now: datetime | None = None) -> int:
    """Older incidents and maintenance for the 90-day bars, and one window coming up."""
    now = now or timezone.now()
    if Incident.objects.exclude(title=OUTAGE_TITLE).exists():
        return 0
    components = {c.slug: c for c in Component.objects.all()}
    sev = {s.level: s for s in Severity.objects.all()}
    made = 0
    for days_ago, level, slug, status, title, minutes in (
        (
            63,
            3,
            "mobile-app",
            ComponentStatus.DEGRADED_PERFORMANCE,
            "Slow sign-in on the mobile app",
            50,
        ),
        (
            41,
            2,
            "online-checkout",
            ComponentStatus.PARTIAL_OUTAGE,
            "Some web orders fail at payment",
            95,
        ),
        (
            12,
            3,
            "loyalty",
            ComponentStatus.DEGRADED_PERFORMANCE,
            "Points appear late on accounts",
            40,
        ),
    ):
        start = now - timedelta(days=days_ago)
        incident = services.declare_incident(
            title=title,
            severity=sev[level],
            components={components[slug]: status},
            all_stores=True,
            message="We are looking into reports of this problem.",
            at=start,
        )
        services.post_public_update(
            incident,
            "We have found the cause and are fixing it.",
            state=IncidentState.IDENTIFIED,
            at=start + timedelta(minutes=minutes // 2),
        )
        services.resolve_incident(
            incident,
            "This is fixed. Thank you for your patience.",
            at=start + timedelta(minutes=minutes),
        )
        made += 1
    past = now - timedelta(days=20)
    window = services.schedule_maintenance(
        title="Card terminal software update",
        scheduled_for=past,
        scheduled_until=past + timedelta(hours=2),
        components=[components["card-payments"]],
        message="Card terminals restart one by one overnight; cash and the other registers keep working.",
        at=past - timedelta(days=3),
    )
    services.start_maintenance(window, at=past)
    services.complete_maintenance(window, at=past + timedelta(hours=2))
    upcoming = (now + timedelta(days=5)).replace(hour=7, minute=0, second=0, microsecond=0)
    services.schedule_maintenance(
        title="Loyalty system upgrade",
        scheduled_for=upcoming,
        scheduled_until=upcoming + timedelta(hours=2),
        components=[components["loyalty"], components["mobile-app"]],
        message="Points and rewards may be unavailable for up to two hours at night; purchases are not affected.",
        at=now,
    )
    return made + 2


def already_replayed() -> bool:
    return Incident.objects.filter(title=OUTAGE_TITLE).exists()
