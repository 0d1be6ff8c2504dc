"""The address of the client that sent a request: what rate limits and login throttling count.

Without a proxy it is the connection's own address. Behind a load balancer every request comes
from the balancer, so the client's address is read from ``TRUSTED_PROXY_HEADER`` (for example
``X-Forwarded-For``). Each proxy appends the address it received the request from, so only the
last ``TRUSTED_PROXY_COUNT`` entries were written by proxies we run; anything further left was
sent by the client and could say anything.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    """The client's IP address as text, or '' when it cannot be told."""
    remote = request.META.get("REMOTE_ADDR", "")
    header = settings.TRUSTED_PROXY_HEADER
    if not header:
        return _valid(remote)
    value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    hops = [part.strip() for part in value.split(",") if part.strip()]
    count = max(1, settings.TRUSTED_PROXY_COUNT)
    if len(hops) < count:
        # The header is missing or shorter than our own proxies make it: the request did not
        # come through them, so the connection's address is the only one to trust.
        return _valid(remote)
    return _valid(hops[-count])


def _valid(text: str) -> str:
    text = text.strip().strip("[]")
    if text.count(":") == 1:  # "203.0.113.7:51234" (some proxies add the port)
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def client_network(ip: str) -> str:
    """What a per-client limit counts for the address ``ip``: an IPv4 address itself, and an
    IPv6 address's /64, which one home or server is given whole (counting each address would
    let it take as many turns as it has addresses). '' stays 'unknown': one shared bucket."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:  # ::ffff:203.0.113.7 is that IPv4 client
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))
