"""A WSGI layer in front of Django that answers public status documents straight from the cache.

During an outage the status page takes the spike. A cached document needs no session, user,
CSRF check, URL resolving or database, so this layer answers it before Django builds a request:
a dictionary lookup, one read of the cache version, and the pre-rendered bytes. Anything else
(a miss, another path or method) goes to Django unchanged, which renders and fills the cache.
The bytes are identical for every visitor and do not depend on the Host header.
"""

from __future__ import annotations

import re

from csp.utils import build_policy
from django.conf import settings

from tideover.statuspage import cache
from tideover.statuspage.api_v2 import DOCUMENTS
from tideover.statuspage.views import CACHE_CONTROL

# The headers Django's security middleware would add, since this path skips it.
_SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
]


def _security_headers() -> list[tuple[str, str]]:
    """The fixed security headers and the policy the CSP middleware sends on Django's pages."""
    return [*_SECURITY_HEADERS, ("Content-Security-Policy", build_policy())]


def _hsts() -> str | None:
    """Strict-Transport-Security as Django's security middleware writes it (None: not sent)."""
    if not settings.SECURE_HSTS_SECONDS:
        return None
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return value


def is_secure(environ) -> bool:
    """Whether the request came over HTTPS, decided as Django's ``request.is_secure()`` does
    (the trusted proxy's header when one is configured and present, else the WSGI scheme)."""
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        header, secure = proxy
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure
    return environ.get("wsgi.url_scheme") == "https"


_INCIDENT = re.compile(r"^/incidents/([0-9]{1,18})(?:\.html)?$")


def _documents(prefix: str) -> dict[str, str]:
    """Served path -> cached document name (as the views name them)."""
    root = f"/{prefix.strip('/')}/" if prefix.strip("/") else "/"
    paths = {
        root: "index.html",
        f"{root}index.html": "index.html",
        f"{root}history": "history.html",
        f"{root}history.html": "history.html",
        f"{root}feed.atom": "feed.atom",
        f"{root}feed.rss": "feed.rss",
        f"{root}history.atom": "feed.atom",
        f"{root}history.rss": "feed.rss",
    }
    paths.update({f"{root}api/v2/{name}": f"api/v2/{name}" for name in DOCUMENTS})
    return paths


class StatusPageFastPath:
    """Wrap a WSGI application; serve cached status documents without entering it."""

    def __init__(self, application, prefix: str = ""):
        self.application = application
        self.paths = _documents(prefix)
        self.incident_root = f"/{prefix.strip('/')}" if prefix.strip("/") else ""
        self._headers: dict[tuple[int, bool], tuple[cache.Rendered, list]] = {}
        self.security_headers = _security_headers()
        # HTTPS_REDIRECT: plain-HTTP requests go to Django, which answers with the redirect.
        self.https_only = settings.SECURE_SSL_REDIRECT
        self.hsts = _hsts()

    def _name(self, path: str) -> str | None:
        name = self.paths.get(path)
        if name is None and path.startswith(f"{self.incident_root}/incidents/"):
            match = _INCIDENT.match(path[len(self.incident_root) :])
            if match:
                name = f"incidents/{int(match.group(1))}.html"
        return name

    def _headers_for(
        self, rendered: cache.Rendered, body: bytes, etag: str, is_gzip: bool, secure: bool
    ):
        key = (id(rendered), is_gzip, secure)
        known = self._headers.get(key)
        if known is not None and known[0] is rendered:
            return known[1]
        headers = [
            ("Content-Type", rendered.content_type),
            ("Content-Length", str(len(body))),
            ("ETag", etag),
            ("Last-Modified", rendered.last_modified),
            ("Cache-Control", CACHE_CONTROL),
            ("Vary", "Accept-Encoding"),
            *self.security_headers,
        ]
        if is_gzip:
            headers.append(("Content-Encoding", "gzip"))
        if secure and self.hsts:
            headers.append(("Strict-Transport-Security", self.hsts))
        if len(self._headers) > 512:
            self._headers.clear()
        self._headers[key] = (rendered, headers)
        return headers

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            name = self._name(environ.get("PATH_INFO", ""))
            if name is not None and (not self.https_only or is_secure(environ)):
                rendered = cache.lookup(name, stale_while_rendering=True)
                if rendered is not None:
                    return self._send(environ, start_response, rendered, method)
        return self.application(environ, start_response)

    def _send(self, environ, start_response, rendered: cache.Rendered, method: str):
        body, etag, is_gzip = rendered.variant(environ.get("HTTP_ACCEPT_ENCODING"))
        tags = environ.get("HTTP_IF_NONE_MATCH")
        if (tags is not None and rendered.matches(tags)) or (
            tags is None and environ.get("HTTP_IF_MODIFIED_SINCE") == rendered.last_modified
        ):
            headers = [
                ("ETag", etag),
                ("Last-Modified", rendered.last_modified),
                ("Cache-Control", CACHE_CONTROL),
                ("Vary", "Accept-Encoding"),
            ]
            start_response("304 Not Modified", headers)
            return [b""]
        secure = self.hsts is not None and is_secure(environ)
        start_response("200 OK", self._headers_for(rendered, body, etag, is_gzip, secure))
        return [b"" if method == "HEAD" else body]


def wrap(application):
    """The WSGI application with the status page's fast path in front (tideover/wsgi.py)."""
    from tideover.statuspage.urls import URL_PREFIX

    return StatusPageFastPath(application, URL_PREFIX)
