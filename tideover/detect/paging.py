"""Paging the on-call people when an alert opens, and again until someone acknowledges it.

Who is paged: every active staff account in the incident commander role (by e-mail, and by SMS
when its profile has a mobile number), and the first active channel of the staff team named
by ``DETECT_PAGE_TEAM`` (its chat room, say). The pages are rows in the notifications outbox
(category internal), written in the transaction that opens the alert, so an alert that rolls
back pages nobody and one that commits is delivered by the outbox's own workers.

- **Once per alert.** A finding that joins a live alert adds evidence, not a page; each page
  has its own dedupe key (alert, round, recipient), so a retried run queues nothing twice.
- **Repeats until acknowledged.** An alert still *open* ``DETECT_PAGE_REPEAT_MINUTES`` after its
  last page pages again, at most ``DETECT_PAGE_REPEATS`` times; acknowledging, declaring,
  dismissing or clearing it stops that.
- **Dismissed patterns stay quiet.** An alert held by a dismissed pattern opens with
  ``paged=False`` and is never paged (``alerts.raise_finding`` decides that).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from tideover.core.roles import Role
from tideover.detect.models import Alert, AlertState

log = logging.getLogger("tideover.detect")


def alert_url(alert: Alert) -> str:
    return settings.SITE_URL + reverse("detect:alert", args=[alert.pk])


def _recipients() -> list[tuple[str, str, str, object]]:
    """(key, channel, address, endpoint) for everyone on call: commanders and the team."""
    from tideover.notifications.services import first_receiving_channel

    found = []
    commanders = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.INCIDENT_COMMANDER)
        .select_related("staff_profile")
        .order_by("pk")
        .distinct()
    )
    for user in commanders:
        if user.email:
            found.append((f"u{user.pk}", "email", user.email, None))
        profile = getattr(user, "staff_profile", None)
        if profile is not None and profile.mobile_e164:
            found.append((f"u{user.pk}", "sms", profile.mobile_e164, None))
    endpoint = first_receiving_channel(settings.DETECT_PAGE_TEAM)
    if endpoint is not None:
        found.append((f"e{endpoint.pk}", endpoint.channel, endpoint.target, endpoint))
    return found


def _text(alert: Alert, round_: int) -> tuple[str, str]:
    again = f" (reminder {round_}: nobody has acknowledged it)" if round_ else ""
    subject = f"[{settings.SITE_NAME}] Alert{again}: {alert.title}"
    attribution = (alert.evidence or {}).get("attribution", "")
    body = (
        f"Detect opened an alert at {alert.opened_at:%H:%M} UTC{again}: {alert.title}. "
        f"First unusual minute {alert.started_at:%H:%M} UTC."
        + (f" {attribution[:1].upper()}{attribution[1:]}." if attribution else "")
        + f" Acknowledge, dismiss or declare it: {alert_url(alert)}"
    )
    return subject, body


def page(alert: Alert, at: datetime) -> int:
    """Queue this alert's next page to everyone on call; returns the messages queued."""
    if not apps.is_installed("tideover.notifications"):
        return 0
    from tideover.notifications.services import queue_staff_messages

    round_ = alert.pages_sent
    subject, body = _text(alert, round_)
    messages = [
        {
            "channel": channel,
            "recipient": address,
            "endpoint": endpoint,
            "subject": subject,
            "body": body,
            "dedupe_key": f"detect-alert:{alert.pk}:{round_}:{key}:{channel}",
        }
        for key, channel, address, endpoint in _recipients()
    ]
    if not messages:
        log.warning(
            "alert %s paged nobody: no active incident commander has an e-mail or mobile, "
            "and DETECT_PAGE_TEAM names no team with an active channel",
            alert.pk,
        )
    queued = queue_staff_messages(messages)
    Alert.objects.filter(pk=alert.pk).update(pages_sent=round_ + 1, last_paged_at=at)
    alert.pages_sent, alert.last_paged_at = round_ + 1, at
    return queued


def page_again(at: datetime) -> int:
    """Page once more every alert still open (nobody acknowledged it) whose last page is
    ``DETECT_PAGE_REPEAT_MINUTES`` old, up to ``DETECT_PAGE_REPEATS`` times; returns how many."""
    repeat = timedelta(minutes=max(settings.DETECT_PAGE_REPEAT_MINUTES, 1))
    due = Alert.objects.filter(
        state=AlertState.OPEN,
        paged=True,
        pages_sent__gte=1,
        pages_sent__lte=max(settings.DETECT_PAGE_REPEATS, 0),
        last_paged_at__lte=at - repeat,
    )
    paged = 0
    for alert in due:
        page(alert, at)
        paged += 1
    return paged
