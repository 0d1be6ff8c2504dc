"""Which webhook URLs the public may subscribe: http(s), and not plainly a private address.

The worker checks the resolved address again before every send (tideover.core.http), which is
the real guard against server-side request forgery; this refuses the obvious cases at sign-up
with a message the person can act on.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from tideover.core.errors import DomainError
from tideover.core.public_addresses import allowlisted, public_ip


def clean_webhook_url(url: str, *, field: str = "url") -> str:
    """An http(s) URL; private and loopback addresses only when WEBHOOK_ALLOW_PRIVATE is on."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)  # raises ValueError for "http://[::1" and unsafe Unicode
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise DomainError("Enter the full URL of your endpoint, e.g. https://...", field=field)
    if len(text) > 500:
        raise DomainError("Keep the URL under 500 characters", field=field)
    try:
        # The host as the worker's HTTP client will connect to it: httpx maps Unicode full
        # stops (U+3002, U+FF0E, U+FF61) to "." and applies IDNA, so "127.0.0.1。nip.io" is
        # 127.0.0.1.nip.io and "169.254.169.254．" the metadata address.
        host = httpx.URL(text).raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):
        raise DomainError("Enter the full URL of your endpoint, e.g. https://...", field=field)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    # Private only with WEBHOOK_ALLOW_PRIVATE, or at the exact address:port the operator
    # allowed (the demo's own receiver).
    allowed = settings.WEBHOOK_ALLOW_PRIVATE or allowlisted(numeric_address(host) or "", port)
    if private_host(host) and not allowed:
        raise DomainError("Webhooks must point at a public address", field=field)
    return text


# Wildcard DNS services that answer any name with the address written in it
# (127.0.0.1.nip.io -> 127.0.0.1), and names that always mean this machine.
_ECHO_DOMAINS = ("nip.io", "sslip.io", "xip.io", "localtest.me", "lvh.me", "traefik.me")
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa", "lan")


_FULL_STOPS = {0x3002: ".", 0xFF0E: ".", 0xFF61: "."}


def private_host(host: str) -> bool:
    """True when ``host`` is, or plainly names, a non-public address."""
    # Unicode full stops are dots to IDNA; "localhost." (a trailing dot) is localhost.
    host = host.translate(_FULL_STOPS).lower().rstrip(".")
    address = numeric_address(host)
    if address is not None:
        return not public_ip(address)
    if "." not in host:  # a bare name resolves through the worker's search domains
        return True
    names = _LOCAL_SUFFIXES + _ECHO_DOMAINS
    return host in names or host.endswith(tuple("." + name for name in names))


def numeric_address(host: str) -> str | None:
    """The address a numeric host means, in every spelling the C library accepts
    (2130706433, 0x7f.1, 127.1, [::1]); None for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        pass
    try:  # AI_NUMERICHOST never asks DNS
        found = socket.getaddrinfo(host, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return None
    return found[0][4][0] if found else None
