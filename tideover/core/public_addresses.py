"""Which network addresses outbound requests may go to: the public ones (and the exact
address:port pairs an operator allowed). ``tideover.core.http`` checks each address it
connects to with these; webhook sign-up checks the obvious cases early with the same rules."""

from __future__ import annotations

import ipaddress

from django.conf import settings

# IPv6 ranges whose last (or, for 6to4, second and third) 32 bits are an IPv4 address that a
# translator or tunnel on the way delivers to: 64:ff9b::10.0.0.1 reaches 10.0.0.1 on an
# IPv6-only network with NAT64. Python counts most of them as global.
_CARRIES_IPV4 = [
    ipaddress.ip_network(net)
    for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96")
]
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, still private where used


def public_ip(address: str) -> bool:
    """True for an address that is globally routable (not loopback, private, link-local...),
    and, for an IPv6 address that carries an IPv4 one, when that one is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6:
        if ip in _SITE_LOCAL:
            return False
        inner = ip.ipv4_mapped or ip.sixtofour  # ::ffff:127.0.0.1; 2002:7f00:1::
        if inner is None and any(ip in net for net in _CARRIES_IPV4):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            ip = inner
    return ip.is_global and not ip.is_multicast


def allowlisted(address: str, port: int | None) -> bool:
    """True when ``address:port`` is one of WEBHOOK_PRIVATE_ALLOWLIST (e.g. the demo's receiver)."""
    return f"{address}:{port}" in settings.WEBHOOK_PRIVATE_ALLOWLIST
