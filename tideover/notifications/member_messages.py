"""Messages to loyalty members (rewards, expiry reminders, goodwill): on the channels they
consented to, marketing held until their quiet hours end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tideover.core.errors import DomainError
from tideover.notifications.models import Category, OutboxMessage


def parse_quiet_hours(value: str) -> tuple[int, int] | None:
    """'21:00-08:00' -> (1260, 480) minutes; '' -> None (no quiet hours)."""
    if not value:
        return None
    try:
        start, end = (part.strip() for part in value.split("-"))
        to_minutes = [int(h) * 60 + int(m) for h, m in (t.split(":") for t in (start, end))]
    except ValueError:
        raise DomainError(f"Quiet hours {value!r} should look like 21:00-08:00")
    return to_minutes[0], to_minutes[1]


def next_allowed_time(now: datetime, time_zone: str = "") -> datetime:
    """``now`` if it is outside the recipient's quiet hours, else the moment they end."""
    window = parse_quiet_hours(settings.NOTIFY_QUIET_HOURS)
    if window is None:
        return now
    start, end = window
    local = now.astimezone(ZoneInfo(time_zone or settings.TIME_ZONE))
    minute = local.hour * 60 + local.minute
    quiet = (start <= minute or minute < end) if start > end else (start <= minute < end)
    if not quiet:
        return now
    ends = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(UTC)


def queue_member_message(
    *,
    member_id: str,
    email: str,
    phone_e164: str,
    consent_email: bool,
    consent_sms: bool,
    subject: str,
    body: str,
    dedupe_key: str,
    category: str = "transactional",
    time_zone: str = "",
) -> list[str]:
    """Queue a message to a member on each channel they consented to; returns those channels.

    Marketing waits for the end of the recipient's quiet hours; transactional goes at once. The
    same ``dedupe_key`` never queues twice.
    """
    if category not in (Category.TRANSACTIONAL, Category.MARKETING):
        raise DomainError("category must be 'transactional' or 'marketing'", field="category")
    if not (body or "").strip():
        raise DomainError("The message is empty", field="body")
    now = timezone.now()
    send_at = next_allowed_time(now, time_zone) if category == Category.MARKETING else now
    targets = []
    if email and consent_email:
        targets.append(("email", email))
    if phone_e164 and consent_sms:
        targets.append(("sms", phone_e164))
    rows = [
        OutboxMessage(
            channel=channel,
            recipient=recipient,
            category=category,
            subject=subject or settings.SITE_NAME,
            body=body,
            dedupe_key=f"member:{dedupe_key}:{channel}"[:200],
            next_attempt_at=send_at,
        )
        for channel, recipient in targets
    ]
    with transaction.atomic():
        OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True)
    del member_id  # identifies the member to callers' logs; the outbox keys on dedupe_key
    return [channel for channel, _ in targets]


def on_member_event(name: str, member=None, text: str = "", **payload) -> None:
    """loyalty.* events: tell the member on their consented channels (duck-typed member)."""
    if member is None or not text:
        return
    ident = getattr(member, "loyalty_id", None) or getattr(member, "pk", "")
    key = payload.get("dedupe_key") or _member_event_key(name, ident, payload)
    queue_member_message(
        member_id=str(ident),
        email=getattr(member, "email", "") or "",
        phone_e164=getattr(member, "phone_e164", "") or getattr(member, "phone", "") or "",
        consent_email=bool(getattr(member, "consent_transactional", True)),
        consent_sms=bool(getattr(member, "consent_transactional", True)),
        subject=payload.get("subject") or f"{settings.SITE_NAME} rewards",
        body=text,
        dedupe_key=key,
        category=payload.get("category", Category.TRANSACTIONAL),
    )


def _member_event_key(name: str, ident, payload: dict) -> str:
    reward = payload.get("reward")
    if reward is not None:
        return f"{name}:{getattr(reward, 'pk', reward)}"
    return f"{name}:{ident}:{payload.get('expires_on', '')}:{payload.get('points', '')}"
