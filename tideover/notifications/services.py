"""The notifications services other apps call, gathered in one import.

Each lives in the module named after its responsibility: ``signup.py`` (subscribe, confirm,
unsubscribe), ``member_messages.py`` (loyalty and goodwill messages, quiet hours), ``fanout.py``
(incident events into the outbox), ``outbox.py`` and ``delivery.py`` (sending), ``staff_actions.py``
(retry a message, staff channels) and ``channels/`` (one package per channel).
"""

from __future__ import annotations

from tideover.notifications.member_messages import (
    next_allowed_time,
    on_member_event,
    parse_quiet_hours,
    queue_member_message,
)
from tideover.notifications.outbox import queue_staff_messages
from tideover.notifications.signup import confirm_email, confirm_sms, subscribe, unsubscribe
from tideover.notifications.teams import first_receiving_channel

__all__ = [
    "confirm_email",
    "confirm_sms",
    "first_receiving_channel",
    "next_allowed_time",
    "on_member_event",
    "parse_quiet_hours",
    "queue_member_message",
    "queue_staff_messages",
    "subscribe",
    "unsubscribe",
]
