"""Atom and RSS feeds of public updates, newest first.

Built with Django's feed generator rather than its syndication views: the same bytes are served
from the cache and written into the static export, where there is no request to hand a view.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.utils import feedgenerator
from django.utils.html import escape

from tideover.core.text import clean_line, clean_text
from tideover.incidents.models import IncidentKind, IncidentState, PublicUpdate
from tideover.statuspage.snapshot import RECENT_LIMIT


def _latest_updates(limit: int = RECENT_LIMIT):
    return list(
        PublicUpdate.objects.filter(incident__is_drill=False)
        .select_related("incident")
        .order_by("-posted_at", "-pk")[:limit]
    )


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
            description=escape(clean_text(update.body)),
            pubdate=update.posted_at,
            updateddate=update.posted_at,
            unique_id=f"{site}/incidents/{incident.pk}/updates/{update.pk}",
            unique_id_is_permalink=False,
            categories=[what, IncidentState(update.state).label],
        )
    # latest_post_date falls back to "now" on an empty feed; keep it stable for caching.
    if not updates:
        feed.latest_post_date = lambda: datetime(2000, 1, 1, tzinfo=UTC)
    return feed.writeString("utf-8").encode()
