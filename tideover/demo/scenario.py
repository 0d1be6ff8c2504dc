"""The demo's day: the shipped Saturday scenario (scenarios/saturday-registers.yaml), replayed by
the scenario runner on the chain the demo seeds, and the older history around it.

Saturday 14:00 (chain time): registers in 150 of 200 stores lose HQ. The commander declares a
SEV1 on in-store checkout, the public hears from us every 15 scenario-minutes, HQ returns at
16:00 and the incident is resolved. A few older incidents and maintenance windows give the
90-day history something to show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from tideover.core.models import Component, ComponentStatus
from tideover.incidents import services
from tideover.incidents.models import Incident, IncidentState, Severity
from tideover.scenarios.loader import load_scenario
from tideover.scenarios.models import ScenarioRun
from tideover.scenarios.schema import Scenario


def saturday_file() -> Path:
    return settings.BASE_DIR / "scenarios" / "saturday-registers.yaml"


def saturday() -> Scenario:
    """The shipped Saturday scenario, on the chain the demo has just seeded."""
    day = load_scenario(saturday_file())
    return day.model_copy(update={"chain": day.chain.model_copy(update={"use_current": True})})


def seed_history(now: datetime | None = None) -> int:
    """Older incidents and maintenance for the 90-day bars, and one window coming up."""
    now = now or timezone.now()
    if Incident.objects.exclude(title=saturday().staff.title).exists():
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
    return ScenarioRun.objects.filter(name=saturday().name).exists()
