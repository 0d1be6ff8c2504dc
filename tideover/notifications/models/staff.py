"""Staff channels (chat rooms, lists, webhooks, phones), their teams and the briefings handed from one
channel to the next, and the commander's cadence reminders."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tideover.notifications.models.subscribers import channel_choices, new_token


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
    failed = models.ForeignKey(
        "notifications.OutboxMessage", on_delete=models.CASCADE, related_name="+"
    )
    fallback = models.ForeignKey(
        "notifications.OutboxMessage", on_delete=models.CASCADE, related_name="+"
    )
    error = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["failed", "team"], name="fallback_once_per_team")
        ]

    def __str__(self) -> str:
        return f"fallback {self.failed_id} → {self.fallback_id}"


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
