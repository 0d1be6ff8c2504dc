"""Who hears about incidents, and every message sent to them (the outbox)."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
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


class ChannelEndpoint(models.Model):
    """An internal staff channel: a chat room (apprise URL), an e-mail list, a webhook, a phone."""

    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=10, choices=channel_choices)
    target = models.CharField(
        max_length=1000,
        help_text="apprise URL (slack://..., msteams://...), e-mail address, webhook URL or phone",
    )
    secret = models.CharField(max_length=64, blank=True, default=new_token)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A webhook gets nothing until its endpoint answered a signed challenge (verification.py),
    # like a public webhook subscription; other kinds need no such proof.
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def awaits_verification(self) -> bool:
        return self.channel == "webhook" and self.verified_at is None

    @staticmethod
    def receiving(prefix: str = "") -> models.Q:
        """The endpoints that may be sent to: on, and verified if a webhook (``prefix`` for a
        lookup through a relation, e.g. ``"endpoint__"``)."""
        return models.Q(**{f"{prefix}is_active": True}) & ~models.Q(
            **{f"{prefix}channel": "webhook", f"{prefix}verified_at__isnull": True}
        )


class Notification(models.Model):
    """What one event says: shared by every message it fans out to (bodies render per channel)."""

    event = models.CharField(max_length=40)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    title = models.CharField(max_length=200)
    headline = models.CharField(max_length=200, help_text="e.g. 'Identified', 'Resolved'")
    body = models.TextField(blank=True, help_text="The public text")
    internal_note = models.TextField(blank=True)
    talking_points = models.TextField(blank=True)
    components = models.JSONField(default=list)
    is_drill = models.BooleanField(default=False)
    public_update_id = models.BigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, help_text="Messages queued per channel")

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["incident", "at"])]

    def __str__(self) -> str:
        return f"{self.event}: {self.title}"


class Category(models.TextChoices):
    STATUS = "status", "Status update"
    INTERNAL = "internal", "Internal"
    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


class MessageState(models.TextChoices):
    QUEUED = "queued", "Queued"
    CLAIMED = "claimed", "Claimed by a worker"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


def queued_again(due_at) -> dict:
    """What a message going back into the queue is updated with: queued, due at ``due_at``,
    no worker's claim or lease. A queued row must have a due time: ``outbox_due`` is how claims
    find it, and the ``outbox_queued_has_due_time`` constraint refuses one without."""
    return {
        "state": MessageState.QUEUED,
        "next_attempt_at": due_at,
        "claim_token": "",
        "lease_until": None,
    }


def out_of_queue(state: str) -> dict:
    """What a message leaving the queue for good (failed, cancelled) is updated with: no due
    time (so it leaves ``outbox_due``), no claim, no lease."""
    return {"state": state, "next_attempt_at": None, "claim_token": "", "lease_until": None}


class OutboxMessage(models.Model):
    """One message to one recipient on one channel; sent at most once per dedupe key."""

    channel = models.CharField(max_length=10, choices=channel_choices)
    recipient = models.CharField(max_length=1000)
    category = models.CharField(max_length=14, choices=Category.choices, default=Category.STATUS)
    # Indexed only where set (Meta.indexes): a direct or campaign message has none of these.
    notification = models.ForeignKey(
        Notification,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    subscriber = models.ForeignKey(
        Subscriber,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    endpoint = models.ForeignKey(
        ChannelEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    incident_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True, help_text="Empty: rendered from the notification")
    dedupe_key = models.CharField(max_length=200, unique=True)
    state = models.CharField(
        max_length=10, choices=MessageState.choices, default=MessageState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a queued message is next due; empty once it has left the queue (claimed, sent,
    # failed, cancelled), so that only the claim changes a column an index names (Meta).
    next_attempt_at = models.DateTimeField(default=timezone.now, null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Partial indexes where most rows hold nothing (a goodwill campaign queues a million
        # rows with no notification, subscriber, endpoint or provider id): a query by
        # one of these values names it, so the index still serves it (on SQLite a '' test
        # must be in the query too: ``.exclude(provider_message_id="")``).
        #
        # No index names a state a worker's row is in while it is being sent (claimed,
        # sending) or its claim token: every statement of delivery finds its rows by primary
        # key. With such an index, PostgreSQL, whose statistics were taken while no row was
        # claimed, estimated "state = 'claimed'" at one row and scanned every claimed row, dead
        # versions too, for each message it marked (about a third of its CPU per message).
        #
        # No index names a column that the marks of delivery change (state, lease; the provider
        # id of e-mails and webhooks stays empty): on PostgreSQL their updates are then
        # "heap-only" (HOT), the new row version written on the same page and no index touched;
        # on SQLite no index is written either. A row leaves ``outbox_due`` when its claim
        # empties next_attempt_at; rows a worker holds are found through OutboxClaim.
        indexes = [
            # What workers claim: due, queued rows in the order they are sent.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(next_attempt_at__isnull=False),
                name="outbox_due",
            ),
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="outbox_provider_id",
            ),
            models.Index(
                fields=["notification"],
                condition=Q(notification__isnull=False),
                name="outbox_notification",
            ),
            models.Index(
                fields=["subscriber"],
                condition=Q(subscriber__isnull=False),
                name="outbox_subscriber",
            ),
            models.Index(
                fields=["endpoint"], condition=Q(endpoint__isnull=False), name="outbox_endpoint"
            ),
        ]
        constraints = [
            # A queued message without a time would never be claimed.
            models.CheckConstraint(
                condition=~Q(state="queued") | Q(next_attempt_at__isnull=False),
                name="outbox_queued_has_due_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} message #{self.pk} ({self.state})"


class OutboxClaim(models.Model):
    """A batch a worker claimed: its rows, found by primary key when the worker may have died.

    Deleted when the batch is done; one left behind names the rows to check for an expired
    lease (outbox.recover_expired_leases). It stands in for an index on the outbox's lease,
    which every mark would have had to update."""

    token = models.CharField(max_length=32, primary_key=True)
    message_ids = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"claim {self.token} ({len(self.message_ids)} messages)"


class DeliveryAttempt(models.Model):
    """A failed or uncertain attempt (successes live on the message itself, to keep sends cheap)."""

    message = models.ForeignKey(
        OutboxMessage, on_delete=models.CASCADE, related_name="attempts_log"
    )
    at = models.DateTimeField(default=timezone.now)
    permanent = models.BooleanField(default=False)
    error = models.CharField(max_length=500)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"attempt on message {self.message_id} at {self.at:%H:%M:%S}"


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


class CadenceReminder(models.Model):
    """One reminder per incident per overdue period; the constraint keeps two workers honest."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    period = models.PositiveIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "due_at", "period"], name="reminder_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"reminder {self.incident_id} period {self.period}"


