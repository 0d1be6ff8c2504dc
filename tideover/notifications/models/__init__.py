"""Who hears about incidents, and every message sent to them (the outbox), in three rooms:
``subscribers`` (the public's sign-ups), ``staff`` (staff channels and teams) and ``outbox``
(notifications and the messages sent of them). Import from here."""

from tideover.notifications.models.outbox import (
    Category,
    DeliveryAttempt,
    DeliveryTally,
    MessageState,
    Notification,
    OutboxClaim,
    OutboxMessage,
    SendSlot,
    out_of_queue,
    queued_again,
)
from tideover.notifications.models.staff import (
    BriefingFallback,
    CadenceReminder,
    ChannelEndpoint,
    StaffTeam,
    TeamChannel,
)
from tideover.notifications.models.subscribers import (
    InboundMessage,
    RateLimitCounter,
    SmsOptOut,
    Subscriber,
    SubscriberState,
    Subscription,
    channel_choices,
    new_token,
)

__all__ = [
    "BriefingFallback",
    "CadenceReminder",
    "Category",
    "ChannelEndpoint",
    "DeliveryAttempt",
    "DeliveryTally",
    "InboundMessage",
    "MessageState",
    "Notification",
    "OutboxClaim",
    "OutboxMessage",
    "RateLimitCounter",
    "SendSlot",
    "SmsOptOut",
    "StaffTeam",
    "Subscriber",
    "SubscriberState",
    "Subscription",
    "TeamChannel",
    "channel_choices",
    "new_token",
    "out_of_queue",
    "queued_again",
]
