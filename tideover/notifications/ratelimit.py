"""Limits on the public sign-up forms (SMS pumping: bots sign up premium numbers in bulk so the
retailer pays for the confirmation texts). Counters live in the shared cache, keyed by a hash
so no address or number is stored in the cache."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from tideover.core.errors import DomainError


class TooManySignups(DomainError):
    status_code = 429


def _hit(scope: str, value: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt; False when the window's limit is already used up."""
    if limit <= 0:
        return True
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{value}".encode()).hexdigest()[:24]
    key = f"signup:{scope}:{digest}:{int(time.time() // window_seconds)}"
    cache.add(key, 0, timeout=window_seconds + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=window_seconds + 60)
        count = 1
    return count <= limit


def check_signup(*, ip: str, phone: str = "", country: str = "", email: str = "") -> None:
    """Refuse with a clear message when an IP, address, number or country signed up too often."""
    if ip and not _hit("ip", ip, settings.SIGNUP_PER_IP_PER_HOUR, 3600):
        raise TooManySignups(
            "Too many sign-ups from your network in the last hour; please try again later"
        )
    if email and not _hit("email", email.lower(), settings.SIGNUP_PER_EMAIL_PER_DAY, 86400):
        raise TooManySignups(
            "This address has been signed up too often today; check its inbox for the "
            "confirmation e-mail or try again tomorrow",
            field="email",
        )
    if phone and not _hit("phone", phone, settings.SIGNUP_PER_NUMBER_PER_DAY, 86400):
        raise TooManySignups(
            "This number has asked for too many confirmation codes today; try again tomorrow",
            field="phone",
        )
    if country and not _hit("country", country, settings.SIGNUP_PER_COUNTRY_PER_HOUR, 3600):
        raise TooManySignups(
            "We are receiving unusually many SMS sign-ups for this country; please use e-mail "
            "or try again later",
            field="phone",
        )
