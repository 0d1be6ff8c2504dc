"""Atom and RSS feeds of public updates, newest first.

Built with Django's feed generator rather than its syndication views: the same bytes are served
from the cache and written into the static export, where there is no request to hand a view.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.utils import dateformat, feedgenerator, timezone
from django.utils.html import escape

from tideover.core.text import clean_line, clean_text, xml_safe
from tideover.incidents.models import IncidentKind, IncidentState, PublicUpdate
from tideover.statuspage.reading import shared
from tideover.statuspage.snapshot import RECENT_LIMIT


@shared
def _latest_updates(limit: int = RECENT_LIMIT):
    return list(
        PublicUpdate.objects.filter(incident__is_drill=False)
        .select_related("incident")
        .order_by("-posted_at", "-pk")[:limit]
    )


def _local(moment: datetime) -> str:
    """A time as the status page shows it: in the chain's time zone, the zone named."""
    return dateformat.format(timezone.localtime(moment), "M j, Y H:i T")


def _summary(update: PublicUpdate) -> str:
    """The update's text, then when it was posted (and the window of a maintenance), in the
    chain's time zone: a feed reader shows its own dates in its own zone, often UTC."""
    incident = update.incident
    lines = [clean_text(update.body), "", f"Posted {_local(update.posted_at)}."]
    if incident.kind == IncidentKind.MAINTENANCE and incident.scheduled_for:
        planned = "Was planned" if incident.state == IncidentState.CANCELLED else "Planned"
        window = f"{_local(incident.scheduled_for)} – {_local(incident.scheduled_until)}"
        lines.append(f"{planned} for {window}.")
    return "\n".join(lines)


def build(kind: str) -> bytes:
    """The feed as bytes; ``kind`` is "atom" or "rss"."""
    generator = feedgenerator.Atom1Feed if kind == "atom" else feedgenerator.Rss201rev2Feed
    site = settings.SITE_URL
    feed_url = f"{site}/feed.{kind}"
    updates = _latest_updates()
    feed = generator(
        title=clean_line(f"{settings.SITE_NAME} status"),
        link=f"{site}/",
        description=f"Incidents and maintenance for {settings.SITE_NAME}, newest first",
        feed_url=feed_url,
        language="en",
        feed_guid=feed_url,
    )
    for update in updates:
        incident = update.incident
        what = "Maintenance" if incident.kind == IncidentKind.MAINTENANCE else "Incident"
        link = f"{site}/incidents/{incident.pk}#update-{update.pk}"
        feed.add_item(
            title=clean_line(f"{incident.title} — {IncidentState(update.state).label}"),
            link=link,
            # Atom declares the summary type="html" and RSS readers treat a description as
            # HTML, so the plain-text body is escaped as HTML (the writer then escapes it as XML).
            description=escape(_summary(update)),
            pubdate=update.posted_at,
            updateddate=update.posted_at,
            unique_id=f"{site}/incidents/{incident.pk}/updates/{update.pk}",
            unique_id_is_permalink=False,
            categories=[what, IncidentState(update.state).label],
        )
    # latest_post_date falls back to "now" on an empty feed; keep it stable for caching.
    if not updates:
        feed.latest_post_date = lambda: datetime(2000, 1, 1, tzinfo=UTC)
    # The parts above are cleaned, but not the site's name, labels or whatever a row saved
    # before the cleaning rules holds: one character XML 1.0 cannot carry spoils the document.
    return xml_safe(feed.writeString("utf-8")).encode()
