"""Webhook signatures (docs/notifications.md): the sender adds

  Tideover-Delivery:  a unique id per message; a retry of the same message repeats it
  Tideover-Timestamp: Unix seconds when this attempt was signed
  Tideover-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

Receivers recompute the HMAC, compare in constant time, refuse timestamps outside the replay
window and drop deliveries whose id they have already seen. Sending goes through core.http.

A new endpoint proves it holds the secret by answering our verification POST's challenge with
``challenge_proof(secret, challenge)`` (notifications/verification.py)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Tideover-Signature"
TIMESTAMP_HEADER = "Tideover-Timestamp"
DELIVERY_HEADER = "Tideover-Delivery"
SIGNATURE_VERSION = "v1"


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


def challenge_proof(secret: str, challenge: str) -> str:
    """What an endpoint answers a verification with: hex HMAC-SHA256 of the challenge under
    ``secret``. Unlike the challenge, it is nowhere in the request, so an endpoint that only
    echoes what it receives cannot give it."""
    return hmac.new(secret.encode(), challenge.encode(), hashlib.sha256).hexdigest()
