"""Incident events → outbox rows, inside the incident's own transaction.

The handlers run where ``tideover.core.events.publish`` is called, so the rows commit (or roll
back) with the update that caused them. Public subscribers are fanned out with one
``INSERT ... SELECT`` (100,000 rows in well under a second); staff channels are a handful of rows.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from tideover.notifications import channels, hooks
from tideover.notifications.models import (
    Category,
    ChannelEndpoint,
    MessageState,
    Notification,
    OutboxMessage,
    Subscriber,
    SubscriberState,
    Subscription,
)
from tideover.notifications.teams import backup_only_endpoint_ids

log = logging.getLogger("tideover.notifications.fanout")

# Events that reach the public (unless the incident is a drill) and staff channels.
PUBLIC_EVENTS = (
    "incident.declared",
    "incident.public_update",
    "incident.state_changed",
    "incident.resolved",
    "incident.reopened",
    "maintenance.started",
    "maintenance.completed",
    "maintenance.cancelled",
)
STAFF_ONLY_EVENTS = ("incident.internal_note",)
# A state change (or declaration) and the public update that explains it arrive in the same
# transaction with the same time: the update fills in the first one's text instead of sending
# subscribers two messages for one action.
_MERGEABLE = tuple(name for name in PUBLIC_EVENTS if name != "incident.public_update")

HEADLINES = {
    "incident.declared": "New incident",
    "incident.reopened": "Reopened",
    "maintenance.started": "Maintenance in progress",
    "maintenance.completed": "Maintenance completed",
    "maintenance.cancelled": "Maintenance cancelled",
}


def on_incident_event(name: str, incident, at=None, event=None, update=None, **_) -> None:
    """Event handler registered in NotificationsConfig.ready."""
    at = at or timezone.now()
    briefing = hooks.briefing_for(incident)
    if name == "incident.internal_note":
        points = (event.data or {}).get("talking_points", "") if event else ""
        note = Notification.objects.create(
            event=name,
            incident=incident,
            at=at,
            title=incident.title,
            headline="Internal note",
            internal_note=event.body if event else "",
            talking_points="\n".join(part for part in (points, briefing) if part),
            is_drill=incident.is_drill,
        )
        _queue_staff(note)
        _record_summary(note)
        return
    if name == "incident.public_update" and update is not None:
        earlier = (
            Notification.objects.filter(
                incident=incident, at=at, event__in=_MERGEABLE, public_update_id__isnull=True
            )
            .order_by("-pk")
            .first()
        )
        if earlier is not None:
            earlier.body = update.body
            earlier.public_update_id = update.pk
            earlier.components = update.components
            earlier.talking_points = briefing
            earlier.save(update_fields=["body", "public_update_id", "components", "talking_points"])
            return
    notification = Notification.objects.create(
        event=name,
        incident=incident,
        at=at,
        title=incident.title,
        headline=HEADLINES.get(name) or incident.get_state_display(),
        body=update.body if update is not None else "",
        public_update_id=update.pk if update is not None else None,
        components=update.components if update is not None else _components(incident),
        talking_points=briefing,
        is_drill=incident.is_drill,
    )
    counts = {}
    if not incident.is_drill:  # a drill runs everything except reaching the public
        counts = fan_out_public(notification, _component_ids(incident))
    counts.update(_queue_staff(notification))
    notification.counts = counts
    notification.save(update_fields=["counts"])
    _record_summary(notification)
    wake_workers(sum(counts.values()))


def _components(incident) -> list[dict]:
    """The components a notification names: the public's (it reaches subscribers)."""
    return [
        {"slug": a.component.slug, "name": a.component.name, "status": a.status}
        for a in incident.affected_components.filter(component__is_public=True).select_related(
            "component"
        )
    ]


def _component_ids(incident) -> list[int]:
    return list(incident.affected_components.values_list("component_id", flat=True))


