"""The console's navigation bar, shared by every app.

An app adds its pages in its ``AppConfig.ready``::

    from tideover.core import nav
    nav.add_link("Subscribers", "notifications:subscribers", Capability.VIEW_DELIVERY, order=40)

``base.html`` shows, through the ``tideover.core.context.site`` context processor, the links
whose capability the visitor holds, sorted by ``order`` (then label). A link whose URL name does
not resolve (its app's urls are not installed) is left out rather than breaking every page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavLink:
    label: str
    url_name: str
    capability: str
    order: int = 100


# Keyed by URL name, so a ready() that runs twice (tests, autoreload) does not add duplicates.
_LINKS: dict[str, NavLink] = {}


def add_link(label: str, url_name: str, capability, order: int = 100) -> None:
    """Show ``label`` linking to ``url_name`` to staff who hold ``capability``."""
    _LINKS[url_name] = NavLink(label, url_name, str(capability), order)


def links_for(caps: set[str], current_path: str = "") -> list[dict]:
    """The links this visitor may follow, each as {label, url, current}."""
    result = []
    for link in sorted(_LINKS.values(), key=lambda item: (item.order, item.label)):
        if link.capability not in caps:
            continue
        try:
            url = reverse(link.url_name)
        except NoReverseMatch:
            continue
        result.append({"label": link.label, "url": url, "current": url == current_path})
    return result


# Links shown on an incident's pages (its runbook progress, reports, postmortem...), added by
# the apps that own those pages; each URL takes ``incident_id``.
_INCIDENT_LINKS: dict[str, NavLink] = {}


def add_incident_link(label: str, url_name: str, capability, order: int = 100) -> None:
    """Show ``label`` on incident pages, linking to ``url_name`` (with ``incident_id``)."""
    _INCIDENT_LINKS[url_name] = NavLink(label, url_name, str(capability), order)


def incident_links_for(incident, caps: set[str]) -> list[dict]:
    """The incident-page links this visitor may follow, each as {label, url}."""
    result = []
    for link in sorted(_INCIDENT_LINKS.values(), key=lambda item: (item.order, item.label)):
        if link.capability not in caps:
            continue
        try:
            url = reverse(link.url_name, kwargs={"incident_id": incident.pk})
        except NoReverseMatch:
            continue
        result.append({"label": link.label, "url": url})
    return result
