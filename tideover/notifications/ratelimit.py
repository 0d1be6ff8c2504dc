"""Limits on the public forms (SMS pumping: bots sign up premium numbers in bulk so the
retailer pays for the confirmation texts; code guessing at the SMS confirmation page).

The counting is the ``limits`` library's fixed-window strategy. Its counters live where every
web and worker process sees the same number and each increment is atomic:

- Redis, with ``REDIS_URL`` set: the library's own Redis storage (INCR + EXPIRE in one script).
- Otherwise the database, through ``DatabaseStorage`` below: ``limits`` ships no SQL storage,
  and the file cache Tideover uses without Redis cannot count (its ``incr`` re-sets the key with
  the default five-minute timeout, and it culls a third of its keys at 300 entries), so a window
  of an hour or a day would not hold. One upsert per hit keeps it atomic on SQLite and
  PostgreSQL.

Keys are HMACs of the address, number or IP, so no personal data is stored in the counters.
Callers hit a limit *outside* the transaction whose refusal it guards, so a refusal that rolls
back its own work never rolls back the count.

If the counter store cannot be reached the forms refuse with "try again" (503) rather than
letting everything through.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import time

from django.conf import settings
from django.db import DatabaseError, connection
from limits import RateLimitItemPerDay, RateLimitItemPerHour
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from tideover.core.clientip import client_network
from tideover.core.errors import DomainError

log = logging.getLogger(__name__)

# Seconds since the epoch; the tests move it to see a window end (or not end).
clock = time.time


class TooManyAttempts(DomainError):
    status_code = 429


# The old name, kept for callers that catch sign-up refusals specifically.
TooManySignups = TooManyAttempts


class LimitsUnavailable(DomainError):
    status_code = 503


class DatabaseStorage(Storage):
    """A ``limits`` storage on the ``notifications_ratelimitcounter`` table.

    ``incr`` is one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement: a counter whose
    window has passed starts again at ``amount``; otherwise it grows and keeps its expiry.
    """

    STORAGE_SCHEME = ["tideover+db"]
    # Roughly one hit in this many also deletes counters whose window has passed.
    PRUNE_ONE_IN = 200

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return DatabaseError

    @property
    def _table(self) -> str:
        from tideover.notifications.models import RateLimitCounter

        return connection.ops.quote_name(RateLimitCounter._meta.db_table)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = clock()
        q = connection.ops.quote_name
        table, k, count, expires = self._table, q("key"), q("count"), q("expires_at")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({k}, {count}, {expires}) VALUES (%s, %s, %s) "  # noqa: S608
                f"ON CONFLICT ({k}) DO UPDATE SET "
                f"{count} = CASE WHEN {table}.{expires} <= %s THEN excluded.{count} "
                f"ELSE {table}.{count} + excluded.{count} END, "
                f"{expires} = CASE WHEN {table}.{expires} <= %s THEN excluded.{expires} "
                f"ELSE {table}.{expires} END "
                f"RETURNING {count}",
                [key, amount, now + expiry, now, now],
            )
            result = cursor.fetchone()[0]
            if random.randrange(self.PRUNE_ONE_IN) == 0:
                cursor.execute(
                    f"DELETE FROM {table} WHERE {expires} <= %s",  # noqa: S608
                    [now],
                )
        return result

    def get(self, key: str) -> int:
        from tideover.notifications.models import RateLimitCounter

        row = RateLimitCounter.objects.filter(key=key, expires_at__gt=clock()).first()
        return row.count if row else 0

    def get_expiry(self, key: str) -> float:
        from tideover.notifications.models import RateLimitCounter

        row = RateLimitCounter.objects.filter(key=key, expires_at__gt=clock()).first()
        return row.expires_at if row else clock()

    def check(self) -> bool:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except DatabaseError:
            return False

    def reset(self) -> int | None:
        from tideover.notifications.models import RateLimitCounter

        deleted, _ = RateLimitCounter.objects.all().delete()
        return deleted

    def clear(self, key: str) -> None:
        from tideover.notifications.models import RateLimitCounter

        RateLimitCounter.objects.filter(key=key).delete()


_limiters: dict[tuple[str, str], FixedWindowRateLimiter] = {}


def limiter() -> FixedWindowRateLimiter:
    """The limiter on the configured store (one per store, reused across requests)."""
    uri = settings.REDIS_URL or "tideover+db://"
    # The cache's key prefix also separates the counters of several Tideovers (or of several
    # tests) sharing one Redis.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "") if settings.REDIS_URL else ""
    found = _limiters.get((uri, prefix))
    if found is None:
        options: dict = {"wrap_exceptions": True}
        if settings.REDIS_URL:
            options["key_prefix"] = f"tideover-limits:{prefix}"
            options["socket_timeout"] = 2
            options["socket_connect_timeout"] = 2
        found = FixedWindowRateLimiter(storage_from_string(uri, **options))
        _limiters[(uri, prefix)] = found
    return found


def _identifier(value: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


_WINDOWS = {3600: RateLimitItemPerHour, 86400: RateLimitItemPerDay}


def hit(scope: str, value: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt; False when the window's limit is already used up (0 = no limit)."""
    if limit <= 0 or not value:
        return True
    item = _WINDOWS[window_seconds](limit, namespace=f"tideover:{scope}")
    try:
        return limiter().hit(item, _identifier(value))
    except StorageError as exc:
        log.error("rate-limit store unavailable: %s", type(exc.storage_error).__name__)
        raise LimitsUnavailable("We cannot take sign-ups for a moment; please try again shortly")