def fan_out_public(notification: Notification, component_ids: list[int]) -> dict:
    """Queue one message per active subscriber of these components; returns counts by channel."""
    out = OutboxMessage._meta.db_table
    sub = Subscriber._meta.db_table
    link = Subscription._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    public = channels.public_names()
    marks_channels = ", ".join(["%s"] * len(public))
    chosen = ""
    params: list = [
        Category.STATUS,
        notification.pk,
        notification.incident_id,
        f"n{notification.pk}:s",
        MessageState.QUEUED,
        now,
        now,
        SubscriberState.ACTIVE,
        *public,
        True,
    ]
    if component_ids:
        marks = ", ".join(["%s"] * len(component_ids))
        chosen = (
            f" OR s.id IN (SELECT l.subscriber_id FROM {link} l "  # noqa: S608
            f"WHERE l.component_id IN ({marks}))"
        )
        params.extend(component_ids)
    # Only table names are interpolated (from model meta); every value is a bound parameter.
    sql = (
        f"INSERT INTO {out} (channel, recipient, category, notification_id, subscriber_id, "  # noqa: S608
        "endpoint_id, incident_id, subject, body, dedupe_key, state, attempts, next_attempt_at, "
        "lease_until, claim_token, provider_message_id, last_error, created_at) "
        "SELECT s.channel, s.address, %s, %s, s.id, NULL, %s, '', '', "
        "%s || CAST(s.id AS VARCHAR(20)), %s, 0, %s, NULL, '', '', '', %s "
        f"FROM {sub} s WHERE s.state = %s AND s.channel IN ({marks_channels}) "
        f"AND (s.all_components = %s{chosen})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return _counts(notification)


def _counts(notification: Notification) -> dict:
    """Subscriber messages really in the outbox for this notification, by channel (staff
    channel rows are counted apart, by _queue_staff)."""
    rows = (
        OutboxMessage.objects.filter(notification=notification, subscriber__isnull=False)
        .values_list("channel")
        .annotate(n=Count("pk"))
    )
    return {channel: n for channel, n in rows}


def _queue_staff(notification: Notification) -> dict:
    # Backup-only channels (a team's SMS or e-mail after its chat room) wait for a failure.
    backups = backup_only_endpoint_ids()
    endpoints = list(
        ChannelEndpoint.objects.filter(ChannelEndpoint.receiving()).exclude(pk__in=backups)
    )
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                channel=endpoint.channel,
                recipient=endpoint.target,
                category=Category.INTERNAL,
                notification=notification,
                endpoint=endpoint,
                incident_id=notification.incident_id,
                dedupe_key=f"n{notification.pk}:e{endpoint.pk}",
            )
            for endpoint in endpoints
        ],
        ignore_conflicts=True,
    )
    # Count the rows, not the endpoints: a conflict (already queued) inserted nothing.
    queued = OutboxMessage.objects.filter(notification=notification, endpoint__isnull=False).count()
    return {"staff": queued} if queued else {}


def _record_summary(notification: Notification) -> None:
    """One 'messages sent' timeline entry per notification, not one per message."""
    from tideover.incidents.services import record_timeline_event

    if notification.incident is None:
        return
    counts = notification.counts or {}
    staff = counts.get("staff", 0)
    public = {k: v for k, v in counts.items() if k != "staff"}
    parts = [f"{n} {k}" for k, n in sorted(public.items())]
    text = f"Queued {sum(public.values())} subscriber message(s)"
    if parts:
        text += f" ({', '.join(parts)})"
    text += f" and {staff} staff channel message(s)"
    if notification.is_drill:
        text += "; drill: the public gets nothing"
    record_timeline_event(
        notification.incident,
        "messages",
        text + ".",
        at=notification.at,
        data={"notification": notification.pk, "event": notification.event, "counts": counts},
    )


def wake_workers(queued: int = 1) -> None:
    """Wake workers after commit (the periodic drain picks up anything this misses): one drain
    task per batch of messages, up to NOTIFY_WAKE_TASKS, so a large update is sent by several
    workers at once on either task backend."""
    if not settings.NOTIFY_ENQUEUE_TASKS:
        return
    from django.db import transaction

    from tideover.notifications.tasks import deliver_outbox

    batches = -(-max(queued, 1) // max(settings.NOTIFY_BATCH_SIZE, 1))
    tasks = max(1, min(settings.NOTIFY_WAKE_TASKS, batches))

    def wake():
        try:
            for _ in range(tasks):
                deliver_outbox.enqueue()
        except Exception:
            # The queue is down (Redis on RQ): what was committed stays committed, and the
            # periodic drain sends the messages once a worker runs; the caller is not failed.
            log.warning("could not wake the workers; the periodic drain will send the messages")

    transaction.on_commit(wake)
