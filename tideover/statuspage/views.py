"""Public status pages, JSON and feeds: no login, served from the cache of pre-rendered bytes.

These views are public on purpose (customers read them); they carry ``public_page = True``
instead of a capability. A hit answers from the cache without rendering or touching the
database; a browser or CDN that already has the bytes gets a 304.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.views.decorators.http import require_safe

from tideover.statuspage import cache, lookup, render
from tideover.statuspage.render import Links

log = logging.getLogger("tideover.statuspage")

HTML = "text/html; charset=utf-8"
JSON = "application/json"
ATOM = "application/atom+xml; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
CACHE_CONTROL = "public, no-cache"  # revalidate every time (cheap 304s): changes show at once


def public_page(view):
    """Mark a view as public: customers read it without logging in."""
    view = require_safe(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    wrapped.public_page = True
    return wrapped


def _not_modified(request, rendered: cache.Rendered) -> bool:
    tags = request.META.get("HTTP_IF_NONE_MATCH")
    if tags is not None:
        return rendered.matches(tags)
    return request.META.get("HTTP_IF_MODIFIED_SINCE") == rendered.last_modified


def _from_export(name: str, content_type: str) -> cache.Rendered | None:
    """The last exported copy of a document, for when it cannot be rendered now."""
    folder = settings.STATUS_EXPORT_DIR
    if not folder:
        return None
    path = Path(folder) / name
    try:
        body = path.read_bytes()
    except OSError:
        return None
    return cache.Rendered.of(body, content_type, ttl=0)


def respond(request, name: str, build: Callable[[], bytes | None], content_type: str):
    """Answer from the cache (rendering once on a miss), honouring conditional GETs."""
    try:
        rendered = cache.get_or_render(name, build, content_type)
    except DatabaseError:
        # The database is the thing that failed: the last export still tells the truth as of
        # the last change, which beats an error page in the middle of an outage.
        log.exception("status page could not be rendered; serving the last export")
        rendered = _from_export(name, content_type)
        if rendered is None:
            raise
    if rendered is None:
        raise Http404("No such page on the status page")
    body, etag, is_gzip = rendered.variant(request.META.get("HTTP_ACCEPT_ENCODING"))
    if _not_modified(request, rendered):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(
            b"" if request.method == "HEAD" else body, content_type=rendered.content_type
        )
        response["Content-Length"] = str(len(body))
        if is_gzip:
            response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    response["ETag"] = etag
    response["Last-Modified"] = rendered.last_modified
    response["Cache-Control"] = CACHE_CONTROL
    return response


@public_page
def index(request):
    return respond(request, "index.html", lambda: render.index_page(Links.served()), HTML)


@public_page
def history(request):
    return respond(request, "history.html", lambda: render.history_page(Links.served()), HTML)


@public_page
def incident(request, pk: int):
    return respond(
        request, f"incidents/{pk}.html", lambda: render.incident_page(pk, Links.served()), HTML
    )


@public_page
def api_document(request, name: str):
    return respond(request, f"api/v2/{name}", lambda: render.api_document(name), JSON)


@public_page
def feed_atom(request):
    return respond(request, "feed.atom", lambda: render.feed("atom"), ATOM)


@public_page
def feed_rss(request):
    return respond(request, "feed.rss", lambda: render.feed("rss"), RSS)


@public_page
def store_lookup(request):
    """ "Is my store affected?": answered per query, never cached (it is not one page for all)."""
    query = request.GET.get("q")
    found = lookup.find_stores(query) if query is not None else None
    response = HttpResponse(
        render.store_lookup_page(Links.served(), query or "", found), content_type=HTML
    )
    response["Cache-Control"] = "private, no-cache"
    return response
