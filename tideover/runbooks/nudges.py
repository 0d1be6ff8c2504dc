"""Telling a nudged store's managers: the nudge shows on the store page, and each manager of
the store also gets it by e-mail, and by SMS when their profile has a mobile number, through
the notifications outbox (category internal), written in the nudge's transaction. A store with
no manager reachable is counted, so the commander knows the page is the only place it shows."""

from __future__ import annotations

import logging
from datetime import datetime

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from tideover.core.models import Store
from tideover.core.roles import Role
from tideover.incidents.models import Incident

log = logging.getLogger("tideover.runbooks")


def _managers(stores: list[Store]) -> dict[int, list]:
    """Active store managers of ``stores``, by store id."""
    found: dict[int, list] = {store.pk: [] for store in stores}
    managers = (
        get_user_model()
        .objects.filter(
            is_active=True,
            groups__name=Role.STORE_MANAGER,
            staff_profile__store__in=stores,
        )
        .select_related("staff_profile")
        .order_by("pk")
        .distinct()
    )
    for user in managers:
        found[user.staff_profile.store_id].append(user)
    return found


def _text(incident: Incident, store: Store) -> tuple[str, str]:
    drill = "DRILL: " if incident.is_drill else ""
    subject = f"[{settings.SITE_NAME}] {drill}Please acknowledge the plan for {store.code}"
    page = settings.SITE_URL + reverse("storeview:store", args=[store.code])
    body = (
        f"{drill}HQ is waiting for {store.code} {store.name} to acknowledge the plan for "
        f'"{incident.title}". Open the store page, read the checklist and press Acknowledge: '
        f"{page}"
    )
    return subject, body


def tell_managers(incident: Incident, stores: list[Store], at: datetime) -> tuple[int, int]:
    """Queue the nudge to each manager of ``stores``; returns (messages queued, stores with
    nobody to tell). Each message's dedupe key is (incident, store, nudge time, person,
    channel), so a retried transaction queues nothing twice."""
    if not stores or not apps.is_installed("tideover.notifications"):
        return 0, len(stores)
    from tideover.notifications.services import queue_staff_messages

    managers = _managers(stores)
    stamp = at.strftime("%Y%m%dT%H%M%S")
    messages = []
    unreachable = 0
    for store in stores:
        subject, body = _text(incident, store)
        addresses = []
        for user in managers[store.pk]:
            if user.email:
                addresses.append((user.pk, "email", user.email))
            if user.staff_profile.mobile_e164:
                addresses.append((user.pk, "sms", user.staff_profile.mobile_e164))
        if not addresses:
            unreachable += 1
        messages.extend(
            {
                "channel": channel,
                "recipient": address,
                "subject": subject,
                "body": body,
                "dedupe_key": f"nudge:{incident.pk}:{store.pk}:{stamp}:u{user_id}:{channel}",
            }
            for user_id, channel, address in addresses
        )
    if unreachable:
        log.warning(
            "incident %s: %d nudged store(s) have no active manager with an e-mail or mobile",
            incident.pk,
            unreachable,
        )
    return queue_staff_messages(messages), unreachable
