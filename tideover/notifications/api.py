"""/api/v1/notifications: subscribers, the delivery log, retry and update previews."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from tideover.core.api_auth import access
from tideover.core.clientip import client_ip
from tideover.core.errors import DomainError, NotFound
from tideover.core.models import Component, TokenScope
from tideover.core.roles import Capability
from tideover.core.schemas import InputSchema
from tideover.notifications import signup, staff_actions, verification
from tideover.notifications.models import OutboxMessage, Subscriber
from tideover.notifications.rendering import preview
from tideover.notifications.views_console import draft_notification, mask

PREFIX = "/notifications"
router = Router(tags=["notifications"])

WRITE = {"scope": TokenScope.SUBSCRIBERS_WRITE, "capability": Capability.MANAGE_CHANNELS}
READ = {"scope": TokenScope.SUBSCRIBERS_WRITE, "capability": Capability.VIEW_DELIVERY}


class SubscribeIn(InputSchema):
    channel: str
    address: str
    components: list[str] = []


class SubscriberOut(Schema):
    id: int
    channel: str
    state: str
    all_components: bool
    secret: str | None = None


class MessageOut(Schema):
    id: int
    channel: str
    recipient: str
    category: str
    state: str
    attempts: int
    last_error: str
    incident_id: int | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class PreviewIn(InputSchema):
    incident_id: int
    body: str
    state: str = ""


@router.post(
    "/subscribers", response={200: SubscriberOut, 201: SubscriberOut}, auth=access(**WRITE)
)
def create_subscriber(request, payload: SubscribeIn):
    """Subscribe an address: e-mail gets a confirmation link, SMS a code; a webhook gets its
    secret and stays pending until ``POST .../verify`` sees its endpoint answer the challenge.

    201 with the webhook secret for a new subscriber; 200 without it when the address was
    already subscribed (the secret is only ever shown to whoever created it).
    """
    found = {c.slug: c for c in Component.objects.filter(slug__in=payload.components)}
    missing = sorted(set(payload.components) - set(found))
    if missing:
        raise NotFound(f"No component {', '.join(missing)}")
    subscriber = signup.subscribe(
        channel=payload.channel,
        address=payload.address,
        components=list(found.values()),
        ip=client_ip(request),
        source="api",
        # A token holder is not the anonymous public: their sign-ups (an import, a partner's
        # integration) must not use up the per-network and per-country limits shoppers share.
        authorised=True,
    )
    is_new = getattr(subscriber, "is_new", False)
    return Status(
        201 if is_new else 200,
        {
            "id": subscriber.pk,
            "channel": subscriber.channel,
            "state": subscriber.state,
            "all_components": subscriber.all_components,
            "secret": (subscriber.secret or None) if is_new else None,
        },
    )


@router.post(
    "/subscribers/{int:subscriber_id}/verify", response=SubscriberOut, auth=access(**WRITE)
)
def verify_subscriber(request, subscriber_id: int):
    """Send a pending webhook its signed challenge; it turns active when the endpoint answers
    2xx with the HMAC of the challenge under its secret in its body (400 saying what went
    wrong otherwise)."""
    subscriber = get_object_or_404(Subscriber, pk=subscriber_id)
    if subscriber.channel != "webhook":
        raise DomainError("Only webhook subscriptions are verified this way", field="channel")
    subscriber = verification.verify_webhook(subscriber.token, authorised=True)
    return {
        "id": subscriber.pk,
        "channel": subscriber.channel,
        "state": subscriber.state,
        "all_components": subscriber.all_components,
        "secret": None,
    }


@router.delete("/subscribers/{int:subscriber_id}", response={204: None}, auth=access(**WRITE))
def delete_subscriber(request, subscriber_id: int):
    """Unsubscribe (the subscriber gets nothing more)."""
    subscriber = get_object_or_404(Subscriber, pk=subscriber_id)
    signup.unsubscribe(subscriber.token)
    return Status(204, None)


@router.get("/subscribers/counts", auth=access(**READ))
def subscriber_counts(request):
    """Subscribers by channel and state (no personal data)."""
    rows = Subscriber.objects.values("channel", "state").annotate(n=Count("pk"))
    result: dict = {}
    for row in rows:
        result.setdefault(row["channel"], {})[row["state"]] = row["n"]
    return result


@router.get("/messages", response=list[MessageOut], auth=access(**READ))
def list_messages(request, incident: int | None = None, state: str | None = None, limit: int = 100):
    """The delivery log, newest first; recipients are masked unless the role may see contacts."""
    caller = request.auth
    query = OutboxMessage.objects.order_by("-created_at", "-pk")
    if incident is not None:
        query = query.filter(incident_id=incident)
    if state:
        query = query.filter(state=state)
    rows = list(query[: max(1, min(limit, 1000))])
    for row in rows:
        _mask_unless_allowed(caller, row)
    return rows


def _mask_unless_allowed(caller, row: OutboxMessage) -> OutboxMessage:
    """Tokens and roles without contact access see the kind of address, not the address."""
    from tideover.core.roles import has_capability

    contacts = not hasattr(caller, "scopes") and has_capability(
        caller, Capability.VIEW_SUBSCRIBER_CONTACTS
    )
    if not contacts:
        row.recipient = mask(row.recipient, row.channel)
    return row


@router.post("/messages/{int:message_id}/retry", response=MessageOut, auth=access(**WRITE))
def retry(request, message_id: int):
    """Queue a failed, cancelled or stuck message again."""
    caller = request.auth
    # The answer is the same row the delivery log shows, masked the same way.
    return _mask_unless_allowed(caller, staff_actions.retry_message(message_id))


@router.post(
    "/preview",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.POST_PUBLIC_UPDATE),
)
def preview_update(request, payload: PreviewIn):
    """How an update will read on SMS (length, segments), e-mail and chat, before posting it."""
    from tideover.incidents.models import Incident

    incident = Incident.objects.filter(pk=payload.incident_id).first()
    if incident is None:
        raise NotFound(f"No incident #{payload.incident_id}")
    return preview(draft_notification(incident, payload.body, payload.state))
