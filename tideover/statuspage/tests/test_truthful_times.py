"""The status page tells the truth about time: a cancelled window is not "completed", and every
time a person reads is in the chain's time zone with the zone named (JSON stays UTC)."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import feedparser
import pytest
from django.utils import timezone

from tideover.incidents import services
from tideover.statuspage import api_v2

pytestmark = pytest.mark.django_db


def _next_window(hour_utc: int) -> datetime:
    day = (timezone.now() + timedelta(days=2)).date()
    return datetime(day.year, day.month, day.day, hour_utc, 0, tzinfo=UTC)


def test_cancelled_maintenance_is_shown_cancelled_not_completed_and_leaves_the_json(
    client, components
):
    start = _next_window(13)
    window = services.schedule_maintenance(
        title="Loyalty database upgrade",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[components["loyalty"]],
        message="Points will post late during the upgrade.",
    )
    services.cancel_maintenance(window, "The upgrade moved to January.")
    page = client.get(f"/incidents/{window.pk}").content.decode()
    assert "Cancelled maintenance, was planned for" in page and "Completed" not in page
    assert "The upgrade moved to January." in page
    index = client.get("/").content.decode()
    assert "Cancelled maintenance" in index and "Completed" not in index
    for name in ("summary.json", "scheduled-maintenances.json", "incidents.json"):
        document = json.dumps(api_v2.DOCUMENTS[name]())
        assert "Loyalty database upgrade" not in document, name
        assert '"completed"' not in document and '"cancelled"' not in document, name
    assert api_v2.summary()["status"]["description"] == "All Systems Operational"


def test_status_page_and_feeds_show_times_in_the_chain_time_zone_with_the_zone_named(
    client, settings, outage, components
):
    settings.TIME_ZONE = "America/Chicago"
    start = _next_window(13)
    services.schedule_maintenance(
        title="Card terminal update",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[components["card-payments"]],
        message="Terminals restart one by one.",
    )
    chicago = ZoneInfo("America/Chicago")
    local_start = start.astimezone(chicago)
    zone = local_start.tzname()  # CST or CDT
    shown_start = f"{local_start:%b} {local_start.day}, {local_start:%H:%M} {zone}"
    index = client.get("/").content.decode()
    assert shown_start in index and f"{(local_start + timedelta(hours=2)):%H:%M} {zone}" in index
    posted = outage.public_updates.first().posted_at.astimezone(chicago)
    assert f"{posted:%H:%M} {posted.tzname()}" in client.get(f"/incidents/{outage.pk}").text
    feed = feedparser.parse(client.get("/feed.atom").content)
    maintenance = next(e for e in feed.entries if "Card terminal update" in e.title)
    assert f"Planned for {local_start:%b} {local_start.day}, {local_start:%Y %H:%M} {zone}" in (
        maintenance.summary
    )
    latest = next(e for e in feed.entries if e.summary.startswith("We found the cause"))
    assert f"Posted {posted:%b} {posted.day}, {posted:%Y %H:%M} {posted.tzname()}." in (
        latest.summary
    )
    # The JSON stays in UTC with milliseconds, whatever the page's zone.
    listed = api_v2.scheduled_maintenances()["scheduled_maintenances"][0]
    assert listed["scheduled_for"] == start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
