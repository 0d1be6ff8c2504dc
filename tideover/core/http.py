"""Every outbound HTTP request goes through here: one place for timeouts, the user agent,
webhook signatures and the Twilio SDK's transport (so tests point it at loopback servers).

Webhook signature (documented in docs/notifications.md): the sender adds

  Tideover-Delivery:  a unique id per message; a retry of the same message repeats it
  Tideover-Timestamp: Unix seconds when this attempt was signed
  Tideover-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

Receivers recompute the HMAC, compare in constant time, refuse timestamps outside the replay
window and drop deliveries whose id they have already seen.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
from django.conf import settings

USER_AGENT = "Tideover/0.1 (+status notifications)"
SIGNATURE_HEADER = "Tideover-Signature"
TIMESTAMP_HEADER = "Tideover-Timestamp"
DELIVERY_HEADER = "Tideover-Delivery"
SIGNATURE_VERSION = "v1"

_local = threading.local()


def client() -> httpx.Client:
    """A keep-alive client per thread (httpx clients are not shared across threads)."""
    found = getattr(_local, "client", None)
    if found is None:
        timeout = httpx.Timeout(settings.HTTP_TIMEOUT_SECONDS, connect=5.0)
        found = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,  # a webhook that redirects is a misconfiguration, not a hop
            trust_env=False,  # never pick up proxies from the environment
        )
        _local.client = found
    return found


class UnsafeAddress(Exception):
    """The URL's host is (or resolves to) an address that is not on the public internet."""


def public_ip(address: str) -> bool:
    """True for an address that is globally routable (not loopback, private, link-local...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_public_url(url: str) -> None:
    """Refuse a URL whose host resolves to any non-public address, unless
    WEBHOOK_ALLOW_PRIVATE is on. Checked right before sending: a name that resolved to a
    public address at sign-up can point at the worker's own network later."""
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeAddress("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as exc:
        raise httpx.ConnectError(f"cannot resolve the host: {type(exc).__name__}") from exc
    for *_, sockaddr in found:
        if not public_ip(sockaddr[0]):
            raise UnsafeAddress(
                "the host resolves to a private, loopback or reserved address; webhooks must "
                "point at a public address (WEBHOOK_ALLOW_PRIVATE=true allows it)"
            )


def compute_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, delivery_id: str, now: float | None = None) -> dict:
    """The headers that let a receiver check who sent ``body``, when, and whether it is new."""
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={compute_signature(secret, timestamp, body)}",
    }


def verify_signature(
    secret: str,
    body: bytes,
    *,
    timestamp: str | None,
    signature: str | None,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """True when ``signature`` signs ``body`` at ``timestamp`` and the timestamp is recent."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance_seconds:
        return False
    expected = f"{SIGNATURE_VERSION}={compute_signature(secret, timestamp, body)}"
    # Several signatures may be sent while a secret rotates: accept any one that matches.
    return any(hmac.compare_digest(expected, part.strip()) for part in signature.split(","))


def post_signed_json(url: str, payload: dict, *, secret: str, delivery_id: str) -> httpx.Response:
    """POST ``payload`` as JSON with the Tideover signature headers (public hosts only)."""
    check_public_url(url)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return client().post(url, content=body, headers=signed_headers(secret, body, delivery_id))


def post_json(url: str, payload: dict, headers: dict | None = None) -> httpx.Response:
    """POST ``payload`` as JSON to a public host."""
    check_public_url(url)
    return client().post(url, json=payload, headers=headers or {})


def twilio_http_client():
    """An HTTP client for the Twilio SDK that uses httpx and honours TWILIO_API_BASE."""
    from twilio.http import HttpClient
    from twilio.http.response import Response

    class _TwilioHttpx(HttpClient):
        def __init__(self):
            import logging

            super().__init__(logging.getLogger("tideover.http.twilio"), False, None)

        def request(
            self,
            method,
            url,
            params=None,
            data=None,
            headers=None,
            auth=None,
            timeout=None,
            allow_redirects=False,
        ):
            base = settings.TWILIO_API_BASE.rstrip("/")
            if base and url.startswith("https://api.twilio.com"):
                url = base + url[len("https://api.twilio.com") :]
            # The SDK's own logging would print the recipient's number: deliberately not called.
            response = client().request(
                method.upper(),
                url,
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=timeout or settings.HTTP_TIMEOUT_SECONDS,
            )
            return Response(response.status_code, response.text, response.headers)

    return _TwilioHttpx()
