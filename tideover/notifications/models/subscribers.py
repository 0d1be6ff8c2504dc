"""Subscribers and what they follow, SMS opt-outs and replies, and the sign-up rate limits' counters."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone

from tideover.core.models import Component


def new_token() -> str:
    return secrets.token_urlsafe(24)


def channel_choices() -> list[tuple[str, str]]:
    """Every channel package's name and label (channels/): a callable, so adding a channel
    changes no model and needs no migration."""
    from tideover.notifications import channels

    return channels.choices()


class SubscriberState(models.TextChoices):
    PENDING = "pending", "Waiting for confirmation"
    ACTIVE = "active", "Active"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


class Subscriber(models.Model):
    """A member of the public who asked to hear about incidents on one channel."""

    channel = models.CharField(max_length=10, choices=channel_choices)
    address = models.CharField(max_length=500, help_text="E-mail, E.164 number or webhook URL")
    state = models.CharField(
        max_length=14, choices=SubscriberState.choices, default=SubscriberState.PENDING
    )
    all_components = models.BooleanField(default=True)
    components = models.ManyToManyField(
        Component, through="Subscription", blank=True, related_name="+"
    )
    # Unguessable: it is the key to the confirm and one-click unsubscribe links.
    token = models.CharField(max_length=64, unique=True, default=new_token)
    secret = models.CharField(max_length=64, blank=True, help_text="Webhook signing secret")
    confirm_code_hash = models.CharField(max_length=64, blank=True)
    confirm_attempts = models.PositiveSmallIntegerField(default=0)
    country = models.CharField(max_length=2, blank=True)
    source = models.CharField(max_length=20, default="web", help_text="web, api or demo")
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # Unsubscribed by a STOP reply while active: START turns it back on. A sign-up that was
    # still pending, or one unsubscribed by its link, stays off.
    stopped_by_reply = models.BooleanField(default=False)
    # Another spelling of a mailbox signed up before addresses were kept in lower case
    # (migration 0009): its links in mail already sent act on this subscriber instead.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="subscriber_once")
        ]
        indexes = [models.Index(fields=["state", "channel"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} subscriber #{self.pk}"


class Subscription(models.Model):
    """One chosen component of a subscriber who does not follow them all."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE)
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "component"], name="subscription_once")
        ]
        indexes = [models.Index(fields=["component", "subscriber"])]

    def __str__(self) -> str:
        return f"subscriber {self.subscriber_id} follows component {self.component_id}"


class InboundMessage(models.Model):
    """An SMS reply (STOP, HELP, START...) received through the provider's webhook."""

    provider_message_id = models.CharField(max_length=100, blank=True)
    sender = models.CharField(max_length=20, help_text="E.164")
    body = models.CharField(max_length=1600)
    keyword = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"inbound {self.keyword or 'message'} #{self.pk}"


class SmsOptOut(models.Model):
    """A number that replied STOP: no status or marketing SMS goes to it until it says START."""

    phone = models.CharField(max_length=20, unique=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"opt-out #{self.pk}"


class RateLimitCounter(models.Model):
    """One fixed-window counter of tideover.notifications.ratelimit (when not on Redis).

    ``key`` names the limit and an HMAC of who is counted, never the address itself.
    """

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.FloatField(help_text="Unix seconds when the window ends", db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
