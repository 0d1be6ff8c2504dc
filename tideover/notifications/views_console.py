"""Console pages: subscribers, the delivery log with retry, staff channels, update preview."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.errors import DomainError
from tideover.core.models import Component
from tideover.core.roles import Capability, has_capability
from tideover.core.text import is_row_id
from tideover.notifications import outbox, staff_actions, verification
from tideover.notifications.forms import EndpointForm
from tideover.notifications.models import (
    ChannelEndpoint,
    MessageState,
    Notification,
    OutboxMessage,
    Subscriber,
    SubscriberState,
    Subscription,
)
from tideover.notifications.pruning import delivery_counts
from tideover.notifications.rendering import preview


def mask(address: str, channel: str) -> str:
    """What roles without contact access see: the kind of address, not the address.

    Decided by the channel, not by the look of the address: a webhook URL may hold an '@'
    (``https://user:pw@host/...``) and its path and query are often its secret, so a URL shows
    only its scheme and host (a chat URL, whose "host" is often a token, only its scheme)."""
    if channel == "email":
        local, at, domain = address.rpartition("@")
        return f"•••@{domain}" if at and local else "•••"
    if channel == "sms":
        return address[:3] + "•••" + address[-2:] if len(address) > 7 else "•••"
    try:
        parts = urlsplit(address)
        host = parts.hostname if channel == "webhook" else None
    except ValueError:
        return "•••"
    if host and ":" in host:
        host = f"[{host}]"  # an IPv6 address, written as in a URL
    if parts.scheme and "://" in address:
        return f"{parts.scheme}://{host or '•••'}"
    return "•••"


@capability_required(Capability.VIEW_DELIVERY)
def subscribers(request):
    by_channel = (
        Subscriber.objects.values("channel", "state").annotate(n=Count("pk")).order_by("channel")
    )
    active = Subscriber.objects.filter(state=SubscriberState.ACTIVE)
    everything = active.filter(all_components=True).count()
    chosen = dict(
        Subscription.objects.filter(subscriber__state=SubscriberState.ACTIVE)
        .values_list("component_id")
        .annotate(n=Count("pk"))
    )
    components = [
        {"name": c.name, "chosen": chosen.get(c.pk, 0), "total": chosen.get(c.pk, 0) + everything}
        for c in Component.objects.all()
    ]
    show_contacts = has_capability(request.user, Capability.VIEW_SUBSCRIBER_CONTACTS)
    latest = list(Subscriber.objects.order_by("-created_at", "-pk")[:50])
    for sub in latest:
        sub.shown = sub.address if show_contacts else mask(sub.address, sub.channel)
    return render(
        request,
        "notifications/console/subscribers.html",
        {
            "by_channel": by_channel,
            "everything": everything,
            "components": components,
            "latest": latest,
            "show_contacts": show_contacts,
        },
    )


@capability_required(Capability.VIEW_DELIVERY)
def delivery(request):
    query = OutboxMessage.objects.all()
    incident_id = request.GET.get("incident", "").strip()
    incident_id = incident_id if is_row_id(incident_id) else ""
    state = request.GET.get("state", "")
    if incident_id:
        query = query.filter(incident_id=int(incident_id))
    if state in MessageState.values:
        query = query.filter(state=state)
    # Totals include messages pruned after PRUNE_MESSAGES_DAYS (kept as tallies).
    counts = delivery_counts(
        int(incident_id) if incident_id else None,
        state if state in MessageState.values else "",
    )
    rows = list(query.order_by("-created_at", "-pk")[:200])
    show_contacts = has_capability(request.user, Capability.VIEW_SUBSCRIBER_CONTACTS)
    for row in rows:
        row.shown = row.recipient if show_contacts else mask(row.recipient, row.channel)
        row.retryable = row.state in (
            MessageState.FAILED,
            MessageState.CANCELLED,
            MessageState.QUEUED,
            MessageState.SENDING,
        )
    notifications = Notification.objects.filter(incident_id=int(incident_id)) if incident_id else []
    return render(
        request,
        "notifications/console/delivery.html",
        {
            "rows": rows,
            "counts": counts,
            "states": MessageState.choices,
            "incident_id": incident_id,
            "state": state,
            "notifications": notifications,
            "can_retry": has_capability(request.user, Capability.MANAGE_CHANNELS),
            "stuck": outbox.held_count(),
        },
    )


@capability_required(Capability.MANAGE_CHANNELS)
@require_POST
def retry(request, message_id):
    try:
        staff_actions.retry_message(message_id)
        messages.success(request, f"Message #{message_id} is queued again.")
    except DomainError as exc:
        messages.error(request, exc.message)
    # "next" brings staff back to the filtered log they came from; only ever to this site.
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(target if target and safe else "notifications:delivery")


@capability_required(Capability.MANAGE_CHANNELS)
def channels(request):
    form = EndpointForm(request.POST or None)
    status, new_webhook = 200, None
    if request.method == "POST":
        if form.is_valid():
            try:
                added = staff_actions.add_endpoint(**form.cleaned_data)
            except DomainError as exc:
                form.add_error("target" if exc.field == "target" else None, exc.message)
                status = exc.status_code
            else:
                if not added.awaits_verification:
                    messages.success(request, "Channel added.")
                    return redirect("notifications:channels")
                # A webhook's signing secret is shown once, here, like a public sign-up's.
                form, new_webhook = EndpointForm(), added
        else:
            status = 400
    return render(
        request,
        "notifications/console/channels.html",
        {"form": form, "endpoints": ChannelEndpoint.objects.all(), "new_webhook": new_webhook},
        status=status,
    )


@capability_required(Capability.MANAGE_CHANNELS)
@require_POST
def channel_verify(request, endpoint_id):
    endpoint = get_object_or_404(ChannelEndpoint, pk=endpoint_id)
    try:
        verification.verify_endpoint(endpoint)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"'{endpoint.name}' answered its challenge: it is verified.")
    return redirect("notifications:channels")


@capability_required(Capability.MANAGE_CHANNELS)
@require_POST
def channel_test(request, endpoint_id):
    endpoint = get_object_or_404(ChannelEndpoint, pk=endpoint_id)
    try:
        message = staff_actions.send_test(endpoint)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Test message #{message.pk} queued; see the delivery log.")
    return redirect("notifications:channels")


@capability_required(Capability.MANAGE_CHANNELS)
@require_POST
def channel_toggle(request, endpoint_id):
    endpoint = get_object_or_404(ChannelEndpoint, pk=endpoint_id)
    endpoint.is_active = not endpoint.is_active
    endpoint.save(update_fields=["is_active"])
    return redirect("notifications:channels")


@capability_required(Capability.POST_PUBLIC_UPDATE)
def preview_update(request, incident_id):
    """The update as each channel would carry it, in the incident page's own update form: its
    states to choose from and a button that posts exactly what was previewed."""
    from tideover.incidents.forms import PublicUpdateForm
    from tideover.incidents.models import Incident

    incident = get_object_or_404(Incident, pk=incident_id)
    data = request.POST or request.GET or None
    form = PublicUpdateForm(incident, data, user=request.user)
    shown = None
    if form.is_bound and form.is_valid():
        state = form.cleaned_data.get("state") or ""
        shown = preview(draft_notification(incident, form.cleaned_data["body"], state))
    return render(
        request,
        "notifications/console/preview.html",
        {"incident": incident, "form": form, "preview": shown},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def draft_notification(incident, body: str, state: str = "") -> Notification:
    """An unsaved notification as the update would produce it (for previews)."""
    from tideover.incidents.models import IncidentState

    headline = (
        IncidentState(state).label
        if state in IncidentState.values
        else incident.get_state_display()
    )
    return Notification(
        event="incident.public_update",
        incident=incident,
        title=incident.title,
        headline=headline,
        body=body,
        is_drill=incident.is_drill,
        components=[
            {"slug": a.component.slug, "name": a.component.name, "status": a.status}
            for a in incident.affected_components.select_related("component")
        ],
    )