class SendSlot(models.Model):
    """Next free sending moment per rate-limited key (e.g. one SMS sending number)."""

    key = models.CharField(max_length=100, unique=True)
    next_free_at = models.FloatField(default=0.0, help_text="Unix seconds")

    def __str__(self) -> str:
        return self.key


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


class DeliveryTally(models.Model):
    """How many messages of one notification (or incident) ended in each state on each channel,
        for messages that pruning removed (notifications/pruning.py): the delivery log and the
        postmortem add these to the rows still present, so totals survive the retention. One row per
    (notification, incident, category, channel, state); pruning is a periodic job, and each of
    its batches locks the rows it tallies, so two runs never tally the same message."""

    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.CASCADE, related_name="tallies"
    )
    incident_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Public or staff, as the messages were ('' for tallies kept before categories were).
    category = models.CharField(max_length=14, choices=Category.choices, blank=True, default="")
    channel = models.CharField(max_length=10, choices=channel_choices)
    state = models.CharField(max_length=10, choices=MessageState.choices)
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.channel} {self.state}: {self.count}"


class StaffTeam(models.Model):
    """A team staff briefings must reach (store ops, customer service, social), with the staff
    channels to try in order: the first is used; the next only when one fails."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamChannel(models.Model):
    team = models.ForeignKey(StaffTeam, on_delete=models.CASCADE, related_name="channels")
    endpoint = models.ForeignKey(ChannelEndpoint, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(help_text="1 is tried first")

    class Meta:
        ordering = ["team", "position"]
        constraints = [
            models.UniqueConstraint(fields=["team", "position"], name="team_channel_position"),
            models.UniqueConstraint(fields=["team", "endpoint"], name="team_channel_once"),
        ]

    def __str__(self) -> str:
        return f"{self.team} #{self.position}: {self.endpoint}"


class BriefingFallback(models.Model):
    """A staff message that failed and the next channel in the team's order that took over."""

    team = models.ForeignKey(StaffTeam, on_delete=models.CASCADE, related_name="+")
    failed = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="+")
    fallback = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="+")
    error = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["failed", "team"], name="fallback_once_per_team")
        ]

    def __str__(self) -> str:
        return f"fallback {self.failed_id} → {self.fallback_id}"
