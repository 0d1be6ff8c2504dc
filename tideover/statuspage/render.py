"""Every public document rendered to bytes, for the cache (served) and the static export.

A document is named by its path in the static export ("index.html", "incidents/7.html",
"api/v2/summary.json", "feed.atom"). Served pages link with absolute paths ("/incidents/7");
exported pages link relatively ("incidents/7.html", "../index.html") so the folder works from
any directory or CDN path. Nothing here depends on who asks: the bytes are the same for all.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.template.exceptions import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.urls import NoReverseMatch, resolve, reverse
from django.utils import timezone

from tideover.statuspage import api_v2, feeds, history, snapshot

SUBSCRIBE_TEMPLATE = "notifications/subscribe_form.html"
SUBSCRIBE_URL_NAME = "notifications:subscribe"

# Other apps add to the page's template context (the notifications app: its subscribe form).
_context_hooks: list[Callable[[dict], dict]] = []


def register_page_context(hook: Callable[[dict], dict]) -> None:
    """Call ``hook(context)`` on every page render; it returns extra template variables."""
    if hook not in _context_hooks:
        _context_hooks.append(hook)


@dataclass(frozen=True)
class Links:
    """Where a page links to: served paths, or relative paths inside the static export."""

    root: str  # "/" when served; "" or "../" inside the export
    static: bool

    @classmethod
    def served(cls) -> Links:
        from tideover.statuspage.urls import URL_PREFIX

        prefix = URL_PREFIX.strip("/")
        return cls(root=f"/{prefix}/" if prefix else "/", static=False)

    def _page(self, name: str) -> str:
        return self.root + (f"{name}.html" if self.static else name)

    @property
    def home(self) -> str:
        return self.root + "index.html" if self.static else self.root

    @property
    def history(self) -> str:
        return self._page("history")

    def incident(self, pk: int) -> str:
        return self._page(f"incidents/{pk}")

    @property
    def store_lookup(self) -> str:
        """A server page (one answer per query): the export points at the served site."""
        return f"{settings.SITE_URL}/stores" if self.static else self.root + "stores"

    @property
    def feed_atom(self) -> str:
        return self.root + "feed.atom"

    @property
    def feed_rss(self) -> str:
        return self.root + "feed.rss"

    @property
    def summary_json(self) -> str:
        return self.root + "api/v2/summary.json"


def _subscribe_context(links: Links) -> dict:
    """Where the subscribe form lives (the notifications app's), and whether to embed it.

    The served page is the same cached bytes for everyone, so it cannot carry a CSRF token: the
    form is embedded only when its view accepts posts without one; otherwise, and always in the
    static export (which may be served from another host), the page links to the form."""
    try:
        path = reverse(SUBSCRIBE_URL_NAME)
        get_template(SUBSCRIBE_TEMPLATE)
    except (NoReverseMatch, TemplateDoesNotExist):
        return {"subscribe_enabled": False}
    view = resolve(path).func
    embed = not links.static and getattr(view, "csrf_exempt", False)
    url = f"{settings.SITE_URL}{path}" if links.static else path
    return {"subscribe_enabled": True, "subscribe_embed": embed, "subscribe_url": url}


def _page(template: str, links: Links, context: dict) -> bytes:
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "time_zone": settings.TIME_ZONE,
        "links": links,
        "is_static_export": links.static,
        **_subscribe_context(links),
        "generated_at": timezone.now(),
        **context,
    }
    for hook in _context_hooks:
        context.update(hook(context) or {})
    return render_to_string(template, context).encode()


def index_page(links: Links) -> bytes:
    components = snapshot.public_components()
    unresolved = snapshot.unresolved_incidents()
    maintenance = snapshot.active_and_upcoming_maintenances()
    recent_since = timezone.now() - timedelta(days=7)
    # The history page's list, cut to the last week: one query for both pages of a publish.
    recent = [i for i in snapshot.past_incidents(_history_since()) if i.resolved_at >= recent_since]
    return _page(
        "statuspage/index.html",
        links,
        {
            "status": snapshot.overall_status(components, unresolved, maintenance),
            "components": components,
            "histories": history.component_history(components, days=snapshot.HISTORY_DAYS),
            "incidents": unresolved,
            "maintenances": maintenance,
            "recent": recent[:10],
            "updated_at": snapshot.page_updated_at(),
        },
    )


def _history_since():
    """The start of the history page's window, to the minute (so the documents of one publish
    ask for the same window)."""
    now = timezone.now().replace(second=0, microsecond=0)
    return now - timedelta(days=snapshot.HISTORY_DAYS)


def history_page(links: Links) -> bytes:
    return _page(
        "statuspage/history.html",
        links,
        {"past": snapshot.past_incidents(_history_since()), "days": snapshot.HISTORY_DAYS},
    )


def incident_page(
    pk: int, links: Links, found: snapshot.IncidentView | None = None
) -> bytes | None:
    found = found or snapshot.incident(pk)
    if found is None:
        return None
    return _page("statuspage/incident.html", links, {"incident": found})


# What an incident page is made of besides its incident: a change to any of these (a deploy, a
# setting) changes every incident page.
_INCIDENT_PAGE_TEMPLATES = (
    "statuspage/incident.html",
    "statuspage/base.html",
    "statuspage/_style.html",
    "_favicon.html",
)


def incident_page_site_fingerprint(links: Links) -> str:
    """A digest of everything an incident page shows that is not its incident: the templates and
    template tags, the site settings, the subscribe link and other apps' context."""
    from tideover.statuspage.templatetags import statuspage as tags

    digest = hashlib.blake2b(digest_size=16)
    for name in _INCIDENT_PAGE_TEMPLATES:
        digest.update(Path(get_template(name).origin.name).read_bytes())
    digest.update(Path(tags.__file__).read_bytes())
    context = {
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "time_zone": settings.TIME_ZONE,
        "links": links,
        **_subscribe_context(links),
    }
    for hook in _context_hooks:
        context.update(hook(dict(context)) or {})
    digest.update(repr(sorted(context.items(), key=lambda item: item[0])).encode())
    return digest.hexdigest()


def incident_fingerprint(found: snapshot.IncidentView, site: str) -> str:
    """A digest of what ``incident_page`` renders for ``found``: equal digests, equal pages
    (apart from the "generated" time), so an unchanged page need not be rendered again."""
    parts: list[object] = [site]
    for field in dataclasses.fields(found):
        value = getattr(found, field.name)
        if field.name == "components":  # model instances: the page shows their names
            value = [(component.pk, component.name) for component in value]
        elif field.name == "updates":
            value = [dataclasses.astuple(update) for update in value]
        parts.append((field.name, value))
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def store_lookup_page(links: Links, query: str, found) -> bytes:
    """The answer to "is my store affected?" (``found`` is None before anything is asked)."""
    return _page("statuspage/stores.html", links, {"query": query, "found": found})


def api_document(name: str) -> bytes | None:
    builder = api_v2.DOCUMENTS.get(name)
    return api_v2.dumps(builder()) if builder else None


def feed(kind: str) -> bytes:
    return feeds.build(kind)


def exported_incident_ids() -> list[int]:
    """The incidents the static export has pages for: open ones, recent ones, the history's."""
    return snapshot.public_incident_ids(timezone.now() - timedelta(days=snapshot.HISTORY_DAYS))