def check_signup(
    *, ip: str, phone: str = "", country: str = "", email: str = "", authorised: bool = False
) -> None:
    """Refuse with a clear message when an IP, address, number or country signed up too often.

    ``authorised`` callers (staff, API tokens) do not spend the anonymous public limits per
    network and per country; the limits per address and per number still protect recipients.
    """
    network = client_network(ip)
    if not authorised and not hit("ip", network, settings.SIGNUP_PER_IP_PER_HOUR, 3600):
        raise TooManyAttempts(
            "Too many sign-ups from your network in the last hour; please try again later"
        )
    if email and not hit("email", email.lower(), settings.SIGNUP_PER_EMAIL_PER_DAY, 86400):
        raise TooManyAttempts(
            "This address has been signed up too often today; check its inbox for the "
            "confirmation e-mail or try again tomorrow",
            field="email",
        )
    if phone and not hit("phone", phone, settings.SIGNUP_PER_NUMBER_PER_DAY, 86400):
        raise TooManyAttempts(
            "This number has asked for too many confirmation codes today; try again tomorrow",
            field="phone",
        )
    if (
        country
        and not authorised
        and not hit("country", country, settings.SIGNUP_PER_COUNTRY_PER_HOUR, 3600)
    ):
        raise TooManyAttempts(
            "We are receiving unusually many SMS sign-ups for this country; please use e-mail "
            "or try again later",
            field="phone",
        )


def check_verification_attempt(*, ip: str) -> None:
    """Refuse a webhook verification when this network has asked for too many (each one is a
    POST we make to a URL somebody typed)."""
    network = client_network(ip)
    if not hit("webhook-verify-ip", network, settings.SMS_CODE_ATTEMPTS_PER_IP_PER_HOUR, 3600):
        raise TooManyAttempts(
            "Too many verification attempts from your network in the last hour; please try "
            "again later",
            field="url",
        )


def check_code_attempt(*, ip: str) -> None:
    """Refuse a confirmation-code attempt when this network has tried too many, across all
    sign-ups (guessing one code per token over many tokens)."""
    network = client_network(ip)
    if not hit("sms-code-ip", network, settings.SMS_CODE_ATTEMPTS_PER_IP_PER_HOUR, 3600):
        raise TooManyAttempts(
            "Too many code attempts from your network in the last hour; please try again later",
            field="code",
        )
