"""What was said (a notification) and every message sent of it: the outbox, its claims, attempts,
sending slots and the tallies pruning leaves behind."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tideover.notifications.models.staff import ChannelEndpoint
from tideover.notifications.models.subscribers import Subscriber, channel_choices


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
    dedupe_key = models.CharField(max_length=200)  # unique: Meta.constraints
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
            # A constraint, not ``unique=True``: on PostgreSQL that adds a second index (for
            # LIKE) which every claim had to write too; a query by a key's prefix also names an
            # incident or an id range, which are indexed.
            models.UniqueConstraint(fields=["dedupe_key"], name="outbox_dedupe_key"),
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


class SendSlot(models.Model):
    """Next free sending moment per rate-limited key (e.g. one SMS sending number)."""

    key = models.CharField(max_length=100, unique=True)
    next_free_at = models.FloatField(default=0.0, help_text="Unix seconds")

    def __str__(self) -> str:
        return self.key


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
