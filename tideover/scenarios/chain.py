"""Where a scenario plays: its chain (seeded, or the current database's), the stores each
failure reaches, and the moment its day starts."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.utils import timezone

from tideover.core.models import Store
from tideover.scenarios.schema import Scenario, StoreSelection

WEEKDAY_INDEX = {
    name: i
    for i, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
}


def start_time(scenario: Scenario, now: datetime | None = None) -> datetime:
    """The scenario's start: its exact ``at``, or the latest weekday+time at least a day old."""
    if scenario.start.at is not None:
        return scenario.start.at
    tz = zoneinfo.ZoneInfo(scenario.chain.time_zone)
    local = (now or timezone.now()).astimezone(tz) - timedelta(days=1)
    hour, minute = (int(x) for x in scenario.start.time.split(":"))
    if scenario.start.month_end:
        day = local.replace(day=1, hour=hour, minute=minute, second=0, microsecond=0)
        last = (day + timedelta(days=32)).replace(day=1) - timedelta(days=1)  # this month's end
        if last > local:
            last = day - timedelta(days=1)  # the previous month's end
        return last
    back = (local.weekday() - WEEKDAY_INDEX[scenario.start.weekday]) % 7
    day = (local - timedelta(days=back)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if day > local:
        day -= timedelta(days=7)
    return day


def select_stores(selection: StoreSelection, stores: list[Store]) -> list[Store]:
    if selection.all:
        return stores
    if selection.share is not None:
        return stores[: round(len(stores) * selection.share)]
    if selection.regions:
        wanted = {r.lower() for r in selection.regions}
        return [s for s in stores if s.region and s.region.slug.lower() in wanted]
    wanted = {c.upper() for c in selection.codes}
    return [s for s in stores if s.code.upper() in wanted]


def prepare_chain(scenario: Scenario) -> dict:
    """Build the scenario's chain (idempotent) unless it runs on the current database."""
    from tideover.demo.seed import seed_all

    chain = scenario.chain
    if not chain.use_current:
        seed_all(chain.stores)
        if chain.members:
            from tideover.loyalty.demo import seed_members

            seed_members(chain.members, list(Store.objects.order_by("code")))
    from django.apps import apps

    members = 0
    if apps.is_installed("tideover.loyalty"):
        from tideover.loyalty.models import Member

        members = Member.objects.count()
    return {"stores": Store.objects.count(), "members": members}
